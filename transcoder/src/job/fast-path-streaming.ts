/**
 * The fast path for a source that is still streaming in (./ingest.ts): ffmpeg remuxes the bytes as they
 * arrive, each segment is uploaded as soon as ffmpeg closes it (several at once), and the asset is
 * published "fast" once the first segment is stored — with the complete VOD playlist (every segment,
 * ENDLIST) predicted from the source's packet index (../hls/predict.ts) and the master measured from
 * the same index, so nothing is probed twice. The rest of the segments keep flowing, far faster than
 * real time; the edge holds a request for a listed segment that is still on its way.
 *
 * Only used when the prediction is stable (the caller falls back otherwise). After ffmpeg exits, its own
 * playlist is compared with the published one; a mismatch (never seen in tests) is logged and the real
 * playlist replaces the predicted one.
 */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { BULK_MAX_WAIT_MS } from "../concurrency.js";
import { FAST_SEGMENT_SECONDS, INIT_NAME, PLAYLIST_NAME } from "../ffmpeg/hls-output.js";
import { FAST_DIR } from "../ffmpeg/remux.js";
import { aacCodec, avcCodecFromInit, avcCodecFromProfile } from "../hls/codecs.js";
import { MASTER_NAME, type MeasuredRendition, peakBitrate, renderMaster } from "../hls/master.js";
import { parseMediaPlaylist } from "../hls/media-playlist.js";
import {
  type IndexedPacket,
  matchesPrediction,
  type PredictedSegment,
  predictedSizes,
  predictSegments,
  renderPredictedPlaylist,
} from "../hls/predict.js";
import { SegmentUploader } from "../segment-uploader.js";
import { type JobContext, putFile, timed } from "./context.js";
import { closedCaptionsLabel } from "./describe.js";
import { publishFast } from "./fast-publish.js";
import type { ProbedSource } from "./ingest.js";
import { StreamingRemux } from "./streaming-remux.js";

const PLAYLIST_REL = `${FAST_DIR}/${PLAYLIST_NAME}`;

export interface StreamingFastPath {
  /** Settles when every fast segment is stored (or the tail gave up); rejects only when the job must stop. */
  tail: Promise<void>;
}

/** The cut points when they can be trusted, else undefined (the caller uses the download-first path). */
export function stablePrediction(src: ProbedSource): PredictedSegment[] | undefined {
  const video = src.facts.video;
  if (!src.streaming || !video) return undefined;
  const prediction = predictSegments(src.streaming.packets, video.index, FAST_SEGMENT_SECONDS);
  if (!prediction?.stable) return undefined;
  // The index must cover the whole file: a playlist that ends early would be published with ENDLIST.
  const listed = prediction.segments.reduce((n, s) => n + s.duration, 0);
  return Math.abs(listed - src.duration) <= Math.max(1, src.duration * 0.01) ? prediction.segments : undefined;
}

/** Read-ahead past the last packet the remux needs before it closes the first segment (demuxer buffering). */
export const FIRST_SEGMENT_MARGIN_BYTES = 1024 * 1024;

/**
 * The source bytes the remux reads before it closes the first segment, plus a margin. Measured, not
 * derived: ffmpeg (5.1 and 4.1) reading a pipe opens the second segment only some seconds of media after
 * the cut (~6 s of a 20 s test clip, even with -max_interleave_delta 0), so the second segment's packets
 * count too (test/node/transcoder/streaming.test.ts proves the bound). Infinity when the index has no
 * byte positions or there are fewer than three segments (nothing is bulk then).
 */
export function firstSegmentBytes(packets: readonly IndexedPacket[], predicted: readonly PredictedSegment[]): number {
  const until = predicted[2]?.start;
  if (until === undefined) return Number.POSITIVE_INFINITY;
  let end = 0;
  for (const p of packets) {
    if (p.pts > until + 0.5) continue;
    if (p.pos === undefined) return Number.POSITIVE_INFINITY;
    end = Math.max(end, p.pos + p.size);
  }
  return end + FIRST_SEGMENT_MARGIN_BYTES;
}

/** The fast rendition as the master describes it, from the source's facts and the predicted sizes. */
function predictedRendition(src: ProbedSource, segments: PredictedSegment[], init: Buffer): MeasuredRendition {
  const { facts } = src;
  const video = facts.video;
  const sizes = predictedSizes(segments);
  const withInit = sizes.map((s, i) => (i === 0 ? { ...s, bytes: s.bytes + init.length } : s));
  const totalBytes = init.length + sizes.reduce((n, s) => n + s.bytes, 0);
  const duration = segments.reduce((n, s) => n + s.duration, 0);
  const target = Math.max(...segments.map((s) => Math.round(s.duration)), 1);
  const average = duration > 0 ? (totalBytes * 8) / duration : 0;
  const peak = Math.max(peakBitrate(withInit, target), average);
  const videoCodec = video ? avcCodecFromInit(init) || avcCodecFromProfile(video.profile, video.level) : undefined;
  const audioCodec = facts.audio ? aacCodec(facts.audio.profile) : undefined;
  const fps = video?.rFrameRate ? video.rFrameRate.num / video.rFrameRate.den : video?.frameRate;
  return {
    name: FAST_DIR,
    type: "muxed",
    playlist: PLAYLIST_REL,
    codecs: [videoCodec, audioCodec].filter(Boolean).join(","),
    bandwidth: Math.max(1, Math.ceil(peak)),
    average_bandwidth: Math.max(1, Math.ceil(average)),
    segments: segments.length,
    totalBytes,
    duration,
    width: video?.displayWidth,
    height: video?.displayHeight,
    ...(fps ? { frame_rate: Math.round(fps * 1000) / 1000 } : {}),
    videoCodec,
    audioCodec,
    channels: facts.audio?.channels,
    sampleRate: facts.audio?.sampleRate,
  };
}

/**
 * Starts the remux and resolves once the asset is published "fast". The remux and the remaining uploads
 * go on in `tail`, which the runner awaits before it publishes "complete".
 */
export async function runStreamingFastPath(
  ctx: JobContext,
  src: ProbedSource,
  predicted: PredictedSegment[],
): Promise<StreamingFastPath> {
  const { facts, duration } = src;
  const video = facts.video;
  const streaming = src.streaming;
  if (!video || !streaming) throw new Error("runStreamingFastPath needs a streaming source with video");
  const { reporter, signal } = ctx;
  const outputDir = ctx.dirs.output;
  const stop = new AbortController();
  const work = AbortSignal.any([signal, stop.signal]);
  let firstStored: () => void = () => undefined;
  const first = new Promise<void>((resolve) => {
    firstStored = resolve;
  });
  // The bytes up to the second segment's first keyframe make the asset playable; the rest is bulk, and so
  // is every segment after the first: both wait while any job (this one too) is still becoming playable.
  streaming.bulkFrom(firstSegmentBytes(streaming.packets, predicted));
  const firstRel = `${FAST_DIR}/seg_00000.m4s`;
  const segments = new SegmentUploader({
    outputDir,
    dirs: [FAST_DIR],
    concurrency: ctx.uploadConcurrency,
    put: async (rel) => {
      if (rel !== firstRel) await ctx.priority?.calm(BULK_MAX_WAIT_MS, work);
      return putFile(ctx, rel, work);
    },
    onError: (err) => stop.abort(err),
    onUploaded: (rel) => {
      if (rel === firstRel) firstStored();
    },
    pollMs: 20,
  });
  reporter.update("remuxing", 12);
  // The remux ingest started beside the probe, already cutting segments; else one for the picked streams.
  const remuxer =
    streaming.remux ?? new StreamingRemux(ctx, streaming.file, { video: video.index, audio: facts.audio?.index }, work);
  ctx.log.info("fast_path.remux", { started_early: streaming.remux !== undefined });
  const remux = remuxer.follow(
    (seconds, done) =>
      reporter.update("remuxing", 12 + 5 * (done ? 1 : Math.min(1, seconds / Math.max(duration, 0.001)))),
    work,
  );
  segments.start();
  // The remux ends the moment ffmpeg exits: every segment on disk is final, so the uploader may take the last.
  const finished = remux.then(() => segments.finish());
  finished.catch(() => undefined);
  const settle = async () => {
    stop.abort(new Error("the fast path stopped"));
    await Promise.allSettled([remux, segments.stop()]);
  };

  try {
    await timed(ctx, "first_segment", () => Promise.race([first, finished]));
    const init = await readFile(path.join(outputDir, FAST_DIR, INIT_NAME));
    const rendition = predictedRendition(src, predicted, init);
    const playlistFile = path.join(ctx.dirs.root, "fast-predicted.m3u8");
    await writeFile(playlistFile, renderPredictedPlaylist(predicted, INIT_NAME));
    await writeFile(
      path.join(outputDir, MASTER_NAME),
      renderMaster([rendition], { closedCaptions: closedCaptionsLabel(facts) }),
    );
    await timed(ctx, "fast_upload", async () => {
      // Init and playlist before the master that points to them.
      await Promise.all([
        putFile(ctx, `${FAST_DIR}/${INIT_NAME}`),
        ctx.client.putOutput(PLAYLIST_REL, playlistFile, { signal, contentType: "application/vnd.apple.mpegurl" }),
      ]);
      await putFile(ctx, MASTER_NAME);
    });
    await publishFast(ctx, src, rendition, {
      streamed: true,
      segments_stored: segments.files,
      segments_listed: predicted.length,
    });
  } catch (err) {
    await settle();
    throw err;
  }

  const tail = timed(ctx, "fast_tail", async () => {
    try {
      await finished;
      const actual = parseMediaPlaylist(await readFile(path.join(outputDir, PLAYLIST_REL), "utf8"));
      if (!matchesPrediction(actual, predicted)) {
        ctx.log.error("fast_path.prediction_mismatch", {
          predicted: predicted.map((s) => s.duration),
          actual: actual.segments.map((s) => s.duration),
        });
        await putFile(ctx, PLAYLIST_REL);
      }
    } catch (err) {
      if (signal.aborted) throw signal.reason ?? err;
      // The ladder still completes the asset; until then some fast segments may be missing.
      ctx.log.error("fast_path.tail_failed", { error: err });
    } finally {
      await settle();
    }
  });
  tail.catch(() => undefined);
  return { tail };
}
