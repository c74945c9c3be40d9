/**
 * Instant clips at the edge: `?asset_start_time=&asset_end_time=` on VOD playlists (src/lib/clips.ts
 * has the rules and the trimming). The range comes from the query or from token claims of the same
 * names; a pinned claim wins and a different value in the query is refused, like thumbnail parameters.
 */
import { CLIP_PARAMS, type ClipParam, type ClipRange, parseClipRange, sameClipValue } from "../../../src/lib/clips";
import type { PlaybackClaims } from "../../../src/lib/playback-token";

export type ClipDecision =
  | { ok: true; range: ClipRange | null }
  | { ok: false; status: 400 | 403; reason: "invalid_clip_range" | "clip_params_mismatch"; message?: string };

export function requestedClip(url: URL, claims: PlaybackClaims | null, durationSeconds: number | null): ClipDecision {
  const raw: Partial<Record<ClipParam, string>> = {};
  for (const name of CLIP_PARAMS) {
    const q = url.searchParams.get(name);
    const pinned = claims?.[name];
    if (pinned !== undefined && pinned !== null) {
      if (q !== null && !sameClipValue(q, pinned)) return { ok: false, status: 403, reason: "clip_params_mismatch" };
      raw[name] = String(pinned);
    } else if (q !== null) raw[name] = q;
  }
  const parsed = parseClipRange(raw, durationSeconds);
  if (!parsed.ok) return { ok: false, status: 400, reason: parsed.reason, message: parsed.message };
  return parsed;
}
