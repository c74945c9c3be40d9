/**
 * The segment-parallel ladder's plan: where the timeline is cut, and when it is cut at all.
 *
 * Cuts sit on the 6 s segment grid (a chunk is a whole number of segments) and on the output frame
 * grid: a chunk starts at the first output frame at or after its boundary, which is where the
 * single-process ladder forces a keyframe and cuts a segment too. Each chunk but the last encodes an
 * exact frame count, so chunks neither overlap nor leave a gap; the last one runs to the end of the
 * source, as the single-process ladder does.
 */

import { SEGMENT_SECONDS } from "../ffmpeg/hls-output.js";
import type { Rational } from "../ffmpeg/probe.js";

export interface Chunk {
  index: number;
  /** The chunk's first output frame (frames counted from the start at the output frame rate). */
  startFrame: number;
  /** Exact frame count; absent for the last chunk (to the end of the source). */
  frames?: number;
  /** startFrame in seconds. */
  startSeconds: number;
  /** Its nominal length in seconds (for the last chunk: what the probed duration leaves). */
  seconds: number;
  /** Global number of its first segment (`seg_%05d`). */
  firstSegment: number;
  /** Segments it must produce; absent for the last chunk. */
  segments?: number;
}

export interface ChunkedLadderConfig {
  /** Sources at least this long are encoded in chunks; shorter ones by one process. */
  minSeconds: number;
  /** Chunk length, rounded to whole segments. */
  chunkSeconds: number;
  /** Chunks encoded at once. */
  parallel: number;
}

/** Defaults: see bench/vod.ts --parallel for the measurements behind them (and the report in issue 14). */
export const DEFAULT_CHUNKED_LADDER: ChunkedLadderConfig = { minSeconds: 600, chunkSeconds: 60, parallel: 2 };

/** A last chunk shorter than this joins the one before it (a chunk costs a process start and a seek). */
const MIN_LAST_CHUNK_SECONDS = 2 * SEGMENT_SECONDS;

function positive(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === "") return undefined;
  const n = Number(raw);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/**
 * KEYFRAME_CHUNKED_LADDER_MIN_SECONDS (0 or "off" turns chunking off), KEYFRAME_LADDER_CHUNK_SECONDS,
 * KEYFRAME_LADDER_CHUNK_PARALLEL, each falling back to the default.
 */
export function chunkedLadderConfig(env: Record<string, string | undefined> = process.env): ChunkedLadderConfig {
  const rawMin = env.KEYFRAME_CHUNKED_LADDER_MIN_SECONDS?.trim().toLowerCase();
  const off = rawMin === "0" || rawMin === "off";
  return {
    minSeconds: off ? Number.POSITIVE_INFINITY : (positive(rawMin) ?? DEFAULT_CHUNKED_LADDER.minSeconds),
    chunkSeconds: positive(env.KEYFRAME_LADDER_CHUNK_SECONDS) ?? DEFAULT_CHUNKED_LADDER.chunkSeconds,
    parallel: Math.floor(positive(env.KEYFRAME_LADDER_CHUNK_PARALLEL) ?? DEFAULT_CHUNKED_LADDER.parallel),
  };
}

/** Chunk length in whole segments, at least one. */
export function chunkSegments(chunkSeconds: number): number {
  return Math.max(1, Math.round(chunkSeconds / SEGMENT_SECONDS));
}

/** The first output frame at or after t (a boundary on the segment grid). */
function firstFrameAtOrAfter(t: number, rate: Rational): number {
  // t·num/den, exact for integer t and the rationals we use; the epsilon absorbs float noise.
  return Math.max(0, Math.ceil((t * rate.num) / rate.den - 1e-9));
}

/**
 * The chunks for a source of `durationSeconds` at output rate `rate`; one chunk (the whole source)
 * when chunking would not split it.
 */
export function planChunks(durationSeconds: number, rate: Rational, chunkSeconds: number): Chunk[] {
  const perChunk = chunkSegments(chunkSeconds);
  const length = perChunk * SEGMENT_SECONDS;
  let count = Math.max(1, Math.ceil(durationSeconds / length - 1e-9));
  if (count > 1 && durationSeconds - (count - 1) * length < MIN_LAST_CHUNK_SECONDS) count--;
  const chunks: Chunk[] = [];
  for (let i = 0; i < count; i++) {
    const startFrame = firstFrameAtOrAfter(i * length, rate);
    const last = i === count - 1;
    const nextFrame = last ? undefined : firstFrameAtOrAfter((i + 1) * length, rate);
    chunks.push({
      index: i,
      startFrame,
      frames: nextFrame === undefined ? undefined : nextFrame - startFrame,
      startSeconds: (startFrame * rate.den) / rate.num,
      seconds: last ? Math.max(0, durationSeconds - i * length) : length,
      firstSegment: i * perChunk,
      segments: last ? undefined : perChunk,
    });
  }
  return chunks;
}

/** Whether a source of this duration is encoded in chunks under `config`. */
export function shouldChunk(durationSeconds: number | undefined, config: ChunkedLadderConfig): boolean {
  if (durationSeconds === undefined || !Number.isFinite(durationSeconds)) return false;
  if (durationSeconds < config.minSeconds) return false;
  return planChunksCount(durationSeconds, config.chunkSeconds) > 1;
}

function planChunksCount(durationSeconds: number, chunkSeconds: number): number {
  return planChunks(durationSeconds, { num: 1, den: 1 }, chunkSeconds).length;
}
