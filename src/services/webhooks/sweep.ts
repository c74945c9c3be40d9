/**
 * Cron sweeps that make delivery survive lost messages: the transactional outbox (events whose
 * fan-out was never recorded), deliveries whose scheduled attempt never arrived, and expired
 * idempotency records.
 */
import { and, asc, inArray, isNull, lt } from "drizzle-orm";
import { createDb, schema } from "../../db/client";
import { nowIso } from "../../lib/time";
import { enqueueDeliveries } from "../../queues/webhook-deliveries";
import { enqueueEvents } from "../events/record";

const SWEEP_LIMIT = 500;
export const OUTBOX_GRACE_MS = 30_000;
export const LOST_DELIVERY_GRACE_MS = 60_000;

/** Events older than 30 s that were never fanned out are enqueued again (fan-out is idempotent). */
export async function sweepOutbox(env: Env, graceMs = OUTBOX_GRACE_MS): Promise<{ requeued: number }> {
  const db = createDb(env.DB);
  const ev = schema.events;
  const cutoff = new Date(Date.now() - graceMs).toISOString();
  const rows = await db
    .select({ id: ev.id })
    .from(ev)
    .where(and(isNull(ev.dispatchedAt), lt(ev.createdAt, cutoff)))
    .orderBy(asc(ev.id))
    .limit(SWEEP_LIMIT);
  for (let i = 0; i < rows.length; i += 100) {
    await enqueueEvents(
      env,
      rows.slice(i, i + 100).map((r) => r.id),
    );
  }
  return { requeued: rows.length };
}

/**
 * Deliveries still pending/retrying a minute after their attempt was due lost their message (or the
 * worker died mid-attempt, past its lease). Re-sending is safe: the attempt claim drops duplicates.
 */
export async function sweepLostDeliveries(env: Env, graceMs = LOST_DELIVERY_GRACE_MS): Promise<{ requeued: number }> {
  const db = createDb(env.DB);
  const d = schema.webhookDeliveries;
  const cutoff = new Date(Date.now() - graceMs).toISOString();
  const rows = await db
    .select({ id: d.id, attempts: d.attempts })
    .from(d)
    .where(and(inArray(d.status, ["pending", "retrying"]), lt(d.nextAttemptAt, cutoff)))
    .orderBy(asc(d.nextAttemptAt))
    .limit(SWEEP_LIMIT);
  await enqueueDeliveries(
    env,
    rows.map((r) => ({ deliveryId: r.id, expectedAttempts: r.attempts })),
  );
  return { requeued: rows.length };
}

export async function sweepIdempotencyRecords(env: Env): Promise<{ deleted: number }> {
  const db = createDb(env.DB);
  const res = await db.delete(schema.idempotencyRecords).where(lt(schema.idempotencyRecords.expiresAt, nowIso())).run();
  return { deleted: res.meta.changes ?? 0 };
}
