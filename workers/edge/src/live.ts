/**
 * Live playback: the playlists of a live stream's playback ID, rendered from the window its LiveStream
 * Durable Object publishes to R2 (`live/{stream}/state.json`) after every segment the encoder's
 * playlist lists — so a segment is never listed before its R2 write succeeded, and the hot path
 * touches neither D1 (playback-ID state is cached per isolate) nor the DO. The published window is
 * cached per isolate keyed by stream (never by token), for as long as nothing new can be there: a
 * window published at T whose last segment lasts D cannot change before about T + D (the encoder is
 * still filling the next segment), so it is kept until then (at most one target duration), and only
 * around the expected arrival is R2 asked again every LIVE_STATE_POLL_MS. However many viewers, an
 * isolate reads a stream's state from R2 about once per segment plus a few polls, and a new segment
 * shows at the edge within one poll of the DO publishing it (bench/live.ts measures it).
 *
 *   /{playback_id}.m3u8                        master (one variant)        aud v
 *   /{playback_id}/live.m3u8                   live media playlist         aud v
 *   /{playback_id}/live/{session}/{file}       segments, init segments     aud v (immutable)
 */
import {
  type LiveSegment,
  liveStateKey,
  masterPlaylist,
  mediaPlaylist,
  type PublishedLiveState,
} from "../../../src/live/hls";
import { llMediaPlaylist } from "./ll-hls";

/** How often R2 is asked while a new segment is due (and while off air, for the moment it goes live). */
export const LIVE_STATE_POLL_MS = 50;
/** Start polling this long before the next segment is expected (encoder jitter, clock skew with the DO). */
const EXPECT_EARLY_MS = 400;

/** Until when a fetched state stays as it is. */
export function liveStateCacheUntil(s: PublishedLiveState | null, now: number): number {
  const poll = now + LIVE_STATE_POLL_MS;
  // With LL-HLS parts something new is due every part target: poll (blocked reloads wait on exactly this).
  if (s?.ll) return poll;
  const last = s?.status === "active" ? s.segments.at(-1) : undefined;
  const publishedAt = s ? Date.parse(s.updated_at) : Number.NaN;
  if (!s || !last || !Number.isFinite(publishedAt)) return poll;
  const expected = publishedAt + last.duration * 1000 - EXPECT_EARLY_MS;
  return Math.max(poll, Math.min(expected, now + s.target_duration * 1000));
}

const cache = new Map<string, { value: PublishedLiveState | null; until: number }>();
const inflight = new Map<string, Promise<PublishedLiveState | null>>();

export async function loadLiveState(bucket: R2Bucket, streamId: string): Promise<PublishedLiveState | null> {
  const hit = cache.get(streamId);
  if (hit && hit.until > Date.now()) return hit.value;
  const pending = inflight.get(streamId);
  if (pending) return pending;
  const p = (async () => {
    try {
      const obj = await bucket.get(liveStateKey(streamId));
      const value = obj ? ((await obj.json()) as PublishedLiveState) : null;
      if (cache.size > 10_000) cache.clear();
      cache.set(streamId, { value, until: liveStateCacheUntil(value, Date.now()) });
      return value;
    } finally {
      inflight.delete(streamId);
    }
  })();
  inflight.set(streamId, p);
  return p;
}

export function clearLiveStateCache() {
  cache.clear();
}

/** Whether viewers can play now: a session with at least one listed segment. */
export function onAir(s: PublishedLiveState | null): s is PublishedLiveState & { session_id: string; prefix: string } {
  return s !== null && s.status === "active" && s.session_id !== null && s.prefix !== null && s.segments.length > 0;
}

/** 412 before the first segment and while idle (as Mux does), with a Retry-After of one segment. */
export function notOnAir(s: PublishedLiveState | null, cors: Record<string, string>): Response {
  const retry = String(Math.max(1, Math.round(s?.target_duration ?? 2)));
  const detail =
    s?.status === "disabled"
      ? "This live stream is disabled."
      : s?.status === "active"
        ? "The live stream has started; its first segment is not available yet."
        : "This live stream is not broadcasting right now.";
  return new Response(
    JSON.stringify({
      type: "https://keyframe.dev/errors/precondition_failed",
      title: "Precondition failed",
      status: 412,
      detail,
      code: "precondition_failed",
      reason: "live_stream_not_active",
      errors: [],
    }),
    {
      status: 412,
      headers: {
        "Content-Type": "application/problem+json",
        "Cache-Control": "no-store",
        "Retry-After": retry,
        ...cors,
      },
    },
  );
}

const withToken = (path: string, token: string | null) => (token ? `${path}?token=${encodeURIComponent(token)}` : path);

export function liveMaster(playbackId: string, s: PublishedLiveState, token: string | null): string {
  return masterPlaylist(withToken(`/${playbackId}/live.m3u8`, token), {
    bandwidth: s.bandwidth,
    averageBandwidth: s.average_bandwidth,
    codecs: s.codecs,
    resolution: s.resolution,
  });
}

export function liveMedia(
  playbackId: string,
  s: PublishedLiveState & { session_id: string; prefix: string },
  token: string | null,
) {
  const uri = (name: string) => withToken(`/${playbackId}/live/${s.session_id}/${name}`, token);
  if (s.ll) return llMediaPlaylist(s, uri);
  return mediaPlaylist(
    {
      targetDuration: s.target_duration,
      mediaSequence: s.media_sequence,
      discontinuitySequence: s.discontinuity_sequence,
      segments: s.segments as LiveSegment[],
    },
    (name) => withToken(`/${playbackId}/live/${s.session_id}/${name}`, token),
  );
}

/** Cache-Control for live playlists: about half a low-latency segment, never past one target duration. */
export function livePlaylistCacheControl(visibility: "public" | "private", s: PublishedLiveState): string {
  return `${visibility}, max-age=${Math.max(1, Math.floor(s.target_duration / 2))}`;
}
