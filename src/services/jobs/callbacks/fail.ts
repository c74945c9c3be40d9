import { KeyframeError } from "../../../lib/errors";
import type { JobFailure } from "../../../lib/transcoder-protocol";
import { failJob, findAsset, findJob, requeueAttempt } from "../lifecycle";
import { backoffSeconds } from "../system";
import { type JobCall, requireBodyAttempt } from "./authorize";

export async function failRun(
  call: JobCall,
  input: JobFailure,
): Promise<{ job_status: string; retry: boolean; asset_status: string }> {
  requireBodyAttempt(call, input.attempt);
  const { ctx, job } = call;
  if (job.status === "running") {
    const error = { code: input.code, message: input.message };
    if (input.retryable && job.attempt < job.maxAttempts) {
      await requeueAttempt(ctx, job, call.attempt, error, {
        delaySeconds: backoffSeconds(call.attempt),
        enqueue: true,
      });
    } else {
      await failJob(ctx, job, error, call.attempt);
    }
  } else if (job.status === "succeeded") {
    throw new KeyframeError("invalid_state", "The job already succeeded; a late failure report is ignored.");
  }
  // Anything else (queued by this very report, failed, cancelled) is a repeat: report where things stand.
  const [jobNow, assetNow] = await Promise.all([findJob(ctx, job.id), findAsset(ctx, job.assetId)]);
  return {
    job_status: jobNow?.status ?? "unknown",
    retry: jobNow?.status === "queued",
    asset_status: assetNow?.status ?? "deleted",
  };
}
