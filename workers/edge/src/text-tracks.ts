/**
 * Subtitles and captions at the edge. Ready tracks are read from D1 (`asset_tracks`) once per asset per
 * isolate per TTL, like playback state, and the SUBTITLES group is added to the master as it is served —
 * so R2 masters are never rewritten when a track is added or deleted, and a re-processed asset keeps its
 * tracks. The subtitle media playlist and its WebVTT segments are derived on request from the stored
 * WebVTT file and the video's own segment boundaries (src/lib/webvtt/segment.ts):
 *
 *   /{playback_id}/text/{track_id}.m3u8        subtitle media playlist           aud v
 *   /{playback_id}/text/{track_id}/{n}.vtt     WebVTT segment n (X-TIMESTAMP-MAP) aud v
 *   /{playback_id}/text/{track_id}.vtt         the whole normalised file         aud v
 */
import type { Hono } from "hono";
import { type ClipRange, trimMediaPlaylist } from "../../../src/lib/clips";
import {
  type Cue,
  type MediaTimeline,
  mediaTimeline,
  parseSubtitles,
  subtitlePlaylist,
  textTrackKey,
  vttSegment,
} from "../../../src/lib/webvtt";
import { readReadyTextTracks } from "./db";
import { runKey } from "./media";
import { rewritePlaylist } from "./playlist";
import { corsHeaders } from "./policy";
import { type EdgeEnv, SHORT_TTL_MS, STATE_TTL_MS } from "./state";

export interface TextTrack {
  id: string;
  textType: "subtitles" | "captions";
  languageCode: string;
  name: string;
  closedCaptions: boolean;
  isDefault: boolean;
}

export const TRACK_FILE_RE = /^(tr_[0-9a-z]{26})\.(m3u8|vtt)$/;
export const TRACK_ID_RE = /^tr_[0-9a-z]{26}$/;
export const SEGMENT_FILE_RE = /^(\d{1,6})\.vtt$/;

const MAX_ENTRIES = 5_000;
const tracksCache = new Map<string, { value: TextTrack[]; expiresAt: number }>();
const timelineCache = new Map<string, MediaTimeline>();
const cueCache = new Map<string, { value: Cue[]; expiresAt: number }>();
/** Cues are immutable once a track is ready; the TTL bounds memory for a deleted track, not staleness. */
const CUES_TTL_MS = 10 * 60_000;

function put<V>(map: Map<string, V>, key: string, value: V) {
  if (map.size >= MAX_ENTRIES) {
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
  map.set(key, value);
}

export function clearTextTrackCaches() {
  tracksCache.clear();
  timelineCache.clear();
  cueCache.clear();
}

/** Ready tracks of an asset, oldest first. Empty answers are re-checked sooner so a new track shows up quickly. */
export async function readyTextTracks(env: EdgeEnv, assetId: string): Promise<TextTrack[]> {
  const hit = tracksCache.get(assetId);
  if (hit && hit.expiresAt > Date.now()) return hit.value;
  const value: TextTrack[] = await readReadyTextTracks(env.DB, assetId);
  put(tracksCache, assetId, { value, expiresAt: Date.now() + (value.length ? STATE_TTL_MS : SHORT_TTL_MS) });
  return value;
}

const quoted = (s: string) => s.replace(/["\r\n]/g, "'");

/**
 * Adds `#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs"` entries before the first variant and
 * `SUBTITLES="subs"` to every variant. Captions carry the accessibility CHARACTERISTICS Apple defines.
 */
export function addSubtitlesGroup(master: string, tracks: TextTrack[], uriFor: (t: TextTrack) => string): string {
  if (tracks.length === 0) return master;
  const defaultId = tracks.find((t) => t.isDefault)?.id;
  const media = tracks.map((t) => {
    const attrs = [
      "TYPE=SUBTITLES",
      'GROUP-ID="subs"',
      `NAME="${quoted(t.name)}"`,
      `LANGUAGE="${quoted(t.languageCode)}"`,
      `DEFAULT=${t.id === defaultId ? "YES" : "NO"}`,
      // AUTOSELECT must be YES when DEFAULT is; every track may be picked by language preference.
      "AUTOSELECT=YES",
      "FORCED=NO",
    ];
    if (t.textType === "captions" || t.closedCaptions) {
      attrs.push(
        'CHARACTERISTICS="public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound"',
      );
    }
    attrs.push(`URI="${uriFor(t)}"`);
    return `#EXT-X-MEDIA:${attrs.join(",")}`;
  });
  const out: string[] = [];
  let inserted = false;
  for (const line of master.split("\n")) {
    if (line.startsWith("#EXT-X-STREAM-INF:")) {
      if (!inserted) {
        out.push(...media);
        inserted = true;
      }
      out.push(/SUBTITLES="/.test(line) ? line : `${line},SUBTITLES="subs"`);
    } else out.push(line);
  }
  return out.join("\n");
}

/** The video's segment boundaries for this run: from the first variant playlist the master lists. */
export async function videoTimeline(env: EdgeEnv, assetId: string, runId: string): Promise<MediaTimeline | null> {
  const key = `${assetId}/${runId}`;
  const hit = timelineCache.get(key);
  if (hit) return hit;
  const master = await env.MEDIA.get(runKey(assetId, runId, "master.m3u8"));
  if (!master) return null;
  const lines = (await master.text()).split(/\r?\n/);
  const at = lines.findIndex((l) => l.startsWith("#EXT-X-STREAM-INF"));
  const uri = at === -1 ? undefined : lines.slice(at + 1).find((l) => l.trim() !== "" && !l.startsWith("#"));
  if (!uri || /^[a-z]+:|^\/|\.\./i.test(uri.trim())) return null;
  const variant = await env.MEDIA.get(runKey(assetId, runId, uri.trim()));
  if (!variant) return null;
  const text = await variant.text();
  // Only finished (VOD) timelines are remembered: a run's variant playlists never change after ENDLIST.
  const timeline = mediaTimeline(text);
  if (/^#EXT-X-ENDLIST/m.test(text)) put(timelineCache, key, timeline);
  return timeline;
}

/** The track's cues, parsed from its stored (already normalised) WebVTT file. */
export async function trackCues(env: EdgeEnv, assetId: string, trackId: string): Promise<Cue[] | null> {
  const hit = cueCache.get(trackId);
  if (hit && hit.expiresAt > Date.now()) return hit.value;
  const obj = await env.MEDIA.get(textTrackKey(assetId, trackId));
  if (!obj) return null;
  const parsed = parseSubtitles(await obj.text());
  const cues = parsed.ok ? parsed.value.cues : [];
  put(cueCache, trackId, { value: cues, expiresAt: Date.now() + CUES_TTL_MS });
  return cues;
}

export function textPlaylist(timeline: MediaTimeline, segmentUri: (i: number) => string): string {
  return subtitlePlaylist(timeline, segmentUri);
}

export function textSegment(cues: Cue[], timeline: MediaTimeline, index: number): string | null {
  const seg = timeline.segments[index];
  if (!seg) return null;
  return vttSegment(cues, seg, index === timeline.segments.length - 1);
}

/** What the routes need from index.ts (authorization, error bodies, clip parsing), passed in to keep one owner. */
export interface TextRouteDeps<G extends TextGrant> {
  authorize: (env: EdgeEnv, req: Request, playbackId: string, audience: "v") => Promise<G | Response>;
  deny: (status: number, reason: string, cors: Record<string, string>) => Response;
  clipFor: (env: EdgeEnv, req: Request, g: G) => Promise<ClipRange | null | Response>;
}

export interface TextGrant {
  state: { assetId: string; currentRunId: string };
  token: string | null;
  cors: Record<string, string>;
  visibility: "public" | "private";
}

const VTT = "text/vtt; charset=utf-8";

export function registerTextTrackRoutes<G extends TextGrant>(app: Hono<{ Bindings: EdgeEnv }>, deps: TextRouteDeps<G>) {
  const { authorize, deny, clipFor } = deps;
  const grantTrack = async (env: EdgeEnv, req: Request, playbackId: string, trackId: string) => {
    const g = await authorize(env, req, playbackId, "v");
    if (g instanceof Response) return g;
    const track = (await readyTextTracks(env, g.state.assetId)).find((t) => t.id === trackId);
    if (!track) return deny(404, "unknown_track", g.cors);
    return { g, track };
  };
  const headers = (g: G, type: string, maxAge: number) => ({
    "Content-Type": type,
    "Cache-Control": `${g.visibility}, max-age=${maxAge}`,
    ...g.cors,
  });

  app.get("/:pid/text/:file", async (c) => {
    const playbackId = c.req.param("pid");
    const m = TRACK_FILE_RE.exec(c.req.param("file"));
    if (!m) return deny(404, "not_found", corsHeaders(null, c.req.raw));
    const granted = await grantTrack(c.env, c.req.raw, playbackId, m[1]);
    if (granted instanceof Response) return granted;
    const { g, track } = granted;
    if (m[2] === "vtt") {
      const obj = await c.env.MEDIA.get(textTrackKey(g.state.assetId, track.id));
      if (!obj) return deny(404, "unknown_track", g.cors);
      return new Response(obj.body, { headers: headers(g, VTT, 300) });
    }
    const clip = await clipFor(c.env, c.req.raw, g);
    if (clip instanceof Response) return clip;
    const timeline = await videoTimeline(c.env, g.state.assetId, g.state.currentRunId);
    if (!timeline) return deny(404, "not_found", g.cors);
    let body: string | null = textPlaylist(timeline, (i) => `${track.id}/${i}.vtt`);
    if (clip) body = trimMediaPlaylist(body, clip);
    if (body === null) return deny(400, "invalid_clip_range", g.cors);
    const out = rewritePlaylist(body, `/${playbackId}/text/`, `/${playbackId}/`, g.token);
    return new Response(out, { headers: headers(g, "application/vnd.apple.mpegurl", 300) });
  });

  app.get("/:pid/text/:track/:segment", async (c) => {
    const playbackId = c.req.param("pid");
    const trackId = c.req.param("track");
    const seg = SEGMENT_FILE_RE.exec(c.req.param("segment"));
    if (!TRACK_ID_RE.test(trackId) || !seg) return deny(404, "not_found", corsHeaders(null, c.req.raw));
    const granted = await grantTrack(c.env, c.req.raw, playbackId, trackId);
    if (granted instanceof Response) return granted;
    const { g, track } = granted;
    const [timeline, cues] = await Promise.all([
      videoTimeline(c.env, g.state.assetId, g.state.currentRunId),
      trackCues(c.env, g.state.assetId, track.id),
    ]);
    if (!timeline || !cues) return deny(404, "not_found", g.cors);
    const body = textSegment(cues, timeline, Number(seg[1]));
    if (body === null) return deny(404, "not_found", g.cors);
    return new Response(body, { headers: headers(g, VTT, 300) });
  });
}
