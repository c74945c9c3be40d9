/**
 * Who may call back: every transcoder callback (routes/internal/*) starts here. A valid job token for this
 * job, the job's current attempt (a stale run is refused) and an asset that still exists, read in one query.
 */
import { eq } from "drizzle-orm";
import { createDb, schema } from "../../../db/client";
import { KeyframeError } from "../../../lib/errors";
import { verifyJobToken } from "../../../lib/job-token";
import { type ServiceContext, systemContext } from "../../context";
import { type AssetRow, cancelJob, type JobRow } from "../lifecycle";

const j = schema.jobs;
const a = schema.assets;

export interface JobCall {
  ctx: ServiceContext;
  job: JobRow;
  asset: AssetRow;
  attempt: number;
  /** Set for a dubbed audio track's token (src/lib/audio-tracks.ts). */
  trackId?: string;
}

export function runPrefix(assetId: string, jobId: string) {
  return `assets/${assetId}/runs/${jobId}/`;
}

/**
 * Authenticates a callback: a valid token for this job (401/403), the job's current attempt (409:
 * a superseded run must never overwrite a newer one), and an asset that still exists (410).
 */
export async function authorizeJobCall(
  env: Env,
  jobId: string,
  authorization: string | undefined,
  requestId: string,
  waitUntil: (p: Promise<unknown>) => void,
  opts: { allowTrack?: boolean } = {},
): Promise<JobCall> {
  const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? "")?.[1];
  if (!token) throw new KeyframeError("unauthenticated", "Send the job token as 'Authorization: Bearer …'.");
  const claims = await verifyJobToken(env, token);
  if (!claims) throw new KeyframeError("unauthenticated", "The job token is invalid or expired.");
  if (claims.jobId !== jobId) throw new KeyframeError("forbidden", "The job token is for another job.");
  if (claims.trackId && !opts.allowTrack) {
    throw new KeyframeError("forbidden", "An audio track's token may only write that track's outputs.");
  }
  // One read for the job and its asset (a callback per output file: this is on the hot path).
  const [row] = await createDb(env.DB)
    .select({ job: j, asset: a })
    .from(j)
    .leftJoin(a, eq(a.id, j.assetId))
    .where(eq(j.id, jobId))
    .limit(1);
  const job = row?.job;
  if (!job) throw new KeyframeError("not_found", `No job with id '${jobId}' exists.`);
  if (claims.attempt !== job.attempt) {
    throw new KeyframeError(
      "conflict",
      `The token is for attempt ${claims.attempt}, but the job is on attempt ${job.attempt}; this run is superseded.`,
    );
  }
  const ctx = systemContext(env, job.environmentId, waitUntil, requestId);
  const asset = row.asset;
  if (!asset || asset.status === "deleted") {
    await cancelJob(ctx, job.id);
    throw new KeyframeError("gone", "The asset was deleted; stop processing this job.");
  }
  return { ctx, job, asset, attempt: claims.attempt, ...(claims.trackId ? { trackId: claims.trackId } : {}) };
}

export function requireRunning(call: JobCall, action: string) {
  if (call.job.status !== "running") {
    throw new KeyframeError("invalid_state", `Cannot ${action}: the job is '${call.job.status}', not running.`);
  }
}

export function requireBodyAttempt(call: JobCall, bodyAttempt: number) {
  if (bodyAttempt !== call.attempt) {
    throw new KeyframeError("conflict", `The body names attempt ${bodyAttempt}, but the token is for ${call.attempt}.`);
  }
}
