/**
 * Starting a job attempt (the transcode-jobs consumer's work for `{kind: "transcode"}`): read the
 * job's current state, claim the next attempt, and hand it to the transcoder. Never waits for the
 * transcode. A redelivered message finds the job running or finished and does nothing.
 */
import { createDb } from "../../db/client";
import { signJobToken } from "../../lib/job-token";
import { log } from "../../lib/log";
import { type JobDispatch, JobSettingsSchema } from "../../lib/transcoder-protocol";
import { cancelJob, claimAttempt, failJob, findAsset, findJob, requeueAttempt } from "./lifecycle";
import { backoffSeconds, systemContext } from "./system";

export type ConsumerOutcome =
  | { action: "ack"; reason: string }
  | { action: "retry"; delaySeconds: number; reason: string };

export interface StartOptions {
  waitUntil: (p: Promise<unknown>) => void;
  dispatch: (env: Env, payload: JobDispatch) => Promise<void>;
  /** The queue message's delivery count (msg.attempts), for the retry backoff. */
  deliveryAttempt: number;
}

const ack = (reason: string): ConsumerOutcome => ({ action: "ack", reason });

export async function startJob(env: Env, jobId: string, opts: StartOptions): Promise<ConsumerOutcome> {
  const job = await findJob({ db: createDb(env.DB) }, jobId);
  if (!job) return ack("unknown job");
  if (job.status === "succeeded" || job.status === "failed" || job.status === "cancelled") {
    return ack(`job already ${job.status}`);
  }
  const ctx = systemContext(env, job.environmentId, opts.waitUntil);
  const asset = await findAsset(ctx, job.assetId);
  if (!asset || asset.status === "deleted" || asset.status === "errored") {
    await cancelJob(ctx, job.id);
    return ack(`asset ${asset?.status ?? "missing"}`);
  }
  // Running means dispatched: the heartbeat (and the reaper) decide whether it is still alive.
  if (job.status === "running") return ack("job already running");
  if (job.attempt >= job.maxAttempts) {
    await failJob(ctx, job, {
      code: "internal_error",
      message: `Processing failed after ${job.attempt} attempts (retries exhausted).`,
    });
    return ack("attempts exhausted");
  }
  const settings = JobSettingsSchema.safeParse(job.settings);
  if (!settings.success) {
    await failJob(ctx, job, { code: "internal_error", message: "The job's settings are invalid." });
    return ack("invalid settings");
  }
  const attempt = await claimAttempt(ctx, job);
  if (attempt === null) return ack("claimed by another consumer");
  const payload: JobDispatch = {
    job_id: job.id,
    asset_id: job.assetId,
    attempt,
    settings: settings.data,
    api_url: env.API_PUBLIC_URL,
    token: await signJobToken(env, { jobId: job.id, attempt }),
    correlation_id: job.correlationId,
  };
  try {
    await opts.dispatch(env, payload);
  } catch (err) {
    const delaySeconds = backoffSeconds(opts.deliveryAttempt);
    const message = (err as Error).message;
    await requeueAttempt(
      ctx,
      job,
      attempt,
      { code: "internal_error", message: `Dispatch failed: ${message}` },
      { delaySeconds, enqueue: false },
    );
    log.warn("job_dispatch_failed", { job_id: job.id, attempt, error: message, retry_in: delaySeconds });
    return { action: "retry", delaySeconds, reason: message };
  }
  log.info("job_dispatched", { job_id: job.id, asset_id: job.assetId, attempt });
  return ack("dispatched");
}
