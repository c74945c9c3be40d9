/**
 * The pipeline's cron sweep. Finds work that fell through the cracks and puts it back on track:
 * running jobs that stopped heart-beating (retried, or failed once attempts are spent), queued jobs
 * nobody picked up (re-enqueued), and URL-ingest assets whose message was lost (re-enqueued).
 */
import { and, eq, isNotNull, lt, sql } from "drizzle-orm";
import { createDb, schema } from "../../db/client";
import { log } from "../../lib/log";
import { nowIso } from "../../lib/time";
import { enqueueJob } from "./create";
import { cancelJob, failJob, findAsset, requeueAttempt } from "./lifecycle";
import { systemContext } from "./system";

/** A running job silent for this long is presumed dead (the transcoder reports every few seconds). */
export const HEARTBEAT_STALE_MS = 2 * 60_000;
/** A queued job untouched this long was never dispatched (lost message); longer than any retry delay. */
export const QUEUED_STALE_MS = 5 * 60_000;
/** A URL-ingest asset still waiting this long lost its message (ingest itself is bounded by the consumer's 15 min). */
export const INGEST_STALE_MS = 20 * 60_000;
const BATCH = 100;

export interface ReapResult {
  retried: number;
  failed: number;
  requeued: number;
  reingested: number;
}

export async function reapJobs(
  env: Env,
  waitUntil: (p: Promise<unknown>) => void,
  now: number = Date.now(),
): Promise<ReapResult> {
  const db = createDb(env.DB);
  const j = schema.jobs;
  const result: ReapResult = { retried: 0, failed: 0, requeued: 0, reingested: 0 };

  const heartbeatBefore = new Date(now - HEARTBEAT_STALE_MS).toISOString();
  const stalled = await db
    .select()
    .from(j)
    .where(
      and(
        eq(j.status, "running"),
        lt(sql`coalesce(${j.lastHeartbeatAt}, ${j.dispatchedAt}, ${j.updatedAt})`, heartbeatBefore),
      ),
    )
    .limit(BATCH);
  for (const job of stalled) {
    const ctx = systemContext(env, job.environmentId, waitUntil);
    const asset = await findAsset(ctx, job.assetId);
    if (!asset || asset.status === "deleted") {
      await cancelJob(ctx, job.id);
      continue;
    }
    if (job.attempt < job.maxAttempts) {
      const moved = await requeueAttempt(
        ctx,
        job,
        job.attempt,
        { code: "internal_error", message: "The transcoder stopped reporting progress; retrying." },
        { delaySeconds: 0, enqueue: true },
      );
      if (moved) result.retried++;
    } else {
      await failJob(
        ctx,
        job,
        {
          code: "internal_error",
          message: `The transcoder stopped reporting progress and all ${job.maxAttempts} attempts are spent.`,
        },
        job.attempt,
      );
      result.failed++;
    }
  }

  const queuedBefore = new Date(now - QUEUED_STALE_MS).toISOString();
  const idle = await db
    .select({ id: j.id, updatedAt: j.updatedAt })
    .from(j)
    .where(and(eq(j.status, "queued"), lt(j.updatedAt, queuedBefore)))
    .limit(BATCH);
  for (const job of idle) {
    // Touch first (conditionally) so overlapping sweeps enqueue it once; the consumer ignores duplicates anyway.
    const touched = await db
      .update(j)
      .set({ updatedAt: nowIso() })
      .where(and(eq(j.id, job.id), eq(j.status, "queued"), eq(j.updatedAt, job.updatedAt)))
      .returning({ id: j.id });
    if (touched.length === 0) continue;
    await enqueueJob(env, job.id);
    result.requeued++;
  }

  const a = schema.assets;
  const ingestBefore = new Date(now - INGEST_STALE_MS).toISOString();
  const waiting = await db
    .select({ id: a.id, updatedAt: a.updatedAt })
    .from(a)
    .where(and(eq(a.status, "waiting"), isNotNull(a.inputUrl), lt(a.updatedAt, ingestBefore)))
    .limit(BATCH);
  for (const asset of waiting) {
    const touched = await db
      .update(a)
      .set({ updatedAt: nowIso() })
      .where(and(eq(a.id, asset.id), eq(a.status, "waiting"), eq(a.updatedAt, asset.updatedAt)))
      .returning({ id: a.id });
    if (touched.length === 0) continue;
    await env.TRANSCODE_QUEUE.send({ kind: "ingest_url", asset_id: asset.id });
    result.reingested++;
  }

  if (result.retried + result.failed + result.requeued + result.reingested > 0)
    log.info("pipeline_reaped", { ...result });
  return result;
}
