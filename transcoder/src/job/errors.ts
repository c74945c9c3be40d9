/**
 * What a job can end with besides success, and how each failure is reported to the API: input
 * errors are permanent, the rest may retry; an API that no longer knows the job means "stop quietly".
 */
import type { AssetErrorCode } from "../../../src/lib/transcoder-protocol.js";
import { ApiError } from "../api-client.js";
import { BinaryNotFoundError, FfmpegError, InputError } from "../ffmpeg/errors.js";

/** The API told us to stop (asset deleted, job superseded). No failure is reported. */
export class JobCancelledError extends Error {
  override readonly name = "JobCancelledError";
}

/** The transcoder is shutting down. The job is reported as a retryable failure. */
export class ShutdownError extends Error {
  override readonly name = "ShutdownError";
}

/** API answers that mean the job is no longer ours to run. */
const JOB_GONE_STATUSES = new Set([401, 403, 404, 409, 410]);

export function isJobGone(err: unknown): boolean {
  return err instanceof ApiError && err.status !== undefined && JOB_GONE_STATUSES.has(err.status);
}

/** 409/410: the job is no longer running or the asset was deleted; a failure report would be refused too. */
export function isJobSuperseded(err: unknown): boolean {
  return err instanceof ApiError && (err.status === 409 || err.status === 410);
}

export function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export interface JobFailureReport {
  code: AssetErrorCode;
  retryable: boolean;
  message: string;
}

/** Maps any failure to what we report: input errors are permanent, the rest may retry. */
export function classifyFailure(err: unknown): JobFailureReport {
  if (err instanceof InputError) return { code: err.code, retryable: false, message: err.message };
  if (err instanceof ShutdownError) return { code: "internal_error", retryable: true, message: err.message };
  if (err instanceof ApiError && err.endpoint === "source") {
    const gone = err.status === 404 || err.status === 410;
    return { code: "source_unavailable", retryable: !gone, message: `could not download the source: ${err.message}` };
  }
  if (err instanceof FfmpegError && err.looksLikeInputError) {
    return { code: "input_unreadable", retryable: false, message: `the source could not be decoded: ${err.message}` };
  }
  if (err instanceof BinaryNotFoundError) return { code: "internal_error", retryable: true, message: err.message };
  return { code: "internal_error", retryable: true, message: describeError(err) };
}
