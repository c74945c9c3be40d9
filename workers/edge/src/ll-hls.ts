/**
 * LL-HLS at the edge: the live media playlist with EXT-X-PART / EXT-X-PRELOAD-HINT / SERVER-CONTROL when the
 * DO publishes parts (latency_mode low with a CMAF push), and blocking playlist reloads (`_HLS_msn`,
 * `_HLS_part`): the request is held, re-reading the published state every LIVE_STATE_POLL_MS (one R2 read
 * per isolate however many viewers wait, ./live.ts), until the asked-for segment or part is listed, for at
 * most three target durations (then 503, as the spec asks); a request more than one segment ahead is 400 at
 * once. Answers to blocking requests carry their query in the URL, so shared caches key them apart; they
 * are cacheable for a few target durations, since what they promise (that part exists) stays true.
 */

import type { PublishedLiveState } from "../../../src/live/hls";
import { type BlockingRequest, llHeader, partLine, satisfies, tooFarAhead } from "../../../src/live/ll-hls/playlist";
import { LIVE_STATE_POLL_MS, loadLiveState, onAir } from "./live";
import { edgeProblem } from "./problems";

type OnAir = PublishedLiveState & { session_id: string; prefix: string };

const lastSeq = (s: PublishedLiveState) => s.segments.at(-1)?.seq ?? -1;

/**
 * Holds a blocking reload until the state satisfies it. Returns the state to render, or the 400/503 answer.
 * A session that ends or changes while waiting answers with what is there (the player then sees it).
 */
export async function awaitBlocking(
  bucket: R2Bucket,
  streamId: string,
  r: BlockingRequest,
  first: OnAir,
  cors: Record<string, string>,
): Promise<OnAir | Response> {
  if (tooFarAhead(r, lastSeq(first))) {
    return edgeProblem(
      400,
      "blocking_reload_too_far_ahead",
      `_HLS_msn=${r.msn} is more than one segment past the live edge (${lastSeq(first)}).`,
      cors,
    );
  }
  const deadline = Date.now() + 3 * first.target_duration * 1000;
  let s: OnAir = first;
  for (;;) {
    if (satisfies(r, lastSeq(s), s.ll ?? null)) return s;
    if (Date.now() >= deadline) {
      return edgeProblem(503, "blocking_reload_timeout", "The requested segment or part did not appear in time.", {
        ...cors,
        "Retry-After": "1",
      });
    }
    await new Promise((res) => setTimeout(res, LIVE_STATE_POLL_MS));
    const next = await loadLiveState(bucket, streamId);
    if (!onAir(next) || next.session_id !== first.session_id) return s;
    s = next;
  }
}

/** The live media playlist with its parts: segments as ./live.ts renders them, parts of the last ones, the hint. */
export function llMediaPlaylist(s: OnAir, uri: (name: string) => string): string {
  const ll = s.ll;
  if (!ll) throw new Error("llMediaPlaylist needs published parts");
  const longest = s.segments.reduce((m, x) => Math.max(m, x.duration), 0);
  const lines = [
    "#EXTM3U",
    "#EXT-X-VERSION:9",
    `#EXT-X-TARGETDURATION:${Math.max(1, Math.round(Math.max(longest, s.target_duration)))}`,
    ...llHeader(ll),
    `#EXT-X-MEDIA-SEQUENCE:${s.media_sequence}`,
    `#EXT-X-DISCONTINUITY-SEQUENCE:${s.discontinuity_sequence}`,
  ];
  let map: string | null = null;
  s.segments.forEach((seg, i) => {
    if (seg.disc && i > 0) lines.push("#EXT-X-DISCONTINUITY");
    if (seg.map && seg.map !== map) lines.push(`#EXT-X-MAP:URI="${uri(seg.map)}"`);
    map = seg.map;
    for (const p of ll.parts) if (p.msn === seg.seq) lines.push(partLine(p, uri(p.uri)));
    lines.push(`#EXTINF:${seg.duration.toFixed(6)},`, uri(seg.uri));
  });
  const next = lastSeq(s) + 1;
  for (const p of ll.parts) if (p.msn === next) lines.push(partLine(p, uri(p.uri)));
  if (ll.preload) lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${uri(ll.preload)}"`);
  return `${lines.join("\n")}\n`;
}

/** Blocking answers stay valid (the part they promise exists): cacheable for a few target durations. */
export function llCacheControl(visibility: "public" | "private", s: PublishedLiveState, blocking: boolean): string {
  return blocking
    ? `${visibility}, max-age=${Math.max(1, Math.round(3 * s.target_duration))}`
    : `${visibility}, max-age=1`;
}
