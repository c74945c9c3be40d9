/**
 * The job state machine (`queued → running → succeeded | failed`, or `cancelled` when its asset is
 * deleted) and the asset transitions it drives. Every transition is a conditional update on the
 * job's current status and attempt, so concurrent or repeated callers (redelivered messages, repeated
 * callbacks, the reaper racing a late heartbeat) settle on one outcome.
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import { schema } from "../../db/client";
import { log } from "../../lib/log";
import { nowIso } from "../../lib/time";
import type { AssetErrorCode } from "../../lib/transcoder-protocol";
import { assetEventData } from "../assets/load";
import type { ServiceContext } from "../context";
import { settleGeneratedTracks } from "../tracks/generated";
import { enqueueJob } from "./create";
import { commitOnce } from "./system";

export type JobRow = typeof schema.jobs.$inferSelect;
export type AssetRow = typeof schema.assets.$inferSelect;
export interface JobError {
  code: AssetErrorCode;
  message: string;
}

const j = schema.jobs;
const a = schema.assets;

export async function findJob(ctx: Pick<ServiceContext, "db">, jobId: string): Promise<JobRow | undefined> {
  return ctx.db.query.jobs.findFirst({ where: eq(j.id, jobId) });
}

export async function findAsset(ctx: Pick<ServiceContext, "db">, assetId: string): Promise<AssetRow | undefined> {
  return ctx.db.query.assets.findFirst({ where: eq(a.id, assetId) });
}

/**
 * `data` of a pipeline `asset.*` event: the asset as GET will show it once `set` lands on the row read
 * now. The event is inserted only if its guard sees that state after the batch; a row already gone
 * leaves the ids (its event's guard fails: it is never written).
 */
export async function pipelineAssetData(
  ctx: ServiceContext,
  assetId: string,
  set: Partial<AssetRow>,
  ids: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const row = await findAsset(ctx, assetId);
  return row ? assetEventData(ctx, row, set, ids) : ids;
}

/**
 * Claims the next attempt of a queued job: job → running with attempt+1, asset → processing (event
 * `asset.processing` once per job). Returns the new attempt, or null if someone else got there first.
 */
export async function claimAttempt(ctx: ServiceContext, job: JobRow): Promise<number | null> {
  const at = nowIso();
  const next = job.attempt + 1;
  const claimed = await ctx.db
    .update(j)
    .set({
      status: "running",
      attempt: next,
      dispatchedAt: at,
      lastHeartbeatAt: null,
      stage: null,
      percent: null,
      startedAt: job.startedAt ?? at,
      updatedAt: at,
    })
    .where(and(eq(j.id, job.id), eq(j.status, "queued"), eq(j.attempt, job.attempt)))
    .returning({ id: j.id });
  if (claimed.length === 0) return null;
  const processing = { status: "processing" as const, progress: { stage: "starting", percent: 0 }, updatedAt: at };
  const data = await pipelineAssetData(ctx, job.assetId, processing, {
    asset_id: job.assetId,
    job_id: job.id,
    status: "processing",
  });
  await commitOnce(
    ctx,
    [
      ctx.db
        .update(a)
        .set(processing)
        .where(and(eq(a.id, job.assetId), inArray(a.status, ["queued", "processing"]))),
    ],
    [
      {
        event: {
          type: "asset.processing",
          subjectId: job.assetId,
          assetId: job.assetId,
          correlationId: job.correlationId,
          data,
        },
        perJob: job.id,
        guard: sql`EXISTS (SELECT 1 FROM assets WHERE id = ${job.assetId} AND status = 'processing')`,
      },
    ],
  );
  return next;
}

/**
 * Puts a running attempt back in the queue (dispatch failed, retryable failure, lost heartbeat). The
 * attempt number is kept: the next claim takes a fresh one, so the old run's token goes stale.
 * `enqueue` false when the caller retries the queue message itself.
 */
export async function requeueAttempt(
  ctx: ServiceContext,
  job: JobRow,
  attempt: number,
  error: JobError,
  opts: { delaySeconds: number; enqueue: boolean },
): Promise<boolean> {
  const at = nowIso();
  const moved = await ctx.db
    .update(j)
    .set({ status: "queued", error: { ...error, retryable: true }, stage: null, percent: null, updatedAt: at })
    .where(and(eq(j.id, job.id), eq(j.status, "running"), eq(j.attempt, attempt)))
    .returning({ id: j.id });
  if (moved.length === 0) return false;
  await ctx.db
    .update(a)
    .set({ progress: { stage: "retrying", percent: 0 }, updatedAt: at })
    .where(and(eq(a.id, job.assetId), eq(a.status, "processing")));
  if (opts.enqueue) {
    try {
      await enqueueJob(ctx.env, job.id, opts.delaySeconds);
    } catch (err) {
      // The job row says queued; the reaper re-enqueues queued jobs nobody picked up.
      log.warn("job_enqueue_failed", { job_id: job.id, error: (err as Error).message });
    }
  }
  log.info("job_requeued", { job_id: job.id, asset_id: job.assetId, attempt, code: error.code });
  return true;
}

/**
 * Fails a job for good and errors its asset (event `asset.errored` once per asset). An asset already
 * playable from this job's fast path stays `ready`: it just stops waiting for the ladder.
 * `attempt` pins the failure to one run; omit it for system failures (DLQ, reaper).
 */
export async function failJob(ctx: ServiceContext, job: JobRow, error: JobError, attempt?: number): Promise<void> {
  const at = nowIso();
  const errored = { status: "errored" as const, error, progress: null, updatedAt: at };
  const data = await pipelineAssetData(ctx, job.assetId, errored, {
    asset_id: job.assetId,
    job_id: job.id,
    status: "errored",
    error,
  });
  await commitOnce(
    ctx,
    [
      ctx.db
        .update(j)
        .set({ status: "failed", error: { ...error, retryable: false }, finishedAt: at, updatedAt: at })
        .where(
          and(
            eq(j.id, job.id),
            inArray(j.status, ["queued", "running"]),
            attempt === undefined ? undefined : eq(j.attempt, attempt),
          ),
        ),
      ctx.db
        .update(a)
        .set(errored)
        .where(
          and(
            eq(a.id, job.assetId),
            inArray(a.status, ["waiting", "queued", "processing"]),
            sql`EXISTS (SELECT 1 FROM jobs WHERE id = ${job.id} AND status = 'failed')`,
          ),
        ),
      ctx.db
        .update(a)
        .set({ renditionsStatus: "complete", progress: null, updatedAt: at })
        .where(
          and(
            eq(a.id, job.assetId),
            eq(a.status, "ready"),
            eq(a.currentRunId, job.id),
            eq(a.renditionsStatus, "preparing"),
            sql`EXISTS (SELECT 1 FROM jobs WHERE id = ${job.id} AND status = 'failed')`,
          ),
        ),
    ],
    [erroredEvent(job.assetId, job.correlationId, data)],
  );
  await settleGeneratedTracks(ctx, job.assetId);
  log.warn("job_failed", { job_id: job.id, asset_id: job.assetId, code: error.code, message: error.message });
}

/** Errors an asset that never got a job (URL ingest refused or unreachable). */
export async function errorAssetWithoutJob(ctx: ServiceContext, asset: AssetRow, error: JobError): Promise<void> {
  const at = nowIso();
  const errored = { status: "errored" as const, error, progress: null, updatedAt: at };
  const data = await assetEventData(ctx, asset, errored, {
    asset_id: asset.id,
    job_id: null,
    status: "errored",
    error,
  });
  await commitOnce(
    ctx,
    [
      ctx.db
        .update(a)
        .set(errored)
        .where(and(eq(a.id, asset.id), inArray(a.status, ["waiting", "queued"]))),
    ],
    [erroredEvent(asset.id, asset.correlationId, data)],
  );
  await settleGeneratedTracks(ctx, asset.id);
  log.warn("asset_errored", { asset_id: asset.id, code: error.code, message: error.message });
}

function erroredEvent(assetId: string, correlationId: string | null, data: Record<string, unknown>) {
  return {
    event: {
      type: "asset.errored" as const,
      subjectId: assetId,
      assetId,
      correlationId,
      data,
    },
    guard: sql`EXISTS (SELECT 1 FROM assets WHERE id = ${assetId} AND status = 'errored')`,
  };
}

/** A job whose asset is gone stops here; its callbacks are refused from now on. */
export async function cancelJob(ctx: ServiceContext, jobId: string): Promise<void> {
  const at = nowIso();
  await ctx.db
    .update(j)
    .set({ status: "cancelled", finishedAt: at, updatedAt: at })
    .where(and(eq(j.id, jobId), inArray(j.status, ["queued", "running"])));
}
