/**
 * The live ladder inside the LiveStream DO and at the edge (pure). The DO records each rendition segment
 * under the source segment's sequence number, so a rendition's window is the source window with the
 * rendition's own files: a sequence number it never delivered (its encoder fell behind or restarted) is
 * an EXT-X-GAP with the source's duration, and its playlist ends at its newest segment (never a gap at
 * the live edge). A rendition whose newest segment is more than STALE_SEGMENTS behind the source's is
 * dropped from the master until it catches up again; the source rendition never waits for it.
 */
import { z } from "zod";
import { renditionSegmentName } from "../lib/live-ladder-protocol";
import type { LiveSegment, VariantFacts } from "./hls";

/**
 * A rendition whose newest segment is this many sequence numbers behind the source's is left out. A healthy
 * rendition trails by one or two (it is encoded after the source segment is listed); on a starved machine
 * (bench/e2e on this shared 2-core box) three or four; an encoder that died falls past five within five segments.
 */
export const STALE_SEGMENTS = 5;

export const PublishedRenditionSchema = z.object({
  name: z.string(),
  bandwidth: z.number().int().nullable(),
  average_bandwidth: z.number().int().nullable(),
  codecs: z.string().nullable(),
  resolution: z.object({ width: z.number().int(), height: z.number().int() }).nullable(),
  /** The rendition's newest sequence number this session. */
  last_seq: z.number().int(),
  /** Sequence numbers of the published window the rendition has. */
  seqs: z.array(z.number().int()),
});
export type PublishedRendition = z.infer<typeof PublishedRenditionSchema>;

/** The rendition's segments over `window` (the source's): its own files, gaps where it has none, trimmed at its newest. */
export function renditionSegments(
  window: readonly LiveSegment[],
  rendition: string,
  has: ReadonlySet<number>,
): (LiveSegment & { gap: boolean })[] {
  let end = window.length;
  while (end > 0 && !has.has(window[end - 1].seq)) end--;
  return window.slice(0, end).map((s) => ({
    ...s,
    map: null,
    uri: has.has(s.seq) ? renditionSegmentName(rendition, s.seq) : "gap.ts",
    gap: !has.has(s.seq),
  }));
}

/** Whether a rendition is listed: it has segments, and its newest is no more than STALE_SEGMENTS - 1 behind. */
export function renditionFresh(r: Pick<PublishedRendition, "last_seq" | "seqs">, sourceLastSeq: number): boolean {
  return r.seqs.length > 0 && sourceLastSeq - r.last_seq < STALE_SEGMENTS;
}

function streamInf(v: VariantFacts): string {
  const attrs = [`BANDWIDTH=${Math.max(1, v.bandwidth ?? 2_000_000)}`];
  if (v.averageBandwidth) attrs.push(`AVERAGE-BANDWIDTH=${Math.max(1, v.averageBandwidth)}`);
  if (v.codecs) attrs.push(`CODECS="${v.codecs}"`);
  if (v.resolution) attrs.push(`RESOLUTION=${v.resolution.width}x${v.resolution.height}`);
  return `#EXT-X-STREAM-INF:${attrs.join(",")}`;
}

/** A master listing the source then each rendition (largest first), each with its measured attributes. */
export function ladderMasterPlaylist(variants: { uri: string; facts: VariantFacts }[]): string {
  const lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"];
  for (const v of variants) lines.push(streamInf(v.facts), v.uri);
  return `${lines.join("\n")}\n`;
}

export function renditionFacts(r: PublishedRendition): VariantFacts {
  return {
    bandwidth: r.bandwidth,
    averageBandwidth: r.average_bandwidth,
    codecs: r.codecs,
    resolution: r.resolution,
  };
}
