/**
 * The fast rendition's media playlist, known before the remux has run: from the source's packet index
 * (time, keyframe flag and size of every packet), where ffmpeg's HLS muxer will cut a stream copy and
 * how many bytes each segment will hold. The muxer (libavformat/hlsenc.c, every version we support)
 * cuts at the first video keyframe whose pts, less the first packet's, reaches `hls_time × n` for the
 * n-th cut; a copy never moves a keyframe, so the cut points follow from the index alone.
 *
 * The one input ffmpeg decides at run time is which packet it counts from; the prediction is made
 * from each candidate and is `stable` only when they agree, so a caller publishes a predicted playlist
 * only when the real one cannot differ. `compareToActual` checks it after the fact.
 */

import type { SegmentSize } from "./master.js";
import { type MediaPlaylist, renderVodPlaylist } from "./media-playlist.js";

export interface IndexedPacket {
  stream: number;
  /** Presentation time in seconds. */
  pts: number;
  /** End of presentation (pts + duration) in seconds. */
  end: number;
  key: boolean;
  size: number;
  /** Byte offset of the packet's data in the file, when the index says (MP4 sample offsets). */
  pos?: number;
}

export interface PredictedSegment {
  start: number;
  duration: number;
  /** Media bytes of every stream presented in the segment (without the fMP4 boxes around them). */
  bytes: number;
}

export interface Prediction {
  segments: PredictedSegment[];
  /** True when every plausible starting packet gives the same cuts. */
  stable: boolean;
}

function cutsFrom(video: readonly IndexedPacket[], origin: number, hlsTime: number): number[] {
  const cuts = [video[0].pts];
  let n = 1;
  // Times are compared in microseconds, as ffmpeg compares them against AV_TIME_BASE.
  for (let i = 1; i < video.length; i++) {
    const p = video[i];
    if (!p.key) continue;
    if (Math.round((p.pts - origin) * 1e6) >= Math.round(hlsTime * n * 1e6)) {
      cuts.push(p.pts);
      n++;
    }
  }
  return cuts;
}

/** Packets of `videoStream` in decode order; `others` are the remaining streams' packets. */
export function predictSegments(
  packets: readonly IndexedPacket[],
  videoStream: number,
  hlsTime: number,
): Prediction | undefined {
  const video = packets.filter((p) => p.stream === videoStream);
  if (video.length === 0) return undefined;
  const firstVideo = video[0].pts;
  const firstOther = packets.find((p) => p.stream !== videoStream && p.pts >= 0)?.pts;
  const origins = [firstVideo, ...(firstOther !== undefined ? [Math.min(firstVideo, firstOther)] : [])];
  const candidates = origins.map((o) => cutsFrom(video, o, hlsTime));
  const cuts = candidates[0];
  const stable = candidates.every((c) => c.length === cuts.length && c.every((t, i) => t === cuts[i]));
  const end = Math.max(...video.map((p) => p.end));
  const segments: PredictedSegment[] = cuts.map((start, i) => ({
    start,
    duration: (i + 1 < cuts.length ? cuts[i + 1] : end) - start,
    bytes: 0,
  }));
  // Bytes by presentation time: each packet belongs to the segment its time falls in.
  for (const p of packets) {
    let i = segments.length - 1;
    while (i > 0 && p.pts < segments[i].start) i--;
    segments[i].bytes += p.size;
  }
  return { segments, stable };
}

/** The VOD media playlist ffmpeg will write for these segments (same names, same tags). */
export function renderPredictedPlaylist(segments: readonly PredictedSegment[], initName: string): string {
  return renderVodPlaylist(
    segments.map((s, i) => ({ duration: s.duration, uri: `seg_${String(i).padStart(5, "0")}.m4s` })),
    initName,
  );
}

/** Segment sizes for BANDWIDTH, with an allowance for the fMP4 boxes (moof/mdat/trun) around the media. */
export function predictedSizes(segments: readonly PredictedSegment[]): SegmentSize[] {
  return segments.map((s) => ({ bytes: Math.ceil(s.bytes * 1.02) + 1024, duration: s.duration }));
}

/** Whether ffmpeg's real playlist lists the same segments, each within 50 ms of the predicted duration. */
export function matchesPrediction(actual: MediaPlaylist, predicted: readonly PredictedSegment[]): boolean {
  return (
    actual.segments.length === predicted.length &&
    actual.segments.every(
      (s, i) =>
        s.uri === `seg_${String(i).padStart(5, "0")}.m4s` && Math.abs(s.duration - predicted[i].duration) < 0.05,
    )
  );
}
