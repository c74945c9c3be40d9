/**
 * The job runner: it builds the job context and runs the stages in ./job over it —
 * ingest (download → probe → validate) → the ladder, started at once, with the fast path (remux,
 * upload, publish "fast") beside it → segments upload while the ladder encodes, the poster beside it
 * → storyboard, master, the MP4 download when asked and the last uploads → publish "complete".
 * Reports progress as a heartbeat throughout, reports failures with the right retryability, logs each
 * stage's wall clock (`stage.done`, and `job.timings` at the end), and always removes its temp
 * directory. The ffmpeg library (./ffmpeg) does the media work; the stages only compose it.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { AssetErrorCode, JobDispatch } from "../../src/lib/transcoder-protocol.js";
import { ApiClient, type ApiClientOptions } from "./api-client.js";
import type { Lane, PriorityGovernor } from "./concurrency.js";
import { getBinaries } from "./ffmpeg/binaries.js";
import type { JobContext, JobDirs } from "./job/context.js";
import { startPoster } from "./job/derivatives.js";
import { classifyFailure, isJobSuperseded, JobCancelledError } from "./job/errors.js";
import { runFastPath } from "./job/fast-path.js";
import { ingestSource } from "./job/ingest.js";
import { type LadderStage, startLadder } from "./job/ladder.js";
import { ProgressReporter } from "./job/progress-reporter.js";
import { publishComplete } from "./job/publish.js";
import { createLogger, type Logger } from "./log.js";

export { aspectRatio, resolutionLabel } from "./job/describe.js";
export { classifyFailure, JobCancelledError, ShutdownError } from "./job/errors.js";

export interface RunJobOptions {
  /** Parent of the per-job temp directory. Default: TRANSCODER_WORK_DIR or the OS temp dir. */
  workRoot?: string;
  /** Aborting it stops the job (use a ShutdownError reason when the process is stopping). */
  signal?: AbortSignal;
  logger?: Logger;
  /** How often progress is sent even when nothing moved. */
  heartbeatMs?: number;
  uploadConcurrency?: number;
  /**
   * Nice value for the ladder's ffmpeg (default TRANSCODER_LADDER_NICE, else 10; 0 turns it off).
   * The ladder still gets every idle cycle, but the fast path, uploads and heartbeats running
   * beside it get the CPU first, so starting the ladder early does not delay `ready`.
   */
  ladderNiceness?: number;
  /**
   * The ladder lane (the server's): a job waits here for a ladder slot while its download, probe and fast
   * path run at once, so a second upload is playable without waiting behind the first one's ladder.
   */
  ladderLane?: Lane;
  /** The server's priority governor: this job's fast phase counts as urgent work, its ladder is governed. */
  priority?: PriorityGovernor;
  /** Called once when the fast phase is over (published or skipped): the job leaves the fast lane. */
  onFastPhaseDone?: () => void;
  api?: ApiClientOptions;
}

const DEFAULT_LADDER_NICENESS = 10;

function envInt(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return undefined;
  const n = Number(raw);
  return Number.isInteger(n) ? n : undefined;
}

export type JobOutcome =
  | { status: "published"; fastPath: boolean }
  | { status: "failed"; code: AssetErrorCode; retryable: boolean; message: string }
  | { status: "cancelled" };

/** A fresh temp directory for the job; the job id comes off the wire, so it is kept out of path syntax. */
async function makeJobDirs(dispatch: JobDispatch, workRoot: string): Promise<JobDirs> {
  await mkdir(workRoot, { recursive: true });
  const safeId = dispatch.job_id.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64);
  const root = await mkdtemp(path.join(workRoot, `keyframe-${safeId}-${dispatch.attempt}-`));
  const dirs = {
    root,
    source: path.join(root, "source"),
    output: path.join(root, "out"),
    scratch: path.join(root, "scratch"),
  };
  await mkdir(dirs.output);
  return dirs;
}

/** The stages, in order, over a ready context. */
async function runStages(ctx: JobContext): Promise<JobOutcome> {
  const endUrgent = ctx.priority?.urgent();
  let src: Awaited<ReturnType<typeof ingestSource>>;
  try {
    src = await ingestSource(ctx);
  } catch (err) {
    endUrgent?.();
    throw err;
  }
  const ladder: LadderStage = startLadder(ctx, src);
  let poster: Promise<string | null> = Promise.resolve(null);
  let fastTail: Promise<void> = Promise.resolve();
  try {
    const fast = await runFastPath(ctx, src);
    fastTail = fast.tail;
    ladder.leaveFastPhase();
    endUrgent?.();
    ctx.onFastPhaseDone?.();
    poster = startPoster(ctx, src, ladder);
    await ladder.encoded();
    // Players of the fast master keep fetching its segments: all of them are stored before it is replaced.
    await fastTail;
    const renditions = await publishComplete(ctx, src, ladder, poster, fast.published);
    const afterLadder = ladder.sinceExit();
    if (afterLadder !== undefined) ctx.timings.after_ladder = afterLadder;
    ctx.log.info("job.timings", { ...ctx.timings, total: Math.round(performance.now() - ctx.startedPerf) });
    ctx.log.info("job.published", { phase: "complete", ms: Date.now() - ctx.startedAt, renditions });
    return { status: "published", fastPath: fast.published };
  } finally {
    // On the way out for any reason: stop what still runs and wait for it, so nothing reads or
    // writes the temp directory once it is removed.
    endUrgent?.();
    src.streaming?.cancel(); // a no-op once the download is complete (it also stops a remux still reading it)
    await ladder.stop([poster, fastTail, src.downloaded, src.streaming?.remux?.done ?? Promise.resolve()]);
  }
}

export async function runJob(dispatch: JobDispatch, options: RunJobOptions = {}): Promise<JobOutcome> {
  const log = (options.logger ?? createLogger()).child({
    job_id: dispatch.job_id,
    asset_id: dispatch.asset_id,
    attempt: dispatch.attempt,
    correlation_id: dispatch.correlation_id ?? null,
  });
  const startedAt = Date.now();
  const startedPerf = performance.now();
  const cancel = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, cancel.signal]) : cancel.signal;
  const client = new ApiClient(dispatch, options.api);
  const reporter = new ProgressReporter(
    client,
    log,
    (why) => {
      if (!cancel.signal.aborted) {
        log.info("job.cancel_requested", { reason: why });
        cancel.abort(new JobCancelledError(why));
      }
    },
    options.heartbeatMs ?? 5_000,
  );
  let dirs: JobDirs | undefined;

  log.info("job.started", { settings: dispatch.settings });
  try {
    const binaries = await getBinaries();
    dirs = await makeJobDirs(dispatch, options.workRoot ?? process.env.TRANSCODER_WORK_DIR ?? os.tmpdir());
    reporter.start();
    return await runStages({
      dispatch,
      settings: dispatch.settings,
      log,
      client,
      reporter,
      signal,
      binaries,
      dirs,
      uploadConcurrency: options.uploadConcurrency ?? 4,
      ladderNiceness: options.ladderNiceness ?? envInt("TRANSCODER_LADDER_NICE") ?? DEFAULT_LADDER_NICENESS,
      ladderLane: options.ladderLane,
      priority: options.priority,
      onFastPhaseDone: options.onFastPhaseDone,
      startedAt,
      startedPerf,
      timings: {},
    });
  } catch (err) {
    await reporter.stop();
    const reason = signal.aborted ? (signal.reason ?? err) : err;
    if (reason instanceof JobCancelledError || isJobSuperseded(reason)) {
      log.info("job.cancelled", { reason: (reason as Error).message, ms: Date.now() - startedAt });
      return { status: "cancelled" };
    }
    const failure = classifyFailure(reason);
    const level = failure.retryable ? "error" : "warn";
    log[level]("job.failed", { ...failure, error: reason, ms: Date.now() - startedAt });
    try {
      // Not tied to `signal`: a shutting-down transcoder should still say why it dropped the job.
      await client.fail(failure);
    } catch (reportErr) {
      log.error("job.fail_report_failed", { error: reportErr });
    }
    return { status: "failed", ...failure };
  } finally {
    await reporter.stop();
    const root = dirs?.root;
    if (root) {
      await rm(root, { recursive: true, force: true }).catch((err) =>
        log.error("workdir.cleanup_failed", { error: err, path: root }),
      );
    }
    log.info("job.finished", { ms: Date.now() - startedAt });
  }
}
