/**
 * The live ladder, shared by the API (settings and their checks), the LiveStream DO (which records the
 * renditions), the edge (which lists them) and the transcoder (which encodes them). While a stream with
 * `renditions` is on air, the transcoder re-encodes each source segment into every lower rendition, one
 * ffmpeg run per segment and rendition with the source's timestamps (`-copyts`), and PUTs the result to
 * `PUT /internal/live/ladder/{live_stream_id}/{session_id}/{rendition}/{seq}`, signed with the transcoder
 * key. A rendition segment carries the source segment's sequence number, so renditions line up with the
 * source segment for segment by construction (same boundaries, same start times, same discontinuities).
 */
import { z } from "zod";
import { type MaxResolution, RESOLUTION_HEIGHT } from "./transcoder-protocol";

/** Renditions a live stream may ask for: what a 1080p broadcast can usefully be scaled down to. */
export const LIVE_RENDITIONS = ["1080p", "720p", "480p", "360p", "240p"] as const;
export const LiveRenditionSchema = z.enum(LIVE_RENDITIONS);
export type LiveRendition = z.infer<typeof LiveRenditionSchema>;
export const MAX_LIVE_RENDITIONS = 4;

/** Peak video bits/s per rendition (x264 capped VBR), audio is copied from the source on top. */
export const LIVE_RENDITION_KBPS: Record<LiveRendition, number> = {
  "1080p": 4500,
  "720p": 2500,
  "480p": 1200,
  "360p": 700,
  "240p": 400,
};

export function renditionHeight(r: LiveRendition): number {
  return RESOLUTION_HEIGHT[r];
}

/** Largest first: the order the master lists them in (after the source) and the transcoder starts them. */
export function sortRenditions(list: readonly LiveRendition[]): LiveRendition[] {
  return [...new Set(list)].sort((a, b) => renditionHeight(b) - renditionHeight(a));
}

/**
 * Why a requested ladder cannot be accepted, per entry (`index` into the request), or [] when it can:
 * duplicates, more than MAX_LIVE_RENDITIONS, a rendition above the recording's max_resolution, and any
 * rendition at all with latency_mode `low` (LL-HLS parts are cut from the broadcaster's own chunks; a
 * re-encoded rendition arrives a segment later and has no parts, so it would pull low-latency viewers
 * seconds behind the live edge).
 */
export function ladderProblems(
  renditions: readonly string[],
  opts: { maxResolution: MaxResolution; latencyMode: "standard" | "low" },
): { index: number | null; message: string }[] {
  const out: { index: number | null; message: string }[] = [];
  if (renditions.length === 0) return out;
  if (opts.latencyMode === "low") {
    out.push({
      index: null,
      message:
        "renditions are not available with latency_mode low (low-latency parts come from the encoder; use latency_mode standard)",
    });
  }
  if (renditions.length > MAX_LIVE_RENDITIONS) {
    out.push({ index: null, message: `at most ${MAX_LIVE_RENDITIONS} renditions` });
  }
  const cap = RESOLUTION_HEIGHT[opts.maxResolution];
  const seen = new Set<string>();
  renditions.forEach((r, index) => {
    if (seen.has(r)) out.push({ index, message: `${r} is listed twice` });
    seen.add(r);
    if ((LIVE_RENDITIONS as readonly string[]).includes(r) && renditionHeight(r as LiveRendition) > cap) {
      out.push({
        index,
        message: `${r} is above recording.new_asset_settings.max_resolution (${opts.maxResolution})`,
      });
    }
  });
  return out;
}

export const LIVE_LADDER_PUSH_PREFIX = "/internal/live/ladder/";
/** `{live_stream_id}/{session_id}/{rendition}/{seq}` after the prefix. */
export const LIVE_LADDER_PUSH_RE =
  /^\/internal\/live\/ladder\/(ls_[A-Za-z0-9]{1,64})\/([A-Za-z0-9_-]{1,32})\/(\d{3,4}p)\/(\d{1,9})$/;
export const MAX_LADDER_SEGMENT_BYTES = 16 * 1024 * 1024;

export function ladderPushPath(streamId: string, sessionId: string, rendition: string, seq: number): string {
  return `${LIVE_LADDER_PUSH_PREFIX}${streamId}/${sessionId}/${rendition}/${seq}`;
}

/** What the API hands the transcoder when a session of a stream with a ladder starts (`POST /live-ladder`). */
export const LiveLadderStartSchema = z
  .object({
    live_stream_id: z.string(),
    session_id: z.string(),
    /** The live media playlist at the edge (with a viewer token when the stream's playback IDs are signed). */
    source_url: z.string().url(),
    /** The API's origin: rendition segments go to `{api_url}/internal/live/ladder/…`. */
    api_url: z.string().url(),
    renditions: z.array(LiveRenditionSchema).min(1).max(MAX_LIVE_RENDITIONS),
  })
  .strict();
export type LiveLadderStart = z.infer<typeof LiveLadderStartSchema>;

/** A rendition's stored segment name under the session's `stream/` folder. */
export function renditionSegmentName(rendition: string, seq: number): string {
  return `${rendition}-${seq}.ts`;
}
