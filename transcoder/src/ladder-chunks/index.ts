/**
 * The segment-parallel ladder (issue 14, goal 5): the video timeline is cut into chunks on the segment
 * grid (plan.ts), each chunk is encoded by its own ffmpeg with the single-process ladder's graph and
 * rung settings (encode.ts), up to `parallel` at once, while one more ffmpeg encodes every audio
 * output whole (no joins in audio, so no clicks). As each chunk exits its segments are shifted onto
 * the whole timeline and moved into the rendition folders under their global names (stitch.ts); at the
 * end each rendition gets chunk 0's init and one VOD playlist. The output folder is laid out exactly
 * as runLadder's, so publish, the master and the derivatives do not know which one ran.
 *
 * runLadderAuto picks: chunks for sources at least `minSeconds` long that split into two or more
 * chunks, one process otherwise.
 */
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { mapLimit } from "../concurrency.js";
import { buildAudioLadderArgs, type LadderOptions, type LadderVideo, ladderDirs, runLadder } from "../ffmpeg/ladder.js";
import { type RunFfmpegOptions, runFfmpeg } from "../ffmpeg/process.js";
import { type ChunkRendition, type ChunkSegment, encodeChunkLocally } from "./encode.js";
import { type Chunk, type ChunkedLadderConfig, chunkedLadderConfig, planChunks, shouldChunk } from "./plan.js";
import { InitRegistry, placeChunk, writeRenditions } from "./stitch.js";

/**
 * Encodes one chunk and leaves its segments, shifted and under their global names, where the ladder's
 * segments go; resolves to each rung's init and segment list. The local runner encodes with a child
 * ffmpeg into the rendition folders; the remote runner (./remote.ts) has each chunk but the first encoded
 * by a transcoder instance of its own and reads its segments back.
 */
export type ChunkRunner = (chunk: Chunk, run: RunFfmpegOptions) => Promise<ChunkRendition[]>;

/** Chunks encoded by ffmpeg on this machine, each in workDir/chunk_NNNN, then moved into outputDir. */
export function localChunkRunner(video: LadderVideo, input: string, workDir: string, outputDir: string): ChunkRunner {
  return async (chunk, run) => {
    const dir = path.join(workDir, `chunk_${String(chunk.index).padStart(4, "0")}`);
    const renditions = await encodeChunkLocally(video, input, chunk, dir, run);
    await placeChunk(chunk, renditions, video.frameRate, dir, outputDir);
    await rm(dir, { recursive: true, force: true });
    return renditions;
  };
}

export interface ChunkedRunOptions {
  /** Where chunk folders are made (same file system as outputDir); default `outputDir/.ladder-chunks`. */
  workDir?: string;
  /** Default: localChunkRunner. */
  runner?: ChunkRunner;
  /** Called as each chunk finishes (bench figures, logs). */
  onChunk?: (chunk: Chunk, ms: number) => void;
}

export interface LadderRunReport {
  mode: "single" | "chunked";
  chunks: number;
  dirs: string[];
}

/**
 * The chunked ladder. `run.durationSeconds` is required (the plan needs it); `run.onProgress` receives
 * the chunks' combined progress.
 */
export async function runChunkedLadder(
  options: LadderOptions,
  outputDir: string,
  config: Pick<ChunkedLadderConfig, "chunkSeconds" | "parallel">,
  run: RunFfmpegOptions = {},
  extra: ChunkedRunOptions = {},
): Promise<LadderRunReport> {
  const video = options.video;
  const duration = run.durationSeconds;
  if (!video?.rungs.length || duration === undefined) throw new Error("a chunked ladder needs video and a duration");
  const dirs = ladderDirs(options);
  for (const dir of dirs) await mkdir(path.join(outputDir, dir), { recursive: true });
  const chunks = planChunks(video.durationSeconds ?? duration, video.frameRate, config.chunkSeconds);
  const workDir = extra.workDir ?? path.join(outputDir, ".ladder-chunks");
  const runner = extra.runner ?? localChunkRunner(video, options.input, workDir, outputDir);
  const stop = new AbortController();
  const signal = run.signal ? AbortSignal.any([run.signal, stop.signal]) : stop.signal;
  const outTimes = new Map<number, number>();
  const progress = () => {
    const done = [...outTimes.values()].reduce((a, b) => a + b, 0);
    run.onProgress?.({ outTimeSeconds: done, percent: Math.min(100, (done / duration) * 100), done: false });
  };
  const base: RunFfmpegOptions = {
    signal,
    ffmpegPath: run.ffmpegPath,
    niceness: run.niceness,
    onSpawn: run.onSpawn,
    stallTimeoutMs: run.stallTimeoutMs,
  };
  const inits = new InitRegistry();
  const segments = new Map<string, ChunkSegment[]>(video.rungs.map((r) => [r.name, []]));
  // One failure stops everything else at once.
  const failFast = <T>(p: Promise<T>) =>
    p.catch((err) => {
      stop.abort(err);
      throw err;
    });
  const encodeOne = async (chunk: Chunk): Promise<void> => {
    const t0 = performance.now();
    const renditions: ChunkRendition[] = await runner(chunk, {
      ...base,
      durationSeconds: chunk.seconds,
      onProgress: run.onProgress
        ? (p) => {
            outTimes.set(chunk.index, p.outTimeSeconds);
            progress();
          }
        : undefined,
    });
    for (const r of renditions) inits.check(chunk, r);
    for (const r of renditions) segments.get(r.name)?.push(...r.segments);
    extra.onChunk?.(chunk, performance.now() - t0);
  };
  try {
    const audio =
      options.audioStreamIndex === undefined
        ? Promise.resolve()
        : failFast(runFfmpeg(buildAudioLadderArgs(options), { ...base, cwd: outputDir }).then(() => undefined));
    const encodeAll = failFast(mapLimit(chunks, Math.max(1, config.parallel), (chunk) => failFast(encodeOne(chunk))));
    // Both settle before the work folder goes away; the first failure is the one reported.
    const settled = await Promise.allSettled([audio, encodeAll]);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) throw failed.reason;
    await writeRenditions(outputDir, inits, segments);
    run.onProgress?.({ outTimeSeconds: duration, percent: 100, done: true });
    return { mode: "chunked", chunks: chunks.length, dirs };
  } finally {
    if (!stop.signal.aborted) stop.abort();
    await rm(workDir, { recursive: true, force: true });
  }
}

/** The ladder, chunked when `config` says this source should be (see chunkedLadderConfig). */
export async function runLadderAuto(
  options: LadderOptions,
  outputDir: string,
  run: RunFfmpegOptions = {},
  config: ChunkedLadderConfig = chunkedLadderConfig(),
  extra: ChunkedRunOptions = {},
): Promise<LadderRunReport> {
  const video = options.video;
  if (video?.rungs.length && shouldChunk(video.durationSeconds ?? run.durationSeconds, config)) {
    return runChunkedLadder(options, outputDir, config, run, extra);
  }
  const dirs = await runLadder(options, outputDir, run);
  return { mode: "single", chunks: 1, dirs };
}
