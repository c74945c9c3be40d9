/**
 * The job context every stage works against: the dispatch, the API client and progress reporter,
 * the job's abort signal, its temp folders, and the helpers each stage uses to upload files and time
 * itself (`stage.done` per stage, all of them together in `job.timings` at the end).
 */
import path from "node:path";
import { contentTypeFor } from "../../../src/lib/media-types.js";
import type { JobDispatch } from "../../../src/lib/transcoder-protocol.js";
import type { ApiClient } from "../api-client.js";
import { type Lane, mapLimit, type PriorityGovernor } from "../concurrency.js";
import type { Binaries } from "../ffmpeg/binaries.js";
import type { Logger } from "../log.js";
import type { ProgressReporter } from "./progress-reporter.js";

export interface JobDirs {
  /** The per-job temp directory, removed when the job ends. */
  root: string;
  /** The downloaded source file. */
  source: string;
  /** Everything uploaded, by its path relative to here (the asset's output key). */
  output: string;
  /** Intermediate files that are never uploaded. */
  scratch: string;
}

export interface JobContext {
  readonly dispatch: JobDispatch;
  readonly settings: JobDispatch["settings"];
  readonly log: Logger;
  readonly client: ApiClient;
  readonly reporter: ProgressReporter;
  /** Aborts when the API cancels the job or the transcoder stops. */
  readonly signal: AbortSignal;
  readonly binaries: Binaries;
  readonly dirs: JobDirs;
  readonly uploadConcurrency: number;
  readonly ladderNiceness: number;
  readonly ladderLane?: Lane;
  /** The server's: ladders are niced only while some job is in its fast phase. */
  readonly priority?: PriorityGovernor;
  /** Called once when the fast phase is over: the job leaves the server's fast lane. */
  readonly onFastPhaseDone?: () => void;
  readonly startedAt: number;
  readonly startedPerf: number;
  readonly timings: Record<string, number>;
}

/** Runs fn as a named stage: its wall clock is logged and added to the job's timings. */
export async function timed<T>(ctx: JobContext, stage: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    const ms = Math.round(performance.now() - t0);
    ctx.timings[stage] = (ctx.timings[stage] ?? 0) + ms;
    ctx.log.info("stage.done", { stage, ms });
  }
}

/** PUTs one output file (path relative to the output folder); resolves to its size. */
export function putFile(ctx: JobContext, rel: string, signal: AbortSignal = ctx.signal): Promise<number> {
  return ctx.client.putOutput(rel, path.join(ctx.dirs.output, rel), { signal, contentType: contentTypeFor(rel) });
}

/** Uploads files at the job's upload concurrency, reporting "uploading" from → to; resolves to their bytes. */
export async function uploadFiles(
  ctx: JobContext,
  files: readonly string[],
  from: number,
  to: number,
): Promise<number> {
  let done = 0;
  const sizes = await mapLimit(files, ctx.uploadConcurrency, async (rel) => {
    const size = await putFile(ctx, rel);
    done++;
    ctx.reporter.update("uploading", from + ((to - from) * done) / files.length);
    return size;
  });
  return sizes.reduce((n, x) => n + x, 0);
}
