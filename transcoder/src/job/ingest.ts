/**
 * Stage 1 (0–12%): get the source, probe it, check it against the limits and decide the plan (fast
 * path or not). Refuses before downloading when the stored size is already too large.
 *
 * A faststart MP4/MOV (its index before its media, as most encoders and every upload tool write it) is
 * not waited for: the first 2 MiB (the index and the first frames) go into a sparse stand-in of the full
 * size, which is probed — facts, keyframes, truncation, and every packet's time and size — while the
 * whole source streams to disk. The fast path then remuxes the source as it arrives (./growing-file.ts)
 * and the ladder starts once it is all there. Any other file is downloaded first, then probed.
 */
import { rm } from "node:fs/promises";
import path from "node:path";
import { cutClip } from "../clip.js";
import { BULK_MAX_WAIT_MS, type PriorityGovernor } from "../concurrency.js";
import { a53CaptionsIn, headSamples } from "../ffmpeg/a53.js";
import { InputError } from "../ffmpeg/errors.js";
import { FAST_SEGMENT_SECONDS } from "../ffmpeg/hls-output.js";
import { faststartLayout, type Mp4Layout, probeStandIn, writeSparseStandIn } from "../ffmpeg/mp4-index.js";
import {
  applyPacketIndex,
  CAPTION_PROBE_FRAMES,
  type MediaFacts,
  probe,
  probeClosedCaptions,
} from "../ffmpeg/probe.js";
import { checkLimits, planSource, type SourcePlan } from "../ffmpeg/validate.js";
import type { WatermarkInput } from "../ffmpeg/watermark.js";
import type { IndexedPacket } from "../hls/predict.js";
import { fetchWatermark } from "../watermark.js";
import { type JobContext, timed } from "./context.js";
import { FIRST_SEGMENT_MARGIN_BYTES } from "./fast-path-streaming.js";
import { GrowingFile } from "./growing-file.js";
import { StreamingRemux } from "./streaming-remux.js";

/** An unreachable watermark host is retried with the job this many times, then errors the asset. */
export const WATERMARK_FETCH_ATTEMPTS = 3;
/** Video codecs whose decoders export A/53 captions and whose captions libx264 can re-embed. */
const CAPTION_CODECS = new Set(["h264", "mpeg2video", "hevc"]);

export interface ProbedSource {
  facts: MediaFacts;
  plan: SourcePlan;
  duration: number;
  /** Settles when the whole source is on disk at ctx.dirs.source (already, unless streaming). */
  downloaded: Promise<void>;
  /** While the source streams in: its bytes as they arrive, and the packet index read ahead of them. */
  streaming?: {
    file: GrowingFile;
    packets: IndexedPacket[];
    cancel: () => void;
    /**
     * The bytes from `offset` on are bulk: the download yields to other jobs' fast phases (and to this
     * job's own) once past it (ctx.priority.calm). Until called, every byte is urgent.
     */
    bulkFrom: (offset: number) => void;
    /**
     * The remux started beside the probe (./streaming-remux.ts), when it copies the streams the probe
     * picked and the plan has a fast path: the streamed fast path takes it over.
     */
    remux?: StreamingRemux;
  };
  /** The checked watermark image, when the asset has one and the source has a picture. */
  watermark?: WatermarkInput & { displayWidth: number; displayHeight: number };
}

/** Enough for the index of a long file plus the first frames, which the probe decodes for stream facts. */
const HEAD_BYTES = 2 * 1024 * 1024;

function refuseTooLarge(ctx: JobContext, bytes: number): void {
  const limit = ctx.settings.max_size_bytes;
  if (limit !== undefined && bytes > limit) {
    throw new InputError("input_too_large", `the source is ${bytes} bytes, over the limit of ${limit}`);
  }
}

function logProbed(ctx: JobContext, facts: MediaFacts, plan: SourcePlan, streaming: boolean): void {
  ctx.log.info("source.probed", {
    container: facts.container,
    duration: facts.duration,
    video: facts.video ?? null,
    audio: facts.audio ?? null,
    kind: plan.kind,
    fast_path: plan.fastPath,
    fast_path_skipped_because: plan.reasons,
    streaming,
  });
}

/**
 * CEA-608/708 captions ride in the video's SEI: the remux copies them and the ladder re-embeds them
 * (-a53cc). Read by ffprobe from the first frames of `input`, beside the probe rather than after it: it
 * decodes 30 frames (1.2 s of a loaded box's critical path when it ran after). A streamed H.264 source's
 * captions are read from its head's first samples instead (../ffmpeg/a53.ts), with no decode at all.
 * A failure only means no captions track.
 */
function probeCaptions(ctx: JobContext, input: string): Promise<{ found: boolean; error?: unknown }> {
  const probed = timed(ctx, "probe_captions", () =>
    probeClosedCaptions(input, { signal: ctx.signal, ffprobePath: ctx.binaries.ffprobe }).then(
      (found) => ({ found }),
      (error: unknown) => ({ found: false, error }),
    ),
  );
  probed.catch(() => undefined);
  return probed;
}

/**
 * Records the caption probe's answer for a video whose codec carries A/53 captions the ladder can keep. Its
 * failure is worth a warning only then (an unreadable source already failed the main probe).
 */
async function applyCaptions(
  ctx: JobContext,
  facts: MediaFacts,
  probed: () => Promise<{ found: boolean; error?: unknown }>,
): Promise<void> {
  const video = facts.video;
  if (!video || video.closedCaptions || !CAPTION_CODECS.has(video.codec)) return;
  const { found, error } = await probed();
  if (error !== undefined) {
    if (ctx.signal.aborted) throw error;
    ctx.log.warn("captions_probe.failed", { error });
  }
  video.closedCaptions = found;
}

/** Fetched and checked before anything is encoded: a bad watermark fails the job with nothing published. */
async function loadWatermark(ctx: JobContext, facts: MediaFacts): Promise<ProbedSource["watermark"]> {
  const wm = ctx.settings.watermark;
  const video = facts.video;
  if (!wm || !video) return undefined;
  return timed(ctx, "watermark", async () => {
    const image = await fetchWatermark(wm, path.join(ctx.dirs.scratch, "watermark"), {
      signal: ctx.signal,
      ffprobePath: ctx.binaries.ffprobe,
      lastAttempt: ctx.dispatch.attempt >= WATERMARK_FETCH_ATTEMPTS,
    });
    ctx.log.info("watermark.fetched", { width: image.width, height: image.height });
    const { allow_private: _, ...spec } = wm;
    return { path: image.path, spec, displayWidth: video.displayWidth, displayHeight: video.displayHeight };
  });
}

/** Whether the streaming ingest may be tried (TRANSCODER_STREAM_INGEST=0 turns it off). */
function streamingAllowed(): boolean {
  return process.env.TRANSCODER_STREAM_INGEST !== "0";
}

/** Whether a streamed source's remux starts beside its probe (TRANSCODER_EARLY_REMUX=0: after it, to compare). */
function earlyRemuxAllowed(): boolean {
  return process.env.TRANSCODER_EARLY_REMUX !== "0";
}

type SourceHead = { bytes: Buffer; total: number };

/** Media seconds the provisional bound covers: the fast path's first segments and ffmpeg's read-ahead. */
const PROVISIONAL_BULK_SECONDS = 4 * FAST_SEGMENT_SECONDS + 4;

/** The bytes before `PROVISIONAL_BULK_SECONDS` of media at the file's average rate, or no bound (no duration). */
export function provisionalBulkOffset(layout: Mp4Layout, total: number): number {
  const { duration, moovEnd } = layout;
  if (!duration || duration <= PROVISIONAL_BULK_SECONDS) return Number.POSITIVE_INFINITY;
  const media = total - moovEnd;
  return moovEnd + Math.ceil((media * PROVISIONAL_BULK_SECONDS) / duration) + FIRST_SEGMENT_MARGIN_BYTES;
}

/**
 * Where a streamed source's download turns bulk: bytes past it wait while any job (this one too) is still
 * becoming playable. A wait that runs out means the urgent work is waiting for these very bytes (an estimate
 * too low, a fast phase slower than the bound): the rest of the download is no longer paced. Moving the
 * bound wakes a chunk waiting below the new one.
 */
export class BulkBound {
  private moved: () => void = () => undefined;
  constructor(private offset: number) {}

  set(offset: number): void {
    this.offset = offset;
    this.moved();
  }

  pace(bytes: number, priority: PriorityGovernor, signal: AbortSignal): Promise<void> | undefined {
    if (bytes <= this.offset) return undefined;
    return (async () => {
      while (bytes > this.offset) {
        const moved = new Promise<"moved">((resolve) => {
          this.moved = () => resolve("moved");
        });
        const outcome = await Promise.race([priority.calm(BULK_MAX_WAIT_MS, signal), moved]);
        if (outcome === true) return;
        if (outcome === false) {
          this.offset = Number.POSITIVE_INFINITY;
          return;
        }
      }
    })();
  }
}

/** The streamed source, or (when it cannot stream) the head already read, for the download to go on from. */
async function streamingIngest(ctx: JobContext): Promise<{ streamed: ProbedSource } | { head?: SourceHead }> {
  const { reporter } = ctx;
  let head: SourceHead;
  try {
    head = await timed(ctx, "head", () => ctx.client.readSourceHead(HEAD_BYTES, { signal: ctx.signal }));
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    // A source that cannot be read in ranges (or a head read that failed) is simply downloaded first.
    ctx.log.warn("source.head_failed", { error: err });
    return {};
  }
  refuseTooLarge(ctx, head.total);
  const layout = faststartLayout(head.bytes);
  // Small files are downloaded in one go anyway; an index past the head is rare enough to not stream.
  if (!layout || layout.needMore !== undefined || head.total <= HEAD_BYTES) return { head };

  const standIn = path.join(ctx.dirs.root, "index-stand-in");
  await writeSparseStandIn(standIn, head.bytes, head.total);
  const file = new GrowingFile(ctx.dirs.source);
  const stopDownload = new AbortController();
  const signal = AbortSignal.any([ctx.signal, stopDownload.signal]);
  const priority = ctx.priority;
  // While the index is probed, only the bytes the first segments are likely to need come in (estimated
  // from the average bitrate): the rest of a download at full speed took the CPU the probe needed (the
  // probe took 585 ms beside it against 160 ms alone). The probe's exact bound then replaces it.
  const bound = new BulkBound(priority ? provisionalBulkOffset(layout, head.total) : Number.POSITIVE_INFINITY);
  const downloaded = timed(ctx, "download", () =>
    ctx.client.downloadSource(ctx.dirs.source, {
      signal,
      head,
      pace: priority ? (bytes) => bound.pace(bytes, priority, signal) : undefined,
      onProgress: (bytes) => {
        file.progress(bytes);
        reporter.update("downloading", (10 * bytes) / head.total);
      },
    }),
  ).then(
    (got) => {
      if (got.bytes !== head.total) {
        throw new InputError(
          "input_unreadable",
          `the source changed while it was read (${got.bytes} of ${head.total} bytes)`,
        );
      }
      file.complete(got.bytes);
      ctx.log.info("source.downloaded", { bytes: got.bytes, ms: Date.now() - ctx.startedAt, streamed: true });
    },
    (err) => {
      file.fail(err);
      throw err;
    },
  );
  downloaded.catch(() => undefined);
  // ffmpeg starts cutting the first segment now, while ffprobe reads the index (./streaming-remux.ts); the
  // probe decides below whether its work is kept. Stopping the download (cancel, a failed probe) stops it too.
  let remux =
    earlyRemuxAllowed() && ctx.settings.fast_path
      ? new StreamingRemux(ctx, file, { video: "first", audio: "first" }, signal)
      : undefined;
  try {
    const run = { signal: ctx.signal, ffprobePath: ctx.binaries.ffprobe };
    // The packet index from the head's moov (or, for a file that is not read here, from ffprobe with the facts);
    // it answers the keyframe and integrity questions.
    const { facts, packets, firstStreams, indexedBy, reason } = await timed(ctx, "probe", () =>
      probeStandIn(standIn, head.bytes, head.total, run),
    );
    ctx.log.info("source.indexed", {
      by: indexedBy,
      packets: packets.length,
      ...(reason ? { why_ffprobe: reason } : {}),
    });
    applyPacketIndex(facts, packets);
    facts.sizeBytes = head.total;
    checkLimits(facts, ctx.settings);
    await applyCaptions(ctx, facts, async () => {
      // H.264 captions are read from the head's first samples; anything else is decoded by ffprobe.
      const video = facts.video;
      const samples =
        video?.codec === "h264" ? headSamples(head.bytes, packets, video.index, CAPTION_PROBE_FRAMES) : undefined;
      const found = samples && a53CaptionsIn(samples);
      if (found !== undefined) return { found };
      return probeCaptions(ctx, standIn);
    });
    const plan = planSource(facts, ctx.settings);
    logProbed(ctx, facts, plan, true);
    if (remux && !(plan.fastPath && StreamingRemux.copiesPicked(facts, firstStreams))) {
      const reason = plan.fastPath ? "the probe picked other streams" : "no fast path";
      ctx.log.info("fast_path.early_remux_discarded", { reason, picked: [facts.video?.index, facts.audio?.index] });
      await remux.discard(reason);
      remux = undefined;
    }
    reporter.update("probing", 12);
    const cancel = () => stopDownload.abort(new Error("the job stopped"));
    const bulkFrom = (offset: number) => bound.set(offset);
    return {
      streamed: {
        facts,
        plan,
        duration: facts.duration,
        downloaded,
        streaming: { file, packets, cancel, bulkFrom, remux },
      },
    };
  } catch (err) {
    bound.set(Number.POSITIVE_INFINITY);
    stopDownload.abort(err);
    await Promise.all([downloaded.catch(() => undefined), remux?.done.catch(() => undefined)]);
    throw err;
  } finally {
    await rm(standIn, { force: true });
  }
}

export async function ingestSource(ctx: JobContext): Promise<ProbedSource> {
  const { settings, reporter, signal } = ctx;
  refuseTooLarge(ctx, settings.source_size_bytes);
  // A source that fits in the head is downloaded in one go: no second request for the same bytes. A clip
  // is cut from the whole original before anything is probed, and a watermarked asset has no fast path
  // (it must never show an unwatermarked frame), so neither streams.
  let head: SourceHead | undefined;
  if (streamingAllowed() && settings.source_size_bytes > HEAD_BYTES && !settings.clip && !settings.watermark) {
    const tried = await streamingIngest(ctx);
    if ("streamed" in tried) return tried.streamed;
    head = tried.head;
  }

  const expected = settings.source_size_bytes || undefined;
  const downloaded = await timed(ctx, "download", () =>
    ctx.client.downloadSource(ctx.dirs.source, {
      signal,
      head,
      onProgress: (bytes, total) => {
        const of = total ?? expected;
        if (of) reporter.update("downloading", (10 * bytes) / of);
      },
    }),
  );
  ctx.log.info("source.downloaded", {
    bytes: downloaded.bytes,
    content_type: downloaded.contentType ?? null,
    ms: Date.now() - ctx.startedAt,
  });

  // A clip asset's source is the original it was cut from: cut the range first (../clip.ts).
  const clip = settings.clip;
  if (clip) {
    const cut = await timed(ctx, "clip", () =>
      cutClip(ctx.dirs.source, clip, { signal, ffmpegPath: ctx.binaries.ffmpeg, ffprobePath: ctx.binaries.ffprobe }),
    );
    ctx.log.info("clip.cut", { mode: cut.mode, reason: cut.reason ?? null });
  }

  reporter.update("probing", 10);
  refuseTooLarge(ctx, downloaded.bytes);
  const captions = probeCaptions(ctx, ctx.dirs.source);
  const facts = await timed(ctx, "probe", () =>
    probe(ctx.dirs.source, { signal, keyframes: true, ffprobePath: ctx.binaries.ffprobe }),
  );
  checkLimits(facts, settings);
  await applyCaptions(ctx, facts, () => captions);
  const plan = planSource(facts, settings);
  logProbed(ctx, facts, plan, false);
  const watermark = await loadWatermark(ctx, facts);
  reporter.update("probing", 12);
  return { facts, plan, duration: facts.duration, downloaded: Promise.resolve(), watermark };
}
