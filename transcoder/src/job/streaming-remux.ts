/**
 * The remux of a source that is still streaming in (./fast-path-streaming.ts), as a handle that can be
 * started before anyone knows it will be wanted.
 *
 * Ingest starts one as soon as the head shows a faststart MP4 (./ingest.ts), copying ffmpeg's first
 * video and first audio stream, so ffmpeg reads and cuts the first segment while ffprobe reads the
 * index: before, the probe (~300 ms on the bench clip) and the first segment (~200 ms) ran one after
 * the other on the way to `ready`. It is kept only when those are the streams the probe picked and the
 * plan takes the streamed fast path; otherwise it is stopped, and its output removed, before anything
 * else writes there (a file whose default audio is its second track gets a remux of its own).
 */
import { rm } from "node:fs/promises";
import path from "node:path";
import type { FirstStreams } from "../ffmpeg/mp4-index.js";
import type { MediaFacts } from "../ffmpeg/probe.js";
import { FAST_DIR, runRemux } from "../ffmpeg/remux.js";
import { type JobContext, timed } from "./context.js";
import type { GrowingFile } from "./growing-file.js";

export interface RemuxStreams {
  video: number | "first";
  audio?: number | "first";
}

export class StreamingRemux {
  /** Settles when ffmpeg has exited; rejects when it failed or was stopped. */
  readonly done: Promise<void>;
  private readonly halt = new AbortController();
  private progress: (mediaSeconds: number, done: boolean) => void = () => undefined;

  constructor(
    private readonly ctx: JobContext,
    file: GrowingFile,
    streams: RemuxStreams,
    signal: AbortSignal,
  ) {
    const stop = AbortSignal.any([signal, this.halt.signal]);
    this.done = timed(ctx, "remux", () =>
      runRemux(
        { kind: "remux", input: "pipe:0", videoIndex: streams.video, audioIndex: streams.audio, adtsToAsc: false },
        ctx.dirs.output,
        {
          signal: stop,
          ffmpegPath: ctx.binaries.copier,
          stdin: file.reader(stop),
          onProgress: (p) => this.progress(p.outTimeSeconds, p.done),
        },
      ),
    );
    this.done.catch(() => undefined);
  }

  /** The streams "first" picked are the ones the probe chose for this source. */
  static copiesPicked(facts: MediaFacts, first: FirstStreams): boolean {
    return facts.video !== undefined && facts.video.index === first.video && facts.audio?.index === first.audio;
  }

  /**
   * From now on, ffmpeg's progress (media seconds written, and whether it is done) goes to `onProgress`,
   * and `signal` stops it too (the fast path that takes over a remux ingest started).
   */
  follow(onProgress: (mediaSeconds: number, done: boolean) => void, signal: AbortSignal): Promise<void> {
    this.progress = onProgress;
    const stop = () => this.abort(signal.reason);
    if (signal.aborted) stop();
    else signal.addEventListener("abort", stop, { once: true });
    return this.done;
  }

  /** Stops ffmpeg (no-op once it has exited); `done` then rejects with `reason`. */
  abort(reason: unknown): void {
    this.halt.abort(reason);
  }

  /** Stops ffmpeg, waits for it to exit and removes what it wrote. */
  async discard(reason: string): Promise<void> {
    this.abort(new Error(reason));
    await this.done.catch(() => undefined);
    await rm(path.join(this.ctx.dirs.output, FAST_DIR), { recursive: true, force: true });
  }
}
