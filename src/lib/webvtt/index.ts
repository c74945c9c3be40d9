/** Subtitles and captions: decode, parse/normalise, serialise, segment for HLS. All pure. */
export * from "./decode";
export * from "./parse";
export * from "./segment";
export * from "./serialize";

import { decodeSubtitleBytes } from "./decode";
import { type ParsedSubtitles, parseSubtitles, type SubtitleError } from "./parse";
import { serializeWebVtt } from "./serialize";

export type NormalizeResult =
  | { ok: true; vtt: string; parsed: ParsedSubtitles; encoding: string }
  | { ok: false; error: SubtitleError };

/** Bytes of an SRT or WebVTT file → a normalised UTF-8 WebVTT file, or the precise reason it is refused. */
export function normalizeSubtitles(bytes: Uint8Array): NormalizeResult {
  const decoded = decodeSubtitleBytes(bytes);
  if (!decoded.ok) return decoded;
  const parsed = parseSubtitles(decoded.text);
  if (!parsed.ok) return parsed;
  return { ok: true, vtt: serializeWebVtt(parsed.value.cues), parsed: parsed.value, encoding: decoded.encoding };
}

/** R2 key of a track's normalised WebVTT (outside any run prefix: tracks outlive re-processing). */
export function textTrackKey(assetId: string, trackId: string): string {
  return `assets/${assetId}/tracks/${trackId}.vtt`;
}
