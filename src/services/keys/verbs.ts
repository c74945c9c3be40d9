/** API keys: caller identity and scopes. Secrets are returned once and stored only as a SHA-256 hash. */
import { and, desc, eq, lt } from "drizzle-orm";
import { schema } from "../../db/client";
import { hashKeySecret, newKeySecret } from "../../lib/auth";
import { ForbiddenError, NotFoundError } from "../../lib/errors";
import { idPattern, newId } from "../../lib/ids";
import { decodeCursor, page } from "../../lib/pagination";
import { hasScope, type Scope } from "../../lib/scopes";
import { nowIso } from "../../lib/time";
import type { Verb } from "../context";
import { commit } from "../events/record";
import type { CreateKeyInput } from "./schemas";

type Row = typeof schema.apiKeys.$inferSelect;

function serializeKey(row: Row) {
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes,
    secret_prefix: row.secretPrefix,
    environment_id: row.environmentId,
    created_at: row.createdAt,
    last_used_at: row.lastUsedAt,
    revoked_at: row.revokedAt,
  };
}

export async function createKey({ ctx, input }: Verb<CreateKeyInput>) {
  // A key can only hand out scopes it holds itself: no privilege escalation through key creation.
  for (const s of input.scopes) {
    if (!hasScope(ctx.caller.scopes, s as Scope)) {
      throw new ForbiddenError(`This API key cannot grant the '${s}' scope it does not hold.`);
    }
  }
  const id = newId("apiKey");
  const secret = newKeySecret();
  const scopes = [...new Set(input.scopes)];
  await commit(
    ctx,
    [
      ctx.db.insert(schema.apiKeys).values({
        id,
        environmentId: ctx.caller.environmentId,
        name: input.name,
        secretPrefix: secret.slice(0, 10),
        secretHash: await hashKeySecret(secret),
        scopes,
        createdByKeyId: ctx.caller.keyId,
      }),
    ],
    [],
    [{ action: "key.create", resourceType: "api_key", resourceId: id, details: { scopes } }],
  );
  const row = await ctx.db.query.apiKeys.findFirst({ where: eq(schema.apiKeys.id, id) });
  return { ...serializeKey(row as Row), secret };
}

export async function listKeys({ ctx, input }: Verb<{ limit: number; cursor?: string }>) {
  const after = decodeCursor(input.cursor, idPattern("apiKey"));
  const k = schema.apiKeys;
  const rows = await ctx.db
    .select()
    .from(k)
    .where(and(eq(k.environmentId, ctx.caller.environmentId), after ? lt(k.id, after) : undefined))
    .orderBy(desc(k.id))
    .limit(input.limit + 1);
  const { rows: pageRows, nextCursor } = page(rows, input.limit);
  return { data: pageRows.map(serializeKey), next_cursor: nextCursor };
}

export async function revokeKey({ ctx, input }: Verb<{ keyId: string }>) {
  const row = await ctx.db.query.apiKeys.findFirst({
    where: and(eq(schema.apiKeys.id, input.keyId), eq(schema.apiKeys.environmentId, ctx.caller.environmentId)),
  });
  if (!row) throw new NotFoundError("API key", input.keyId);
  if (row.revokedAt) return;
  await commit(
    ctx,
    [ctx.db.update(schema.apiKeys).set({ revokedAt: nowIso() }).where(eq(schema.apiKeys.id, row.id))],
    [],
    [{ action: "key.revoke", resourceType: "api_key", resourceId: row.id }],
  );
}

/** The calling key itself: what a client (the dashboard, the CLI) needs to know about whom it speaks as. */
export async function getCallerKey({ ctx }: Verb<Record<string, never>>) {
  const keyId = ctx.caller.keyId;
  const row = keyId ? await ctx.db.query.apiKeys.findFirst({ where: eq(schema.apiKeys.id, keyId) }) : undefined;
  if (!row) throw new NotFoundError("API key", keyId ?? "system");
  return serializeKey(row);
}
