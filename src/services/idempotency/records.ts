/**
 * The idempotency records behind the Idempotency-Key middleware (src/middleware/idempotency.ts says what the
 * header promises). A record belongs to one API key in one environment; these are its only reads and writes.
 */
import { and, eq, lt } from "drizzle-orm";
import { schema } from "../../db/client";
import { isoIn, nowIso } from "../../lib/time";
import type { ServiceContext } from "../context";

export const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;

export type IdempotencyRecord = typeof schema.idempotencyRecords.$inferSelect;

export interface IdempotencyRequest {
  key: string;
  method: string;
  path: string;
  bodyHash: string;
}

const r = schema.idempotencyRecords;

function whereKey(ctx: ServiceContext, key: string) {
  // Only API-key callers reach /v1 routes; "" would be a system caller, which never sends the header.
  return and(eq(r.environmentId, ctx.caller.environmentId), eq(r.apiKeyId, ctx.caller.keyId ?? ""), eq(r.key, key));
}

/** Claims the key atomically for this request (INSERT … ON CONFLICT DO NOTHING); false if someone holds it. */
export async function claimIdempotencyKey(ctx: ServiceContext, req: IdempotencyRequest): Promise<boolean> {
  const claim = () =>
    ctx.db
      .insert(r)
      .values({
        environmentId: ctx.caller.environmentId,
        apiKeyId: ctx.caller.keyId ?? "",
        key: req.key,
        method: req.method,
        path: req.path,
        bodyHash: req.bodyHash,
        status: "in_progress",
        expiresAt: isoIn(IDEMPOTENCY_TTL_MS),
      })
      .onConflictDoNothing()
      .returning({ key: r.key });
  let claimed = await claim();
  if (claimed.length === 0) {
    // An expired record is as good as none (the GC sweep may not have run yet).
    await ctx.db
      .delete(r)
      .where(and(whereKey(ctx, req.key), lt(r.expiresAt, nowIso())))
      .run();
    claimed = await claim();
  }
  return claimed.length > 0;
}

export async function findIdempotencyRecord(ctx: ServiceContext, key: string): Promise<IdempotencyRecord | undefined> {
  return ctx.db.query.idempotencyRecords.findFirst({ where: whereKey(ctx, key) });
}

/** Frees the key (the request failed: the client may retry it). */
export async function releaseIdempotencyKey(ctx: ServiceContext, key: string): Promise<void> {
  await ctx.db.delete(r).where(whereKey(ctx, key)).run();
}

/** Stores the answer (`body` null: a refused-replay operation's success, whose body held a secret). */
export async function completeIdempotencyKey(
  ctx: ServiceContext,
  key: string,
  status: number,
  body: string | null,
): Promise<void> {
  await ctx.db
    .update(r)
    .set({ status: "completed", responseStatus: status, responseBody: body })
    .where(whereKey(ctx, key))
    .run();
}
