/** Audit log reads: who (key), what (action), which resource, when — newest first. */
import { z } from "@hono/zod-openapi";
import { and, desc, eq, lt } from "drizzle-orm";
import { schema } from "../../db/client";
import { idPattern } from "../../lib/ids";
import { decodeCursor, page } from "../../lib/pagination";
import type { Verb } from "../context";

export const AuditEntrySchema = z
  .object({
    id: z.string(),
    key_id: z.string().nullable().openapi({ description: "The API key that made the change; null for system work." }),
    action: z.string().openapi({ example: "asset.create" }),
    resource_type: z.string(),
    resource_id: z.string(),
    request_id: z.string().nullable().openapi({ description: "The server-generated ID of the request." }),
    client_request_id: z
      .string()
      .nullable()
      .openapi({ description: "The `X-Request-Id` the caller sent, if any (never used as `request_id`)." }),
    details: z.record(z.string(), z.unknown()).nullable(),
    created_at: z.string(),
  })
  .openapi("AuditEntry");

export interface ListAuditInput {
  limit: number;
  cursor?: string;
  resource_id?: string;
  action?: string;
}

export async function listAuditLog({ ctx, input }: Verb<ListAuditInput>) {
  const after = decodeCursor(input.cursor, idPattern("audit"));
  const a = schema.auditLog;
  const rows = await ctx.db
    .select()
    .from(a)
    .where(
      and(
        eq(a.environmentId, ctx.caller.environmentId),
        input.resource_id ? eq(a.resourceId, input.resource_id) : undefined,
        input.action ? eq(a.action, input.action) : undefined,
        after ? lt(a.id, after) : undefined,
      ),
    )
    .orderBy(desc(a.id))
    .limit(input.limit + 1);
  const { rows: pageRows, nextCursor } = page(rows, input.limit);
  return {
    data: pageRows.map((r) => ({
      id: r.id,
      key_id: r.keyId,
      action: r.action,
      resource_type: r.resourceType,
      resource_id: r.resourceId,
      request_id: r.requestId,
      client_request_id: r.clientRequestId,
      details: r.details,
      created_at: r.createdAt,
    })),
    next_cursor: nextCursor,
  };
}
