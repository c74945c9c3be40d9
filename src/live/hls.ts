/**
 * Live HLS, shared by the LiveStream DO (which writes the recording's VOD playlist and publishes the
 * live window) and the edge (which renders the live playlists from what the DO published). Pure.
 */
import { z } from "zod";
import { PublishedRenditionSchema } from "./ladder";
import { PublishedLlHlsSchema } from "./ll-hls/playlist";

/** A segment as published: `uri` and `map` are file names under the session's `stream/` folder. */
export interface LiveSegment {
  seq: number;
  duration: number;
  uri: string;
  /** EXT-X-DISCONTINUITY before this segment (an encoder reconnected). */
  disc: boolean;
  /** fMP4 init segment (EXT-X-MAP) for this segment; null for MPEG-TS. */
  map: string | null;
  /** EXT-X-GAP: a ladder rendition has no segment for this sequence number (src/live/ladder.ts). */
  gap?: boolean;
}

/** What the DO publishes to R2 at `live/{stream_id}/state.json` after every change the edge must see. */
export const PublishedLiveStateSchema = z.object({
  v: z.literal(1),
  stream_id: z.string(),
  status: z.enum(["idle", "active", "disabled"]),
  session_id: z.string().nullable(),
  /** R2 prefix of the session; segments live under `{prefix}stream/`. Never shown to viewers. */
  prefix: z.string().nullable(),
  target_duration: z.number(),
  media_sequence: z.number().int(),
  discontinuity_sequence: z.number().int(),
  bandwidth: z.number().int().nullable(),
  /** Mean bits/s over the window (AVERAGE-BANDWIDTH). Absent in states written before it existed. */
  average_bandwidth: z.number().int().nullable().optional(),
  /** RFC 6381 codecs of the window's connections (CODECS), null when unknown or mixed. */
  codecs: z.string().nullable().optional(),
  /** Coded video size (RESOLUTION), null for audio-only or unknown. */
  resolution: z.object({ width: z.number().int(), height: z.number().int() }).nullable().optional(),
  /** The live ladder's renditions (src/live/ladder.ts); absent without a ladder. */
  renditions: z.array(PublishedRenditionSchema).optional(),
  segments: z.array(
    z.object({
      seq: z.number().int(),
      duration: z.number(),
      uri: z.string(),
      disc: z.boolean(),
      map: z.string().nullable(),
    }),
  ),
  updated_at: z.string(),
  /** LL-HLS parts (latency_mode low with a CMAF push), absent otherwise. */
  ll: PublishedLlHlsSchema.nullable().optional(),
});
export type PublishedLiveState = z.infer<typeof PublishedLiveStateSchema>;

export function liveStateKey(streamId: string): string {
  return `live/${streamId}/state.json`;
}

/** Folder (under the session prefix) holding segments, init segments and the recording's media playlist. */
export const STREAM_DIR = "stream";

/**
 * A media playlist. `uri(name)` maps a stored file name to the URL written into the playlist (the
 * edge makes them absolute and appends the token; the VOD playlist keeps them relative). `vod`
 * closes the playlist (PLAYLIST-TYPE VOD + ENDLIST).
 */
export function mediaPlaylist(
  input: { targetDuration: number; mediaSequence: number; discontinuitySequence: number; segments: LiveSegment[] },
  uri: (name: string) => string,
  vod = false,
): string {
  const longest = input.segments.reduce((m, s) => Math.max(m, s.duration), 0);
  const lines = [
    "#EXTM3U",
    "#EXT-X-VERSION:7",
    `#EXT-X-TARGETDURATION:${Math.max(1, Math.round(Math.max(longest, vod ? 0 : input.targetDuration)))}`,
    `#EXT-X-MEDIA-SEQUENCE:${input.mediaSequence}`,
    `#EXT-X-DISCONTINUITY-SEQUENCE:${input.discontinuitySequence}`,
  ];
  if (vod) lines.push("#EXT-X-PLAYLIST-TYPE:VOD");
  let map: string | null = null;
  input.segments.forEach((s, i) => {
    if (s.disc && i > 0) lines.push("#EXT-X-DISCONTINUITY");
    if (s.map && s.map !== map) lines.push(`#EXT-X-MAP:URI="${uri(s.map)}"`);
    map = s.map;
    if (s.gap) lines.push("#EXT-X-GAP");
    lines.push(`#EXTINF:${s.duration.toFixed(6)},`, uri(s.uri));
  });
  if (vod) lines.push("#EXT-X-ENDLIST");
  return `${lines.join("\n")}\n`;
}

export interface VariantFacts {
  /** Peak bits/s measured over the segments; null before any (a 2 Mb/s placeholder is written). */
  bandwidth: number | null;
  averageBandwidth?: number | null;
  codecs?: string | null;
  resolution?: { width: number; height: number } | null;
}

/** A one-variant master playlist: measured BANDWIDTH/AVERAGE-BANDWIDTH, CODECS and RESOLUTION when known. */
export function masterPlaylist(variantUri: string, v: VariantFacts): string {
  const attrs = [`BANDWIDTH=${Math.max(1, v.bandwidth ?? 2_000_000)}`];
  if (v.averageBandwidth) attrs.push(`AVERAGE-BANDWIDTH=${Math.max(1, v.averageBandwidth)}`);
  if (v.codecs) attrs.push(`CODECS="${v.codecs}"`);
  if (v.resolution) attrs.push(`RESOLUTION=${v.resolution.width}x${v.resolution.height}`);
  return `#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-STREAM-INF:${attrs.join(",")}\n${variantUri}\n`;
}

// ---------------------------------------------------------------- what encoders send

export type MediaKind = "mpegts" | "fmp4-init" | "fmp4";

/** Decides from the bytes (not the name or Content-Type) what a PUT carries; null = not media we take. */
export function sniffMedia(b: Uint8Array): MediaKind | null {
  if (b.length >= 188 * 2 && b[0] === 0x47 && b[188] === 0x47) return "mpegts";
  if (b.length === 188 && b[0] === 0x47) return "mpegts";
  if (b.length < 8) return null;
  const box = String.fromCharCode(b[4], b[5], b[6], b[7]);
  if (box === "ftyp") return "fmp4-init";
  if (box === "styp" || box === "moof" || box === "sidx" || box === "emsg" || box === "prft") return "fmp4";
  return null;
}

/**
 * Whether an MPEG-TS segment starts at a random access point: one of its first packets carries an
 * adaptation field with random_access_indicator set (ffmpeg sets it on video keyframes).
 */
export function tsStartsWithKeyframe(b: Uint8Array): boolean {
  for (let off = 0; off + 188 <= b.length && off < 188 * 40; off += 188) {
    const afc = (b[off + 3] >> 4) & 0x3;
    if ((afc === 2 || afc === 3) && b[off + 4] > 0 && (b[off + 5] & 0x40) !== 0) return true;
  }
  return false;
}

/** The encoder's own segment counter from a file name: ffmpeg names them `index0.ts`, `index1.m4s`, … */
export function segmentIndex(name: string): number | null {
  const m = /(\d+)\.(ts|m4s|mp4|cmfv|cmfa)$/.exec(name);
  return m ? Number(m[1]) : null;
}

export interface EncoderPlaylist {
  entries: { uri: string; duration: number }[];
  ended: boolean;
}

/** Parses the encoder's media playlist; null when it is not an HLS playlist. */
export function parseEncoderPlaylist(text: string): EncoderPlaylist | null {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  if (lines[0] !== "#EXTM3U") return null;
  const entries: EncoderPlaylist["entries"] = [];
  let duration: number | null = null;
  let ended = false;
  for (const line of lines.slice(1)) {
    if (line.startsWith("#EXTINF:")) {
      const d = Number.parseFloat(line.slice(8));
      duration = Number.isFinite(d) && d > 0 ? d : null;
    } else if (line === "#EXT-X-ENDLIST") ended = true;
    else if (line && !line.startsWith("#")) {
      if (duration === null) return null;
      entries.push({ uri: line.split("?")[0].split("/").pop() ?? line, duration });
      duration = null;
    }
  }
  return { entries, ended };
}
