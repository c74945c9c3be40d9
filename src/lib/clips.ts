/**
 * Instant clips: `?asset_start_time=&asset_end_time=` (seconds) on a VOD playback URL trims its playlists
 * without any processing. Segment-accurate: a trimmed playlist keeps every segment that overlaps
 * [start, end) — so playback starts at the beginning of the segment holding `start` (up to one target
 * duration, ~6 s, early) and stops at the end of the segment holding `end` (up to one segment late).
 * `end` beyond the duration is clamped to the end; `start` at or beyond it is refused. Signed tokens may
 * pin either value as a claim of the same name; a different value in the query is refused.
 */

export const CLIP_PARAMS = ["asset_start_time", "asset_end_time"] as const;
export type ClipParam = (typeof CLIP_PARAMS)[number];

export interface ClipRange {
  start: number;
  /** null: to the end of the asset. */
  end: number | null;
}

export type ClipRangeResult =
  | { ok: true; range: ClipRange | null }
  | { ok: false; reason: "invalid_clip_range"; message: string };

const NUMBER_RE = /^\d{1,7}(\.\d{1,6})?$/;

/** Raw query/claim values → a range, or the precise reason it is refused. `duration` in seconds, if known. */
export function parseClipRange(
  raw: Partial<Record<ClipParam, string>>,
  durationSeconds: number | null,
): ClipRangeResult {
  const bad = (message: string) => ({ ok: false as const, reason: "invalid_clip_range" as const, message });
  const values: Partial<Record<ClipParam, number>> = {};
  for (const name of CLIP_PARAMS) {
    const v = raw[name];
    if (v === undefined) continue;
    if (!NUMBER_RE.test(v.trim()))
      return bad(`${name} must be a non-negative number of seconds, got '${v.slice(0, 40)}'.`);
    values[name] = Number(v.trim());
  }
  const start = values.asset_start_time;
  const end = values.asset_end_time;
  if (start === undefined && end === undefined) return { ok: true, range: null };
  const s = start ?? 0;
  if (end !== undefined && end <= s) {
    return bad(`asset_end_time (${end}) must be greater than asset_start_time (${s}).`);
  }
  if (durationSeconds !== null && s >= durationSeconds) {
    return bad(`asset_start_time (${s}) is at or beyond the end of the video (${durationSeconds} s).`);
  }
  return { ok: true, range: { start: s, end: end ?? null } };
}

/** Query value equals the pinned claim (numbers compared as numbers: `5` pins `5.0`). */
export function sameClipValue(query: string, pinned: unknown): boolean {
  return query.trim() !== "" && Number(query) === Number(pinned);
}

/** The query string a clip adds to child playlist URLs. */
export function clipQuery(range: ClipRange): Record<string, string> {
  const q: Record<string, string> = { asset_start_time: String(range.start) };
  if (range.end !== null) q.asset_end_time = String(range.end);
  return q;
}

/**
 * Keeps the segments of a VOD media playlist that overlap the range. Playlist-level tags stay; an
 * EXT-X-MAP or EXT-X-KEY in force for the first kept segment is carried over even if it was written
 * before a dropped one. Returns null when no segment overlaps.
 */
export function trimMediaPlaylist(text: string, range: ClipRange): string | null {
  const lines = text.split(/\r?\n/);
  const head: string[] = [];
  const out: string[] = [];
  let pending: string[] = [];
  let t = 0;
  let duration: number | null = null;
  let seenSegment = false;
  let kept = 0;
  let carriedMap: string | null = null;
  let carriedKey: string | null = null;
  const end = range.end ?? Number.POSITIVE_INFINITY;
  for (const line of lines) {
    const s = line.trim();
    if (s === "" || s === "#EXT-X-ENDLIST") continue;
    if (s.startsWith("#")) {
      const inf = /^#EXTINF:([\d.]+)/.exec(s);
      if (inf) duration = Number(inf[1]);
      // Tags before the first segment's EXTINF that describe the playlist stay in the head.
      if (!seenSegment && !inf && !s.startsWith("#EXT-X-MAP") && !s.startsWith("#EXT-X-KEY")) head.push(line);
      else pending.push(line);
      if (inf) seenSegment = true;
      continue;
    }
    // A URI line closes one segment.
    const d = duration ?? 0;
    const overlaps = t < end - 1e-6 && t + d > range.start + 1e-6;
    if (overlaps) {
      const hasMap = pending.some((l) => l.trim().startsWith("#EXT-X-MAP"));
      const hasKey = pending.some((l) => l.trim().startsWith("#EXT-X-KEY"));
      if (kept === 0) {
        if (!hasMap && carriedMap) out.push(carriedMap);
        if (!hasKey && carriedKey) out.push(carriedKey);
      }
      out.push(...pending.filter((l) => !(kept === 0 && l.trim() === "#EXT-X-DISCONTINUITY")), line);
      kept++;
    } else {
      for (const l of pending) {
        if (l.trim().startsWith("#EXT-X-MAP")) carriedMap = l;
        if (l.trim().startsWith("#EXT-X-KEY")) carriedKey = l;
      }
    }
    pending = [];
    duration = null;
    seenSegment = true;
    t += d;
  }
  if (kept === 0) return null;
  return [...head, ...out, "#EXT-X-ENDLIST", ""].join("\n");
}
