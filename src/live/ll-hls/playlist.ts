/**
 * LL-HLS (RFC 8216bis §4.4.3.7–4.4.5.2): the published parts and the blocking-reload rules, shared by the
 * LiveStream DO (which publishes `ll` in the live state) and the edge (which renders and holds requests). Pure.
 */
import { z } from "zod";

export const PublishedLlHlsSchema = z.object({
  /** PART-TARGET, seconds. */
  part_target: z.number(),
  /** Parts of the last listed segments and of the one in progress (msn = last listed + 1), in order. */
  parts: z.array(z.object({ msn: z.number().int(), uri: z.string(), duration: z.number(), independent: z.boolean() })),
  /** File name of the next part of the segment in progress (EXT-X-PRELOAD-HINT); null between pushes. */
  preload: z.string().nullable(),
});
export type PublishedLlHls = z.infer<typeof PublishedLlHlsSchema>;

/** PART-HOLD-BACK: the spec's minimum, three part targets (hls.js starts that far from the live edge). */
export const partHoldBack = (ll: PublishedLlHls) => Math.round(3 * ll.part_target * 1000) / 1000;

/** The LL-HLS lines before the first segment: server control and part info. */
export function llHeader(ll: PublishedLlHls): string[] {
  return [
    `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${partHoldBack(ll).toFixed(3)}`,
    `#EXT-X-PART-INF:PART-TARGET=${ll.part_target.toFixed(3)}`,
  ];
}

export function partLine(p: PublishedLlHls["parts"][number], uri: string): string {
  return `#EXT-X-PART:DURATION=${p.duration.toFixed(5)},URI="${uri}"${p.independent ? ",INDEPENDENT=YES" : ""}`;
}

/** A blocking reload's request: `_HLS_msn` and, optionally, `_HLS_part`. */
export interface BlockingRequest {
  msn: number;
  part: number | null;
}

/**
 * Parses `_HLS_msn`/`_HLS_part`: null without `_HLS_msn` (an ordinary reload), an error message for a
 * malformed pair (the spec: `_HLS_part` without `_HLS_msn` is an error, as are non-integers).
 */
export function parseBlocking(q: URLSearchParams): BlockingRequest | null | string {
  const msn = q.get("_HLS_msn");
  const part = q.get("_HLS_part");
  if (msn === null) return part === null ? null : "_HLS_part requires _HLS_msn.";
  if (!/^\d{1,10}$/.test(msn)) return "_HLS_msn must be a non-negative integer.";
  if (part !== null && !/^\d{1,6}$/.test(part)) return "_HLS_part must be a non-negative integer.";
  return { msn: Number(msn), part: part === null ? null : Number(part) };
}

/**
 * Whether a playlist with `lastSeq` as its last complete segment and these parts satisfies the request:
 * segment `msn` is complete, or (with `_HLS_part`) its part `part` exists. A part index past a complete
 * segment's last part means the next segment's first part (hls.js asks so at segment ends), so it needs
 * that part, or the push to have ended.
 */
export function satisfies(r: BlockingRequest, lastSeq: number, ll: PublishedLlHls | null): boolean {
  const count = (msn: number) => ll?.parts.filter((p) => p.msn === msn).length ?? 0;
  if (r.msn < lastSeq || (r.msn === lastSeq && r.part === null)) return true;
  if (r.msn === lastSeq) {
    const n = count(lastSeq);
    return n === 0 || (r.part as number) < n || count(lastSeq + 1) > 0 || !ll?.preload;
  }
  return r.part !== null && count(r.msn) > r.part;
}

/** The spec: a request more than one segment ahead of the live edge is answered 400 at once. */
export function tooFarAhead(r: BlockingRequest, lastSeq: number): boolean {
  return r.msn > lastSeq + 2;
}
