/**
 * WebVTT for HLS: one subtitle segment per video segment (same boundaries, so the subtitle playlist has
 * the video's target duration and total length), each carrying the cues that overlap its interval. A cue
 * spanning a boundary is repeated in both segments under the same cue ID, which players (hls.js,
 * Safari) de-duplicate.
 *
 * Cue times stay absolute (media time from the start of the asset) with
 * `X-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000`: local 0 is media PTS 0. Our fMP4 segments start at
 * PTS 0 (ffmpeg's HLS muxer), so cues line up; hls.js needs the map for fMP4 too (it converts MPEGTS
 * against the init PTS it measured), and for a trimmed instant clip (whose first segment starts at PTS
 * > 0) the same map makes cues land at the clip-relative time without rewriting them.
 */
import type { Cue } from "./parse";
import { cueBlock } from "./serialize";

export interface SegmentTiming {
  start: number;
  duration: number;
}

export interface MediaTimeline {
  targetDuration: number;
  segments: SegmentTiming[];
}

/** The segment boundaries of a VOD media playlist (EXTINF durations, in order). */
export function mediaTimeline(playlist: string): MediaTimeline {
  let targetDuration = 0;
  const segments: SegmentTiming[] = [];
  let t = 0;
  for (const line of playlist.split(/\r?\n/)) {
    const td = /^#EXT-X-TARGETDURATION:(\d+)/.exec(line);
    if (td) targetDuration = Number(td[1]);
    const inf = /^#EXTINF:([\d.]+)/.exec(line);
    if (inf) {
      const d = Number(inf[1]);
      segments.push({ start: t, duration: d });
      t += d;
    }
  }
  if (targetDuration === 0) targetDuration = Math.ceil(Math.max(0, ...segments.map((s) => s.duration)));
  return { targetDuration, segments };
}

export const TIMESTAMP_MAP = "X-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000";

/** A VOD subtitle media playlist whose segment `i` is at `uriFor(i)`. */
export function subtitlePlaylist(timeline: MediaTimeline, uriFor: (i: number) => string): string {
  const lines = [
    "#EXTM3U",
    "#EXT-X-VERSION:3",
    `#EXT-X-TARGETDURATION:${timeline.targetDuration}`,
    "#EXT-X-MEDIA-SEQUENCE:0",
    "#EXT-X-PLAYLIST-TYPE:VOD",
  ];
  timeline.segments.forEach((s, i) => {
    lines.push(`#EXTINF:${s.duration.toFixed(6)},`, uriFor(i));
  });
  lines.push("#EXT-X-ENDLIST", "");
  return lines.join("\n");
}

/** Segment `seg` of the track: the cues overlapping [start, start + duration), IDs by file position. */
export function vttSegment(cues: readonly Cue[], seg: SegmentTiming, isLast = false): string {
  const from = seg.start;
  const to = seg.start + seg.duration;
  const blocks: string[] = [];
  cues.forEach((c, i) => {
    // The last segment also takes cues that run past the end of the video.
    if (c.end > from && (c.start < to || (isLast && c.start >= to))) blocks.push(cueBlock(c, `c${i + 1}`));
  });
  return `WEBVTT\n${TIMESTAMP_MAP}\n\n${blocks.join("\n")}`;
}
