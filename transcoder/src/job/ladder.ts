/**
 * Stage 3 (20–90%): the ABR ladder. It starts as soon as the source is probed (once the server's
 * ladder lane has a slot) and runs beside the fast path; once the fast phase is over, finished
 * segments upload while it still encodes. Everything started here stops through the stage's own
 * abort signal when the job leaves early, and `stop` waits for it before the temp folder goes away.
 */
import path from "node:path";
import { BULK_MAX_WAIT_MS } from "../concurrency.js";
import { type LadderOptions, ladderDirs, outputFrameRate, planRungs, type Rung } from "../ffmpeg/ladder.js";
import { type AudioLabel, planAudioRenditions } from "../hls/audio-group.js";
import type { RenditionRef } from "../hls/master.js";
import { type ChunkRunner, localChunkRunner, runLadderAuto } from "../ladder-chunks/index.js";
import { chunkedLadderConfig } from "../ladder-chunks/plan.js";
import { chunkRetries, chunkRunnerKind, remoteChunkRunner } from "../ladder-chunks/remote.js";
import { SegmentUploader } from "../segment-uploader.js";
import { type JobContext, putFile, timed } from "./context.js";
import { JobCancelledError } from "./errors.js";
import type { ProbedSource } from "./ingest.js";

export interface LadderStage {
  /** Video rungs, largest first. */
  readonly rungs: readonly Rung[];
  /** Every rendition the master will list. */
  readonly refs: readonly RenditionRef[];
  /** The audio renditions' labels, main first (empty for silent sources). */
  readonly audio: readonly AudioLabel[];
  readonly segments: SegmentUploader;
  /** Aborts with the job, with a failed segment upload, or when the job leaves early. */
  readonly signal: AbortSignal;
  /** The fast phase is over: report the ladder's progress and start uploading finished segments. */
  leaveFastPhase(): void;
  /** Resolves when ffmpeg has exited successfully. */
  encoded(): Promise<void>;
  /** ms since ffmpeg exited, once it has. */
  sinceExit(): number | undefined;
  /** Stops whatever still runs (and `also`), waiting for all of it. A no-op after success. */
  stop(also?: Promise<unknown>[]): Promise<void>;
}

export function startLadder(ctx: JobContext, src: ProbedSource): LadderStage {
  const { facts, duration } = src;
  const video = facts.video;
  const { log, reporter, settings } = ctx;
  const work = new AbortController();
  const signal = AbortSignal.any([ctx.signal, work.signal]);
  const rungs = video
    ? planRungs(video.displayWidth, video.displayHeight, settings.max_resolution, video.frameRate)
    : [];
  const frameRate = video ? outputFrameRate(video) : undefined;
  const audio = planAudioRenditions(facts.audio, facts.audioStreams);
  const ladder: LadderOptions = {
    kind: "ladder",
    input: ctx.dirs.source,
    video:
      video && frameRate
        ? {
            streamIndex: video.index,
            rungs,
            frameRate,
            deinterlace: video.interlaced,
            durationSeconds: video.duration,
            watermark: src.watermark,
          }
        : undefined,
    audioStreamIndex: facts.audio?.index,
    extraAudio: audio.slice(1).map((a) => ({ streamIndex: a.facts.index, dir: a.label.dir })),
  };
  const segments = new SegmentUploader({
    outputDir: ctx.dirs.output,
    dirs: ladderDirs(ladder),
    concurrency: ctx.uploadConcurrency,
    // Bulk: a ladder's segments wait while another upload is becoming playable (bounded).
    put: async (rel) => {
      await ctx.priority?.calm(BULK_MAX_WAIT_MS, signal);
      return putFile(ctx, rel, signal);
    },
    // A segment that cannot be stored fails the job: stop encoding at once.
    onError: (err) => work.abort(err),
  });
  let fastPhaseOver = false;
  let ladderPercent = 0;
  const reportLadder = () => reporter.update("transcoding", 20 + (70 * ladderPercent) / 100);
  log.info("ladder.started", {
    rungs: rungs.map((r) => `${r.name}:${r.width}x${r.height}`),
    frame_rate: frameRate ?? null,
    audio: audio.map((a) => `${a.label.dir}:${a.label.language ?? "und"}`),
    niceness: ctx.ladderNiceness,
  });
  ctx.timings.before_ladder = Math.round(performance.now() - ctx.startedPerf);
  const chunkDir = path.join(ctx.dirs.scratch, "ladder-chunks");
  const runner = chooseChunkRunner(ctx, ladder, chunkDir, segments);
  let exitedAt: number | undefined;
  const run = (async () => {
    // A streamed source is encoded once it is all on disk; the fast path has it as it arrives.
    await src.downloaded;
    const release = await ctx.ladderLane?.acquire(signal);
    if (release) log.info("ladder.lane_acquired", { waited_ms: Math.round(performance.now() - ctx.startedPerf) });
    try {
      // Long sources are cut into chunks encoded side by side (KEYFRAME_CHUNKED_LADDER_MIN_SECONDS and friends).
      const report = await timed(ctx, "ladder", () =>
        runLadderAuto(
          ladder,
          ctx.dirs.output,
          {
            signal,
            durationSeconds: duration,
            ffmpegPath: ctx.binaries.ffmpeg,
            niceness: ctx.ladderNiceness,
            onSpawn:
              ctx.priority && ctx.ladderNiceness > 0
                ? (pid) => ctx.priority?.ladder(pid, ctx.ladderNiceness)
                : undefined,
            onProgress: (p) => {
              ladderPercent = p.percent ?? ladderPercent;
              if (fastPhaseOver) reportLadder();
            },
          },
          chunkedLadderConfig(),
          { workDir: chunkDir, runner },
        ),
      );
      log.info("ladder.mode", { mode: report.mode, chunks: report.chunks, runner: runner ? "remote" : "local" });
    } finally {
      release?.();
    }
  })().finally(() => {
    exitedAt = performance.now();
  });
  // Awaited later; settled here so a failure while the fast path runs is not an unhandled rejection.
  run.catch(() => undefined);

  return {
    rungs,
    refs: [
      ...rungs.map((r) => ({ name: r.name, type: "video" as const })),
      ...audio.map((a) => ({ name: a.label.dir, type: "audio" as const })),
    ],
    audio: audio.map((a) => a.label),
    segments,
    signal,
    leaveFastPhase() {
      fastPhaseOver = true;
      reportLadder();
      segments.start();
    },
    async encoded() {
      await run;
      log.info("ladder.done", { ms: ctx.timings.ladder });
      reporter.update("uploading", 90);
    },
    sinceExit: () => (exitedAt === undefined ? undefined : Math.round(performance.now() - exitedAt)),
    async stop(also = []) {
      if (!work.signal.aborted) work.abort(new JobCancelledError("the job stopped"));
      await Promise.allSettled([run, ...also, segments.stop()]);
    },
  };
}

/**
 * The remote chunk runner when KEYFRAME_LADDER_CHUNK_RUNNER (or running in a container) says so, else
 * undefined (runChunkedLadder's local runner). A watermarked ladder stays local: its image is a file here.
 */
function chooseChunkRunner(
  ctx: JobContext,
  ladder: LadderOptions,
  workDir: string,
  segments: SegmentUploader,
): ChunkRunner | undefined {
  const video = ladder.video;
  if (!video?.rungs.length || chunkRunnerKind() !== "remote") return undefined;
  if (video.watermark) {
    ctx.log.info("ladder.chunk_runner_local", { reason: "watermark" });
    return undefined;
  }
  return remoteChunkRunner({
    client: ctx.client,
    video,
    outputDir: ctx.dirs.output,
    workDir,
    local: localChunkRunner(video, ladder.input, workDir, ctx.dirs.output),
    retries: chunkRetries(),
    onStored: (rel, bytes) => segments.markStored(rel, bytes),
    log: ctx.log,
  });
}
