/**
 * The job runner: download → probe → validate → ladder, with the fast path (remux, upload, publish
 * "fast") beside it → segments upload while the ladder encodes → poster (beside the ladder, low
 * priority), storyboard, master, the MP4 download when asked (mp4_support) and the last uploads →
 * publish "complete". Reports progress as a heartbeat throughout, reports failures with the right
 * retryability, logs each stage's wall clock (`stage.done`, and `job.timings` at the end), and always
 * removes its temp directory. The ffmpeg library (./ffmpeg) does the media work; this file only
 * composes it.
 */
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  type AssetErrorCode,
  DOWNLOADS_DIR,
  type JobDispatch,
  type JobPublish,
  type JobStage,
  type SourceFacts,
  type StaticRenditionFile,
  type StaticRenditionsReport,
  type Track,
} from "../../src/lib/transcoder-protocol.js";
import { ApiClient, type ApiClientOptions, ApiError, contentTypeFor } from "./api-client.js";
import { makeAudioDownload } from "./audio-download.js";
import { type ClipRange, cutClip } from "./clip.js";
import { type Lane, mapLimit } from "./concurrency.js";
import { getBinaries } from "./ffmpeg/binaries.js";
import { BinaryNotFoundError, FfmpegError, InputError } from "./ffmpeg/errors.js";
import { INIT_NAME, PLAYLIST_NAME } from "./ffmpeg/hls-output.js";
import { AUDIO_DIR, type LadderOptions, ladderDirs, outputFrameRate, planRungs, runLadder } from "./ffmpeg/ladder.js";
import { POSTER_NAME, posterSize, posterTime, runPoster } from "./ffmpeg/poster.js";
import { type MediaFacts, probe } from "./ffmpeg/probe.js";
import { runProgressive } from "./ffmpeg/progressive.js";
import { FAST_DIR, runRemux } from "./ffmpeg/remux.js";
import { planStoryboard, runStoryboard, STORYBOARD_IMAGE, STORYBOARD_VTT } from "./ffmpeg/storyboard.js";
import { checkLimits, planSource } from "./ffmpeg/validate.js";
import {
  MASTER_NAME,
  type MeasuredRendition,
  type RenditionRef,
  toProtocolRendition,
  writeMaster,
} from "./hls/master.js";
import { parseMediaPlaylist } from "./hls/media-playlist.js";
import { createLogger, type Logger } from "./log.js";
import { SegmentUploader } from "./segment-uploader.js";

/** The API told us to stop (asset deleted, job superseded). No failure is reported. */
export class JobCancelledError extends Error {
  override readonly name = "JobCancelledError";
}

/** The transcoder is shutting down. The job is reported as a retryable failure. */
export class ShutdownError extends Error {
  override readonly name = "ShutdownError";
}

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
  /** Called once when the fast phase is over (published or skipped): the job leaves the fast lane. */
  onFastPhaseDone?: () => void;
  api?: ApiClientOptions;
}

const DEFAULT_LADDER_NICENESS = 10;
/** The poster runs beside the ladder, below it, so it takes only what the ladder leaves. */
const SIDE_WORK_NICENESS = 15;

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

/** Progress API answers that mean the job is no longer ours to run. */
const JOB_GONE_STATUSES = new Set([401, 403, 404, 409, 410]);

/**
 * Sends progress on every stage change, at most once a second otherwise, and every heartbeatMs
 * regardless. One request in flight at a time, so the API sees reports in order; percent is the
 * whole job's and never goes down.
 */
class ProgressReporter {
  private stage: JobStage = "downloading";
  private percent = 0;
  private lastSent = 0;
  private inflight: Promise<void> | undefined;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly client: ApiClient,
    private readonly log: Logger,
    private readonly onCancel: (why: string) => void,
    private readonly heartbeatMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.send(), this.heartbeatMs);
    void this.send();
  }

  update(stage: JobStage, percent: number): void {
    const stageChanged = stage !== this.stage;
    this.stage = stage;
    this.percent = Math.max(this.percent, Math.min(100, Math.max(0, percent)));
    if (this.timer && (stageChanged || Date.now() - this.lastSent >= 1000)) void this.send();
  }

  private send(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.inflight) {
      this.dirty = true;
      return this.inflight;
    }
    const body = { stage: this.stage, percent: Math.round(this.percent * 10) / 10 };
    this.lastSent = Date.now();
    this.inflight = this.client
      .progress(body)
      .then((reply) => {
        if (reply.cancel) this.onCancel("the API asked to cancel");
      })
      .catch((err) => {
        if (err instanceof ApiError && err.status !== undefined && JOB_GONE_STATUSES.has(err.status)) {
          this.onCancel(`progress answered HTTP ${err.status}`);
        } else {
          this.log.warn("progress.failed", { error: err });
        }
      })
      .finally(() => {
        this.inflight = undefined;
        if (this.dirty && !this.stopped) {
          this.dirty = false;
          void this.send();
        }
      });
    return this.inflight;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.inflight;
  }
}

const STANDARD_LABELS = [240, 360, 480, 720, 1080, 1440, 2160];

/** "720p" for the nearest standard size; tiny pictures keep their own number. */
export function resolutionLabel(shortSide: number): string {
  if (shortSide < 200) return `${shortSide}p`;
  const nearest = STANDARD_LABELS.reduce((best, h) =>
    Math.abs(h - shortSide) < Math.abs(best - shortSide) ? h : best,
  );
  return `${nearest}p`;
}

const COMMON_RATIOS: [number, number][] = [
  [16, 9],
  [9, 16],
  [4, 3],
  [3, 4],
  [1, 1],
  [21, 9],
  [9, 21],
  [3, 2],
  [2, 3],
  [5, 4],
  [4, 5],
];

/** "16:9" when within 1.5% of a common ratio, else the reduced ratio, else "2.39:1". */
export function aspectRatio(width: number, height: number): string {
  const r = width / height;
  for (const [w, h] of COMMON_RATIOS) if (Math.abs(r - w / h) / (w / h) < 0.015) return `${w}:${h}`;
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const g = gcd(width, height);
  if (width / g <= 64 && height / g <= 64) return `${width / g}:${height / g}`;
  return r >= 1 ? `${r.toFixed(2)}:1` : `1:${(1 / r).toFixed(2)}`;
}

function sourceFactsFor(facts: MediaFacts, remuxed: boolean): SourceFacts {
  const out: SourceFacts = {
    container: facts.container,
    size_bytes: facts.sizeBytes,
    duration: facts.duration,
    remuxed,
  };
  if (facts.bitrate !== undefined) out.bitrate = facts.bitrate;
  if (facts.video) {
    out.video_codec = facts.video.codec;
    out.width = facts.video.displayWidth;
    out.height = facts.video.displayHeight;
    if (facts.video.frameRate) out.frame_rate = Math.round(facts.video.frameRate * 1000) / 1000;
    out.variable_frame_rate = facts.video.variableFrameRate;
  }
  if (facts.audio) out.audio_codec = facts.audio.codec;
  return out;
}

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Maps any failure to what we report: input errors are permanent, the rest may retry. */
export function classifyFailure(err: unknown): { code: AssetErrorCode; retryable: boolean; message: string } {
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

async function listFiles(outputDir: string, dir: string): Promise<string[]> {
  const names = await readdir(path.join(outputDir, dir));
  return names.sort().map((name) => `${dir}/${name}`);
}

/** Every file a rendition's playlist needs, in playlist order, plus the playlist itself. */
async function renditionFiles(outputDir: string, dir: string): Promise<string[]> {
  const files = await listFiles(outputDir, dir);
  // ffmpeg leaves nothing else there, but a stray temp file must not be uploaded.
  return files.filter((f) => /\.(m3u8|m4s|mp4)$/.test(f) && !f.endsWith(".tmp"));
}

export async function runJob(dispatch: JobDispatch, options: RunJobOptions = {}): Promise<JobOutcome> {
  const { settings } = dispatch;
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
  const uploadConcurrency = options.uploadConcurrency ?? 4;
  const workRoot = options.workRoot ?? process.env.TRANSCODER_WORK_DIR ?? os.tmpdir();
  let workDir: string | undefined;

  const ladderNiceness = options.ladderNiceness ?? envInt("TRANSCODER_LADDER_NICE") ?? DEFAULT_LADDER_NICENESS;
  const putFile = (outputDir: string, rel: string, on: AbortSignal = signal) =>
    client.putOutput(rel, path.join(outputDir, rel), { signal: on, contentType: contentTypeFor(rel) });
  /** Uploads files at uploadConcurrency, reporting "uploading" from → to; resolves to their bytes. */
  const upload = async (outputDir: string, files: string[], from: number, to: number): Promise<number> => {
    let done = 0;
    const sizes = await mapLimit(files, uploadConcurrency, async (rel) => {
      const size = await putFile(outputDir, rel);
      done++;
      reporter.update("uploading", from + ((to - from) * done) / files.length);
      return size;
    });
    return sizes.reduce((n, x) => n + x, 0);
  };

  // Wall-clock per stage, logged as `stage.done` when each ends and all together in `job.timings`.
  const timings: Record<string, number> = {};
  const timed = async <T>(stage: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      const ms = Math.round(performance.now() - t0);
      timings[stage] = (timings[stage] ?? 0) + ms;
      log.info("stage.done", { stage, ms });
    }
  };

  log.info("job.started", { settings });
  try {
    const binaries = await getBinaries();
    await mkdir(workRoot, { recursive: true });
    // The job id comes off the wire: keep it out of path syntax.
    const safeId = dispatch.job_id.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64);
    workDir = await mkdtemp(path.join(workRoot, `keyframe-${safeId}-${dispatch.attempt}-`));
    const source = path.join(workDir, "source");
    const outputDir = path.join(workDir, "out");
    const scratchDir = path.join(workDir, "scratch");
    await mkdir(outputDir);
    reporter.start();

    // Refuse before downloading when the stored size already says too large.
    if (settings.max_size_bytes !== undefined && settings.source_size_bytes > settings.max_size_bytes) {
      throw new InputError(
        "input_too_large",
        `the source is ${settings.source_size_bytes} bytes, over the limit of ${settings.max_size_bytes}`,
      );
    }

    // 1. Download (0–10%).
    const expected = settings.source_size_bytes || undefined;
    const downloaded = await timed("download", () =>
      client.downloadSource(source, {
        signal,
        onProgress: (bytes, total) => {
          const of = total ?? expected;
          if (of) reporter.update("downloading", (10 * bytes) / of);
        },
      }),
    );
    log.info("source.downloaded", {
      bytes: downloaded.bytes,
      content_type: downloaded.contentType ?? null,
      ms: Date.now() - startedAt,
    });

    // A clip asset's source is the original it was cut from: cut the range first (transcoder/src/clip.ts).
    if (settings.clip)
      await timed("clip", () => cutClip(source, settings.clip as ClipRange, { signal, ffmpegPath: binaries.ffmpeg }));

    // 2. Probe and validate (10–12%).
    reporter.update("probing", 10);
    if (settings.max_size_bytes !== undefined && downloaded.bytes > settings.max_size_bytes) {
      throw new InputError(
        "input_too_large",
        `the source is ${downloaded.bytes} bytes, over the limit of ${settings.max_size_bytes}`,
      );
    }
    const facts = await timed("probe", () => probe(source, { signal, keyframes: true, ffprobePath: binaries.ffprobe }));
    checkLimits(facts, settings);
    const plan = planSource(facts, settings);
    log.info("source.probed", {
      container: facts.container,
      duration: facts.duration,
      video: facts.video ?? null,
      audio: facts.audio ?? null,
      kind: plan.kind,
      fast_path: plan.fastPath,
      fast_path_skipped_because: plan.reasons,
    });
    reporter.update("probing", 12);
    const duration = facts.duration;
    const ffmpegRun = { signal, durationSeconds: duration, ffmpegPath: binaries.ffmpeg };
    const probeRun = { signal, ffprobePath: binaries.ffprobe };
    const video = facts.video;

    // 3. The ladder starts now and runs to the end. The fast path (remux, upload, publish "fast")
    // runs beside it; once that is done, finished segments upload while the ladder still encodes.
    // Everything started here stops through `work` when the job leaves early, and is waited for
    // before the temp directory goes away.
    const work = new AbortController();
    const workSignal = AbortSignal.any([signal, work.signal]);
    const rungs = video
      ? planRungs(video.displayWidth, video.displayHeight, settings.max_resolution, video.frameRate)
      : [];
    const frameRate = video ? outputFrameRate(video) : undefined;
    const ladder: LadderOptions = {
      kind: "ladder",
      input: source,
      video:
        video && frameRate ? { streamIndex: video.index, rungs, frameRate, deinterlace: video.interlaced } : undefined,
      audioStreamIndex: facts.audio?.index,
    };
    const segments = new SegmentUploader({
      outputDir,
      dirs: ladderDirs(ladder),
      concurrency: uploadConcurrency,
      put: (rel) => putFile(outputDir, rel, workSignal),
      // A segment that cannot be stored fails the job: stop encoding at once.
      onError: (err) => work.abort(err),
    });
    let fastPhaseOver = false;
    let ladderPercent = 0;
    const reportLadder = () => reporter.update("transcoding", 20 + (70 * ladderPercent) / 100);
    log.info("ladder.started", {
      rungs: rungs.map((r) => `${r.name}:${r.width}x${r.height}`),
      frame_rate: frameRate ?? null,
      audio: !!facts.audio,
      niceness: ladderNiceness,
    });
    timings.before_ladder = Math.round(performance.now() - startedPerf);
    let ladderExitedAt: number | undefined;
    const ladderRun = (async () => {
      const release = await options.ladderLane?.acquire(workSignal);
      if (release) log.info("ladder.lane_acquired", { waited_ms: Math.round(performance.now() - startedPerf) });
      try {
        return await timed("ladder", () =>
          runLadder(ladder, outputDir, {
            ...ffmpegRun,
            signal: workSignal,
            niceness: ladderNiceness,
            onProgress: (p) => {
              ladderPercent = p.percent ?? ladderPercent;
              if (fastPhaseOver) reportLadder();
            },
          }),
        );
      } finally {
        release?.();
      }
    })().finally(() => {
      ladderExitedAt = performance.now();
    });
    // Awaited below; settled here so a failure while the fast path runs is not an unhandled rejection.
    ladderRun.catch(() => undefined);
    let posterRun: Promise<string | null> = Promise.resolve(null);

    try {
      // 4. Fast path (12–20%). An optimization: if it fails, the ladder still completes the asset.
      let remuxed = false;
      if (plan.fastPath && video) {
        try {
          reporter.update("remuxing", 12);
          await timed("remux", () =>
            runRemux(
              {
                kind: "remux",
                input: source,
                videoIndex: video.index,
                audioIndex: facts.audio?.index,
                adtsToAsc: facts.container === "ts",
              },
              outputDir,
              { ...ffmpegRun, onProgress: (p) => reporter.update("remuxing", 12 + (5 * (p.percent ?? 0)) / 100) },
            ),
          );
          const fast = await timed("fast_master", () =>
            writeMaster(outputDir, [{ name: FAST_DIR, type: "muxed" }], probeRun),
          );
          const fastRendition = fast.renditions[0];
          await timed("fast_upload", async () => {
            await upload(outputDir, await renditionFiles(outputDir, FAST_DIR), 17, 19);
            await upload(outputDir, [MASTER_NAME], 19, 19.5);
          });
          reporter.update("finalizing", 19.5);
          const tracks: Track[] = [
            {
              type: "video",
              codec: video.codec,
              width: fastRendition.width,
              height: fastRendition.height,
              frame_rate: fastRendition.frame_rate,
              duration,
            },
          ];
          if (facts.audio) {
            tracks.push({
              type: "audio",
              codec: facts.audio.codec,
              channels: facts.audio.channels,
              sample_rate: facts.audio.sampleRate,
              duration,
            });
          }
          await timed("fast_publish", () =>
            client.publish(
              {
                phase: "fast",
                master: MASTER_NAME,
                duration,
                aspect_ratio: aspectRatio(video.displayWidth, video.displayHeight),
                resolution: resolutionLabel(Math.min(video.displayWidth, video.displayHeight)),
                max_frame_rate: fastRendition.frame_rate ?? null,
                tracks,
                renditions: [toProtocolRendition(fastRendition)],
                source: sourceFactsFor(facts, true),
                poster: null,
                storyboard: null,
              },
              { signal },
            ),
          );
          remuxed = true;
          log.info("job.published", {
            phase: "fast",
            ms: Date.now() - startedAt,
            bandwidth: fastRendition.bandwidth,
          });
        } catch (err) {
          if (signal.aborted) throw signal.reason ?? err;
          if (err instanceof ApiError && err.status !== undefined && JOB_GONE_STATUSES.has(err.status)) throw err;
          log.warn("fast_path.failed", { error: err });
        }
      }

      // 5. Ladder (20–90%) with segment uploads; the poster beside it, at low priority.
      fastPhaseOver = true;
      options.onFastPhaseDone?.();
      reportLadder();
      segments.start();
      if (video) {
        const size = posterSize(video.displayWidth, video.displayHeight);
        posterRun = timed("poster", () =>
          runPoster(
            {
              kind: "poster",
              input: source,
              output: POSTER_NAME,
              streamIndex: video.index,
              atSeconds: posterTime(duration),
              deinterlace: video.interlaced,
              ...size,
            },
            outputDir,
            { ...ffmpegRun, signal: workSignal, niceness: SIDE_WORK_NICENESS },
          ),
        ).then(
          () => POSTER_NAME,
          (err) => {
            if (workSignal.aborted) throw workSignal.reason ?? err;
            log.warn("poster.failed", { error: err });
            return null;
          },
        );
        posterRun.catch(() => undefined);
      }
      await ladderRun;
      log.info("ladder.done", { ms: timings.ladder });
      reporter.update("uploading", 90);

      // 6. Once ffmpeg has exited, at the same time: the last segments upload, the storyboard is cut
      // from the smallest rendition's keyframes, the master is measured, the poster finishes.
      const refs: RenditionRef[] = [
        ...rungs.map((r) => ({ name: r.name, type: "video" as const })),
        ...(facts.audio ? [{ name: AUDIO_DIR, type: "audio" as const }] : []),
      ];
      const storyboardRun = async (): Promise<JobPublish["storyboard"]> => {
        if (!video) return null;
        try {
          await timed("storyboard", async () => {
            // Thumbnails come from the smallest rendition's keyframes (every 2 s by construction):
            // decoding only those is far cheaper than decoding the source again.
            const smallest = rungs[rungs.length - 1];
            const dir = path.join(outputDir, smallest.name);
            const playlist = parseMediaPlaylist(await readFile(path.join(dir, PLAYLIST_NAME), "utf8"));
            const parts = [playlist.mapUri ?? INIT_NAME, ...playlist.segments.map((s) => s.uri)];
            const concat = `concat:${parts.join("|")}`;
            const useRendition = concat.length < 100_000;
            const sbPlan = planStoryboard(duration, smallest.width, smallest.height, {
              intervalStep: useRendition ? 2 : 1,
            });
            await runStoryboard(
              useRendition
                ? {
                    kind: "storyboard",
                    input: concat,
                    output: path.join(outputDir, STORYBOARD_IMAGE),
                    plan: sbPlan,
                    keyframesOnly: true,
                  }
                : {
                    kind: "storyboard",
                    input: source,
                    output: path.join(outputDir, STORYBOARD_IMAGE),
                    plan: sbPlan,
                    streamIndex: video.index,
                    deinterlace: video.interlaced,
                  },
              useRendition ? dir : outputDir,
              { ...ffmpegRun, signal: workSignal },
            );
          });
          return { vtt: STORYBOARD_VTT, image: STORYBOARD_IMAGE };
        } catch (err) {
          if (workSignal.aborted) throw workSignal.reason ?? err;
          log.warn("storyboard.failed", { error: err });
          return null;
        }
      };
      // The download (mp4_support standard): stream-copied from the top rung and the audio rendition,
      // so it is exactly what the best ABR variant plays (H.264 + AAC, capped by max_resolution) and
      // costs no encode. Made after the ladder rather than from the fast-path remux, which can exceed
      // max_resolution and carries whatever the source had (VFR, edit lists, odd audio). A failure here
      // is reported as an errored download and never fails the job.
      const downloadRun = async (): Promise<StaticRenditionsReport | undefined> => {
        if (settings.mp4_support !== "standard") return undefined;
        const topRung = rungs[0];
        if (!topRung && !facts.audio) return { status: "errored", files: [], error: "the source has no media" };
        const name = topRung ? ("highest.mp4" as const) : ("audio.m4a" as const);
        const rel = `${DOWNLOADS_DIR}/${name}`;
        try {
          return await timed("static_rendition", async () => {
            const made = await runProgressive(
              { videoDir: topRung?.name, audioDir: facts.audio ? AUDIO_DIR : undefined, output: rel, scratchDir },
              outputDir,
              { ...ffmpegRun, signal: workSignal, niceness: SIDE_WORK_NICENESS },
            );
            await putFile(outputDir, rel, workSignal);
            const file: StaticRenditionFile = {
              name,
              ext: topRung ? "mp4" : "m4a",
              bitrate: Math.max(1, Math.round((made.bytes * 8) / Math.max(duration, 0.001))),
              filesize: made.bytes,
            };
            if (topRung) Object.assign(file, { width: topRung.width, height: topRung.height });
            log.info("static_rendition.done", { name, bytes: made.bytes });
            const run = { ...ffmpegRun, signal: workSignal, niceness: SIDE_WORK_NICENESS };
            const put = (r: string) => putFile(outputDir, r, workSignal);
            const audio =
              topRung && facts.audio
                ? [await makeAudioDownload({ outputDir, scratchDir, durationSeconds: duration, run, put })]
                : [];
            return { status: "ready" as const, files: [file, ...audio] };
          });
        } catch (err) {
          if (workSignal.aborted) throw workSignal.reason ?? err;
          if (err instanceof ApiError && err.status !== undefined && JOB_GONE_STATUSES.has(err.status)) throw err;
          log.warn("static_rendition.failed", { error: err });
          return { status: "errored", files: [], error: describeError(err).slice(0, 2000) };
        }
      };
      const [, storyboard, final, poster, staticRenditions] = await Promise.all([
        timed("segment_upload_tail", () => segments.finish()),
        storyboardRun(),
        timed("master", () =>
          writeMaster(outputDir, refs, { ...probeRun, signal: workSignal, audioLanguage: facts.audio?.language }),
        ),
        posterRun,
        downloadRun(),
      ]);

      // 7. What is left (init sections, poster, storyboard), then the variant playlists, then the
      // master: nothing is uploaded before what it points to, and each playlist is written once.
      const rest: string[] = [];
      const playlists: string[] = [];
      for (const ref of refs) {
        for (const f of await renditionFiles(outputDir, ref.name)) {
          if (f.endsWith(`/${PLAYLIST_NAME}`)) playlists.push(f);
          else if (!segments.uploaded.has(f)) rest.push(f);
        }
      }
      if (poster) rest.push(POSTER_NAME);
      if (storyboard) rest.push(STORYBOARD_IMAGE, STORYBOARD_VTT);
      let uploadedBytes = segments.bytes;
      await timed("final_upload", async () => {
        uploadedBytes += await upload(outputDir, rest, 90, 95);
        uploadedBytes += await upload(outputDir, playlists, 95, 96);
        // The master goes last: everything it points to exists by the time it does.
        uploadedBytes += await upload(outputDir, [MASTER_NAME], 96, 97);
      });
      log.info("outputs.uploaded", {
        files: segments.files + rest.length + playlists.length + 1,
        bytes: uploadedBytes,
        during_ladder: segments.files,
      });

      reporter.update("finalizing", 97);
      const videoRenditions = final.renditions.filter((r) => r.type === "video");
      const top: MeasuredRendition | undefined = videoRenditions.sort(
        (a, b) => (b.height ?? 0) * (b.width ?? 0) - (a.height ?? 0) * (a.width ?? 0),
      )[0];
      const audio = final.renditions.find((r) => r.type === "audio");
      const tracks: Track[] = [];
      if (top) {
        tracks.push({
          type: "video",
          codec: "h264",
          width: top.width,
          height: top.height,
          frame_rate: top.frame_rate,
          bitrate: top.average_bandwidth,
          duration: top.duration,
        });
      }
      if (audio) {
        tracks.push({
          type: "audio",
          codec: "aac",
          channels: audio.channels,
          sample_rate: audio.sampleRate,
          bitrate: audio.average_bandwidth,
          duration: audio.duration,
        });
      }
      const topRung = rungs[0];
      // No progress after this point: the API may refuse reports for a finished job.
      await reporter.stop();
      await timed("complete_publish", () =>
        client.publish(
          {
            phase: "complete",
            master: MASTER_NAME,
            duration,
            aspect_ratio: video ? aspectRatio(video.displayWidth, video.displayHeight) : null,
            resolution: topRung ? `${topRung.size}p` : null,
            max_frame_rate: top?.frame_rate ?? null,
            tracks,
            renditions: final.renditions.map(toProtocolRendition),
            source: sourceFactsFor(facts, remuxed),
            poster,
            storyboard,
            ...(staticRenditions ? { static_renditions: staticRenditions } : {}),
          },
          { signal },
        ),
      );
      if (ladderExitedAt !== undefined) timings.after_ladder = Math.round(performance.now() - ladderExitedAt);
      log.info("job.timings", { ...timings, total: Math.round(performance.now() - startedPerf) });
      log.info("job.published", {
        phase: "complete",
        ms: Date.now() - startedAt,
        renditions: final.renditions.map((r) => r.name),
      });
      return { status: "published", fastPath: remuxed };
    } finally {
      // On the way out for any reason: stop what still runs and wait for it, so nothing reads or
      // writes the temp directory once it is removed. A no-op after success.
      if (!work.signal.aborted) work.abort(new JobCancelledError("the job stopped"));
      await Promise.allSettled([ladderRun, posterRun, segments.stop()]);
    }
  } catch (err) {
    await reporter.stop();
    const reason = signal.aborted ? (signal.reason ?? err) : err;
    if (reason instanceof JobCancelledError) {
      log.info("job.cancelled", { reason: reason.message, ms: Date.now() - startedAt });
      return { status: "cancelled" };
    }
    // 409/410: the job is no longer running or the asset was deleted. Reporting a failure would
    // be refused the same way, so stop quietly.
    if (reason instanceof ApiError && (reason.status === 409 || reason.status === 410)) {
      log.info("job.cancelled", { reason: reason.message, ms: Date.now() - startedAt });
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
    if (workDir) {
      await rm(workDir, { recursive: true, force: true }).catch((err) =>
        log.error("workdir.cleanup_failed", { error: err, path: workDir }),
      );
    }
    log.info("job.finished", { ms: Date.now() - startedAt });
  }
}
