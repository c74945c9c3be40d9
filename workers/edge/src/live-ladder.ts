/**
 * Live playback of a stream with a live ladder (src/live/ladder.ts): the master lists the source rendition
 * then every fresh rendition, largest first, with its measured BANDWIDTH, CODECS and RESOLUTION; each
 * rendition's media playlist follows the source window, sequence number for sequence number.
 *
 *   /{playback_id}.m3u8                  master (source + renditions)    aud v
 *   /{playback_id}/live/{rendition}.m3u8 a rendition's media playlist    aud v
 *
 * Rendition segments are files of the session like the source's and go through the same segment route.
 */
import { type LiveSegment, mediaPlaylist, type PublishedLiveState } from "../../../src/live/hls";
import { ladderMasterPlaylist, renditionFacts, renditionFresh, renditionSegments } from "../../../src/live/ladder";

const withToken = (path: string, token: string | null) => (token ? `${path}?token=${encodeURIComponent(token)}` : path);

/** The ladder master, or null when no rendition is fresh (the one-variant master then). */
export function liveLadderMaster(playbackId: string, s: PublishedLiveState, token: string | null): string | null {
  const last = s.segments.at(-1)?.seq ?? 0;
  const fresh = (s.renditions ?? []).filter((r) => renditionFresh(r, last));
  if (fresh.length === 0) return null;
  return ladderMasterPlaylist([
    {
      uri: withToken(`/${playbackId}/live.m3u8`, token),
      facts: {
        bandwidth: s.bandwidth,
        averageBandwidth: s.average_bandwidth,
        codecs: s.codecs,
        resolution: s.resolution,
      },
    },
    ...fresh.map((r) => ({ uri: withToken(`/${playbackId}/live/${r.name}.m3u8`, token), facts: renditionFacts(r) })),
  ]);
}

/** A rendition's live media playlist, or null when the stream has no such rendition this session. */
export function liveRenditionMedia(
  playbackId: string,
  s: PublishedLiveState & { session_id: string },
  rendition: string,
  token: string | null,
): string | null {
  const r = (s.renditions ?? []).find((x) => x.name === rendition);
  if (!r || r.seqs.length === 0) return null;
  const segments = renditionSegments(s.segments as LiveSegment[], r.name, new Set(r.seqs));
  return mediaPlaylist(
    {
      targetDuration: s.target_duration,
      mediaSequence: s.media_sequence,
      discontinuitySequence: s.discontinuity_sequence,
      segments,
    },
    (name) => withToken(`/${playbackId}/live/${s.session_id}/${name}`, token),
  );
}
