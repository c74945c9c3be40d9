/**
 * Keyframe edge worker: the playback data plane. Resolves a playback ID to its asset's live run
 * (per-isolate cache, never a D1 read per segment), enforces the playback policy (origin allow-list,
 * signed tokens) on every URL, and serves playlists (rewritten to absolute, token-carrying URLs),
 * segments (Range), posters, storyboards and the embed player from R2. Never writes D1.
 *
 *   /{playback_id}.m3u8                      master playlist            aud v
 *   /{playback_id}/{rendition}/{file}        variant playlists, init, segments   aud v
 *   /{playback_id}/thumbnail.jpg             poster                     aud t
 *   /{playback_id}/thumbnail.jpg?time=&width=&height=&fit_mode=   on-demand thumbnail (./thumbnails.ts)   aud t
 *   /{playback_id}/storyboard.vtt|.jpg       storyboard                 aud s
 *   /{playback_id}/text/{track_id}.m3u8|.vtt subtitles/captions (./text-tracks.ts)   aud v
 *   /{playback_id}/{track_id}/index.m3u8     dubbed audio track, a rendition of the run (./audio-tracks.ts)   aud v
 *   /{playback_id}/chapters.vtt              chapter markers (./chapters.ts)   aud v
 *   /{playback_id}/animated.gif|webp?start=&end=&width=&fps=   animated preview (./animated.ts)   aud g
 *   ?asset_start_time=&asset_end_time=      instant clip on any VOD playlist (./clips.ts)
 *   /{playback_id}/downloads/highest.mp4     progressive download (attachment; audio.m4a for audio-only)   aud d
 *   /embed/{playback_id}?token=…             player page
 *   /health
 */

import hlsSource from "hls.js/dist/hls.min.js";
import { Hono } from "hono";
import { chapterCues } from "../../../src/lib/chapters";
import { type ClipRange, clipQuery, trimMediaPlaylist } from "../../../src/lib/clips";
import { d1Unavailable, withRetryingDb } from "../../../src/lib/d1-retry";
import {
  type PlaybackClaims,
  PlaybackTokenVerifier,
  THUMBNAIL_CLAIMS,
  type TokenAudience,
} from "../../../src/lib/playback-token";
import {
  normalizeThumbnail,
  parseThumbnailQuery,
  type RequestedThumbnail,
  sameThumbnailValue,
  THUMBNAIL_HEADER,
  thumbnailKey,
} from "../../../src/lib/thumbnails";
import { DOWNLOADS_DIR } from "../../../src/lib/transcoder-protocol";
import { STREAM_DIR } from "../../../src/live/hls";
import { parseBlocking } from "../../../src/live/ll-hls/playlist";
import { registerAnimatedRoutes } from "./animated";
import { addAudioTracks, clearAudioTrackCache, readyAudioTracks } from "./audio-tracks";
import { assetChapters, clearChapterCache, registerChapterRoutes } from "./chapters";
import { requestedClip } from "./clips";
import { contentDisposition, isStaticRenditionName } from "./download";
import { EMBED_JS, type EmbedChapters, embedCsp, embedPage } from "./embed";
import { serveWhenStored } from "./in-flight";
import {
  clearLiveStateCache,
  liveMaster,
  liveMedia,
  livePlaylistCacheControl,
  loadLiveState,
  notOnAir,
  onAir,
} from "./live";
import { liveLadderMaster, liveRenditionMedia } from "./live-ladder";
import { awaitBlocking, llCacheControl } from "./ll-hls";
import { clearMetaCache, runKey, serveObject } from "./media";
import { hasEndList, rewritePlaylist, rewriteStoryboardVtt, rewriteUri } from "./playlist";
import { checkOrigin, corsHeaders, frameAncestors, preflight } from "./policy";
import { edgeProblem } from "./problems";
import {
  clearStateCache,
  type EdgeEnv,
  isPlayable,
  loadSigningKey,
  type PlaybackState,
  resolvePlayback,
} from "./state";
import { addSubtitlesGroup, clearTextTrackCaches, readyTextTracks, registerTextTrackRoutes } from "./text-tracks";
import { clearThumbnailFacts, renderViaApi, runFacts, type ThumbnailEnv } from "./thumbnails";

export type { EdgeEnv };

/** One verifier per isolate: imported keys (≤ 30 s) and verified tokens (until exp) live here. */
const verifier = new PlaybackTokenVerifier({ keyTtlMs: 30_000, negativeKeyTtlMs: 10_000 });

/** Drops every per-isolate cache (tests use it to observe revocation without waiting for the TTL). */
export function clearEdgeCaches() {
  verifier.clear();
  clearStateCache();
  clearMetaCache();
  clearThumbnailFacts();
  clearTextTrackCaches();
  clearAudioTrackCache();
  clearChapterCache();
  clearLiveStateCache();
}

const MESSAGES: Record<string, string> = {
  unknown_playback_id: "No video exists with this playback ID.",
  playback_id_deleted: "This playback ID has been deleted.",
  asset_deleted: "This video has been deleted.",
  live_stream_deleted: "This live stream has been deleted.",
  not_a_live_stream: "This playback ID is not a live stream's.",
  asset_not_ready: "This video is not ready to play yet.",
  not_found: "No such file.",
  token_required: "This video requires a signed playback token (?token=).",
  token_too_large: "The playback token is too large.",
  token_malformed: "The playback token is not a valid JWT.",
  alg_not_allowed: "Playback tokens must be signed with ES256.",
  kid_missing: "The playback token has no 'kid' header.",
  unknown_kid: "The playback token's signing key is unknown.",
  key_revoked: "The playback token's signing key has been revoked.",
  wrong_environment: "The playback token was signed by a key from another environment.",
  bad_signature: "The playback token's signature is invalid.",
  exp_required: "The playback token has no 'exp' claim.",
  token_expired: "The playback token has expired.",
  token_not_yet_valid: "The playback token is not valid yet (nbf).",
  lifetime_too_long: "The playback token's lifetime exceeds the maximum of 7 days.",
  wrong_subject: "The playback token is for another playback ID.",
  wrong_audience: "The playback token's audience does not cover this resource.",
  origin_not_allowed: "Playback is not allowed from this origin.",
  referrer_not_allowed: "Playback is not allowed from this site.",
  referrer_required: "Playback requires a referring site for this video.",
  thumbnail_params_mismatch: "The thumbnail parameters differ from those pinned in the token.",
  invalid_thumbnail_params: "Invalid thumbnail parameters.",
  no_video: "This video has no picture to take a thumbnail from.",
  thumbnail_unavailable: "No thumbnail can be taken from this video.",
  thumbnail_rendering_busy: "Thumbnails are being rendered at capacity; retry shortly.",
  thumbnail_rate_limited: "Too many new thumbnails were requested for this video; retry later or use stored sizes.",
  thumbnail_rendering_unavailable: "Thumbnails cannot be rendered right now; retry later.",
  no_poster: "This video has no poster image.",
  no_storyboard: "This video has no storyboard.",
  downloads_disabled: "This video has no downloads (its mp4_support is 'none').",
  download_not_ready: "This video's download is still being prepared; retry shortly.",
  download_failed: "This video's download could not be produced.",
  no_such_download: "This video has no download with this name.",
  unknown_track: "This video has no ready text track with this ID.",
  no_chapters: "This video has no chapters.",
  invalid_animated_params: "Invalid animated preview parameters.",
  animated_unavailable: "No animated preview can be made from this video.",
  animated_rate_limited: "Too many new animated previews were requested for this video; retry later.",
  animated_rendering_busy: "Animated previews are being rendered at capacity; retry shortly.",
  animated_rendering_unavailable: "Animated previews cannot be rendered right now; retry later.",
  invalid_clip_range: "Invalid instant clip range (asset_start_time / asset_end_time).",
  clip_params_mismatch: "The clip range differs from the one pinned in the token.",
  clip_not_vod: "Instant clips are only available for on-demand (VOD) playlists.",
};

function deny(
  status: number,
  reason: string,
  cors: Record<string, string>,
  extra: { message?: string; headers?: Record<string, string> } = {},
): Response {
  return edgeProblem(status, reason, extra.message ?? MESSAGES[reason] ?? reason, { ...cors, ...extra.headers });
}

interface Granted {
  /** For a live playback ID (`live: true`), assetId and currentRunId are null: use liveStreamId. */
  state: PlaybackState & { assetId: string; currentRunId: string };
  /** The verified token (signed playback) to carry into child URLs; null for public. */
  token: string | null;
  claims: PlaybackClaims | null;
  cors: Record<string, string>;
  /** `private` when the response depends on a token or an allow-list. */
  visibility: "public" | "private";
}

/** Unknown/deleted → 404, disallowed origin → 403, token problems → 401/403, not ready → 404. */
async function authorize(
  env: EdgeEnv,
  req: Request,
  playbackId: string,
  audience: TokenAudience,
  opts: { live?: "allow" | "only" } = {},
): Promise<Granted | Response> {
  const state = await resolvePlayback(env, playbackId);
  const cors = corsHeaders(state, req);
  if (!state) return deny(404, "unknown_playback_id", cors);
  if (state.playbackDeleted) return deny(404, "playback_id_deleted", cors);
  if (state.assetDeleted) return deny(404, "asset_deleted", cors);
  if (state.liveDeleted) return deny(404, "live_stream_deleted", cors);
  // Asset-only files (thumbnails, storyboards, downloads, renditions) do not exist for a live stream.
  if (state.liveStreamId && !opts.live) return deny(404, "not_found", cors);
  if (!state.liveStreamId && opts.live === "only") return deny(404, "not_a_live_stream", cors);
  const origin = checkOrigin(state, req);
  if (!origin.ok) return deny(403, origin.reason, cors);
  let token: string | null = null;
  let claims: PlaybackClaims | null = null;
  if (state.policy === "signed") {
    token = new URL(req.url).searchParams.get("token");
    const result = await verifier.verify(
      { token, playbackId: state.playbackId, environmentId: state.environmentId, audience },
      (kid) => loadSigningKey(env, kid),
    );
    if (!result.ok) return deny(result.reason === "token_required" ? 401 : 403, result.reason, cors);
    claims = result.claims;
  }
  if (!isPlayable(state)) return deny(404, "asset_not_ready", cors);
  return {
    state: state as Granted["state"],
    token,
    claims,
    cors,
    visibility: state.policy === "public" && state.allowedOrigins.length === 0 ? "public" : "private",
  };
}

/**
 * The instant-clip range of a playlist request (query or pinned claims), null when none, or the refusal.
 * The duration check uses the run's probed duration (cached per run, never a D1 read per request).
 */
async function clipFor(env: EdgeEnv, req: Request, g: Granted): Promise<ClipRange | null | Response> {
  const url = new URL(req.url);
  const asked = ["asset_start_time", "asset_end_time"].some((n) => url.searchParams.has(n) || g.claims?.[n] != null);
  if (!asked) return null;
  const facts = await runFacts(env, g.state.assetId, g.state.currentRunId);
  const d = requestedClip(url, g.claims, facts.durationSeconds);
  if (!d.ok) return deny(d.status, d.reason, g.cors, { message: d.message });
  return d.range;
}

const app = new Hono<{ Bindings: EdgeEnv }>();

app.options("*", (c) => preflight(c.req.raw));

app.get("/health", (c) => c.json({ ok: true, service: "keyframe-edge", env: c.env.KEYFRAME_ENV }));

app.get("/_keyframe/hls.min.js", () => staticScript(hlsSource));
app.get("/_keyframe/embed.js", () => staticScript(EMBED_JS));

function staticScript(body: string): Response {
  return new Response(body, {
    headers: {
      "Content-Type": "text/javascript; charset=utf-8",
      "Cache-Control": "public, max-age=3600",
      "X-Content-Type-Options": "nosniff",
    },
  });
}

app.get("/:master{[A-Za-z0-9_-]+\\.m3u8}", async (c) => {
  const playbackId = c.req.param("master").slice(0, -".m3u8".length);
  const g = await authorize(c.env, c.req.raw, playbackId, "v", { live: "allow" });
  if (g instanceof Response) return g;
  if (g.state.liveStreamId) {
    const live = await loadLiveState(c.env.MEDIA, g.state.liveStreamId);
    if (!onAir(live)) return notOnAir(live, g.cors);
    return new Response(liveLadderMaster(playbackId, live, g.token) ?? liveMaster(playbackId, live, g.token), {
      headers: {
        "Content-Type": "application/vnd.apple.mpegurl",
        "Cache-Control": livePlaylistCacheControl(g.visibility, live),
        ...g.cors,
      },
    });
  }
  const clip = await clipFor(c.env, c.req.raw, g);
  if (clip instanceof Response) return clip;
  const obj = await c.env.MEDIA.get(runKey(g.state.assetId, g.state.currentRunId, "master.m3u8"));
  if (!obj) return deny(404, "not_found", g.cors);
  const params = clip ? clipQuery(clip) : {};
  const scope = `/${playbackId}/`;
  const dubs = (await readyAudioTracks(c.env, g.state.assetId)).filter((t) => t.runId === g.state.currentRunId);
  const body = addSubtitlesGroup(
    addAudioTracks(rewritePlaylist(await obj.text(), scope, scope, g.token, params), dubs, (t) =>
      rewriteUri(`${t.id}/index.m3u8`, scope, scope, g.token, params),
    ),
    await readyTextTracks(c.env, g.state.assetId),
    (t) => rewriteUri(`text/${t.id}.m3u8`, scope, scope, g.token, params),
  );
  // While the ladder is still landing the master gains renditions: keep it short-lived.
  const maxAge = g.state.renditionsStatus === "complete" ? 60 : 5;
  return new Response(body, {
    headers: {
      "Content-Type": "application/vnd.apple.mpegurl",
      "Cache-Control": `${g.visibility}, max-age=${maxAge}`,
      ...g.cors,
    },
  });
});

const SEGMENT_RE = /^[A-Za-z0-9_-]{1,32}$/;
const FILE_RE = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;

app.get("/:pid/live.m3u8", async (c) => {
  const playbackId = c.req.param("pid");
  const g = await authorize(c.env, c.req.raw, playbackId, "v", { live: "only" });
  if (g instanceof Response) return g;
  const published = await loadLiveState(c.env.MEDIA, g.state.liveStreamId as string);
  if (!onAir(published)) return notOnAir(published, g.cors);
  let live = published;
  const blocking = parseBlocking(new URL(c.req.url).searchParams);
  if (typeof blocking === "string") return deny(400, "invalid_blocking_reload", g.cors, { message: blocking });
  if (blocking) {
    const held = await awaitBlocking(c.env.MEDIA, g.state.liveStreamId as string, blocking, live, g.cors);
    if (held instanceof Response) return held;
    live = held;
  }
  return new Response(liveMedia(playbackId, live, g.token), {
    headers: {
      "Content-Type": "application/vnd.apple.mpegurl",
      "Cache-Control": live.ll
        ? llCacheControl(g.visibility, live, blocking !== null)
        : livePlaylistCacheControl(g.visibility, live),
      ...g.cors,
    },
  });
});

/** A live ladder rendition's media playlist (workers/edge/src/live-ladder.ts). */
app.get("/:pid/live/:rendition{[0-9]+p\\.m3u8}", async (c) => {
  const playbackId = c.req.param("pid");
  const g = await authorize(c.env, c.req.raw, playbackId, "v", { live: "only" });
  if (g instanceof Response) return g;
  const live = await loadLiveState(c.env.MEDIA, g.state.liveStreamId as string);
  if (!onAir(live)) return notOnAir(live, g.cors);
  const body = liveRenditionMedia(playbackId, live, c.req.param("rendition").slice(0, -".m3u8".length), g.token);
  if (body === null) return deny(404, "not_found", g.cors);
  return new Response(body, {
    headers: {
      "Content-Type": "application/vnd.apple.mpegurl",
      "Cache-Control": livePlaylistCacheControl(g.visibility, live),
      ...g.cors,
    },
  });
});

/**
 * A live segment or init segment of the current session. Immutable: its name is unique within the
 * session, so it gets the VOD segments' caching. A finished session's segments are no longer served
 * here (its recording plays through the recording asset's own playback IDs).
 */
app.get("/:pid/live/:session/:file", async (c) => {
  const playbackId = c.req.param("pid");
  const file = c.req.param("file");
  if (!FILE_RE.test(file) || !SEGMENT_RE.test(c.req.param("session"))) {
    return deny(404, "not_found", corsHeaders(null, c.req.raw));
  }
  const g = await authorize(c.env, c.req.raw, playbackId, "v", { live: "only" });
  if (g instanceof Response) return g;
  const live = await loadLiveState(c.env.MEDIA, g.state.liveStreamId as string);
  if (!onAir(live) || live.session_id !== c.req.param("session")) return notOnAir(live, g.cors);
  const res = await serveObject(c.env.MEDIA, `${live.prefix}${STREAM_DIR}/${file}`, c.req.raw, {
    cacheControl: `${g.visibility}, max-age=31536000, immutable`,
    headers: g.cors,
    sharedCache: { cache: caches.default, waitUntil: (p) => c.executionCtx.waitUntil(p) },
  });
  return res ?? deny(404, "not_found", g.cors);
});

/**
 * Without parameters: the pipeline's poster. With any of time/width/height/fit_mode (or pinned by the
 * token): the frame at that time and size, from R2 when some viewer already asked for it, else rendered
 * by the API and the transcoder (./thumbnails.ts). Parameters pinned in a token win; a different value
 * in the query is refused.
 */
app.get("/:pid/thumbnail.jpg", async (c) => {
  const playbackId = c.req.param("pid");
  const g = await authorize(c.env, c.req.raw, playbackId, "t");
  if (g instanceof Response) return g;
  const url = new URL(c.req.url);
  const raw: Partial<Record<keyof RequestedThumbnail, string>> = {};
  for (const name of THUMBNAIL_CLAIMS) {
    const q = url.searchParams.get(name);
    const pinned = g.claims?.[name];
    if (pinned !== undefined && pinned !== null) {
      if (q !== null && !sameThumbnailValue(name, q, pinned)) return deny(403, "thumbnail_params_mismatch", g.cors);
      raw[name] = String(pinned);
    } else if (q !== null) raw[name] = q;
  }
  const requested = parseThumbnailQuery(raw);
  if (!requested) return deny(400, "invalid_thumbnail_params", g.cors);
  if (Object.keys(requested).length === 0) {
    const res = await serveObject(c.env.MEDIA, runKey(g.state.assetId, g.state.currentRunId, "poster.jpg"), c.req.raw, {
      cacheControl: `${g.visibility}, max-age=300`,
      headers: g.cors,
    });
    return res ?? deny(404, "no_poster", g.cors);
  }

  const env = c.env as ThumbnailEnv;
  const run = await runFacts(env, g.state.assetId, g.state.currentRunId);
  if (!run.hasVideo) return deny(404, "no_video", g.cors);
  const params = normalizeThumbnail(requested, run.durationSeconds);
  // The key names the run and every parameter, so the image behind it never changes; the URL does not
  // name the run, so a day (not a year) bounds how long a re-processed asset shows its old frame.
  const cacheControl = `${g.visibility}, max-age=86400`;
  const cached = await serveObject(env.MEDIA, thumbnailKey(g.state.assetId, g.state.currentRunId, params), c.req.raw, {
    cacheControl,
    headers: { ...g.cors, [THUMBNAIL_HEADER]: "cached" },
    sharedCache: { cache: caches.default, waitUntil: (p) => c.executionCtx.waitUntil(p) },
  });
  if (cached) return cached;
  const rendered = await renderViaApi(
    env,
    g.state.assetId,
    params,
    { ...g.cors, "Cache-Control": cacheControl },
    g.state.playbackId,
  );
  if (rendered.ok) return rendered.response;
  return deny(rendered.status, rendered.reason, g.cors, {
    message: rendered.message,
    headers: rendered.retryAfter ? { "Retry-After": rendered.retryAfter } : {},
  });
});

app.get("/:pid/storyboard.vtt", async (c) => {
  const playbackId = c.req.param("pid");
  const g = await authorize(c.env, c.req.raw, playbackId, "s");
  if (g instanceof Response) return g;
  const obj = await c.env.MEDIA.get(runKey(g.state.assetId, g.state.currentRunId, "storyboard.vtt"));
  if (!obj) return deny(404, "no_storyboard", g.cors);
  const body = rewriteStoryboardVtt(await obj.text(), `/${playbackId}/`, `/${playbackId}/`, g.token);
  return new Response(body, {
    headers: { "Content-Type": "text/vtt; charset=utf-8", "Cache-Control": `${g.visibility}, max-age=300`, ...g.cors },
  });
});

app.get("/:pid/storyboard.jpg", async (c) => {
  const g = await authorize(c.env, c.req.raw, c.req.param("pid"), "s");
  if (g instanceof Response) return g;
  const res = await serveObject(
    c.env.MEDIA,
    runKey(g.state.assetId, g.state.currentRunId, "storyboard.jpg"),
    c.req.raw,
    { cacheControl: `${g.visibility}, max-age=300`, headers: g.cors },
  );
  return res ?? deny(404, "no_storyboard", g.cors);
});

/**
 * The static rendition, as an attachment named after the asset. A token must carry aud `d`: a video
 * token (aud `v`) plays the stream but never downloads the file. The object is immutable under its run
 * prefix, so it gets the segments' caching (and their shared, token-free colo cache for whole GETs).
 */
app.get("/:pid/downloads/:file", async (c) => {
  const playbackId = c.req.param("pid");
  const file = c.req.param("file");
  if (!isStaticRenditionName(file)) return deny(404, "no_such_download", corsHeaders(null, c.req.raw));
  const g = await authorize(c.env, c.req.raw, playbackId, "d");
  if (g instanceof Response) return g;
  const downloads = g.state.downloads;
  if (downloads.status === "disabled") return deny(404, "downloads_disabled", g.cors);
  if (downloads.status === "preparing") return deny(404, "download_not_ready", g.cors);
  if (downloads.status === "errored") return deny(404, "download_failed", g.cors);
  if (!downloads.files.includes(file)) return deny(404, "no_such_download", g.cors);
  const ext = file.slice(file.lastIndexOf(".") + 1);
  const res = await serveObject(
    c.env.MEDIA,
    runKey(g.state.assetId, g.state.currentRunId, `${DOWNLOADS_DIR}/${file}`),
    c.req.raw,
    {
      cacheControl: `${g.visibility}, max-age=31536000, immutable`,
      headers: { ...g.cors, "Content-Disposition": contentDisposition(g.state.title, g.state.assetId, ext) },
      sharedCache: { cache: caches.default, waitUntil: (p) => c.executionCtx.waitUntil(p) },
    },
  );
  return res ?? deny(404, "not_found", g.cors);
});

// Before the generic rendition route: `/{pid}/text/…` is not a rendition.
registerTextTrackRoutes(app, { authorize, deny, clipFor });
registerChapterRoutes(app, { authorize, deny });
registerAnimatedRoutes(app, { authorize, deny });

app.get("/:pid/:rendition/:file", async (c) => {
  const playbackId = c.req.param("pid");
  const rendition = c.req.param("rendition");
  const file = c.req.param("file");
  // Downloads need aud `d` (route above); a video token must never reach them through this route.
  if (!SEGMENT_RE.test(rendition) || !FILE_RE.test(file) || rendition === DOWNLOADS_DIR) {
    return deny(404, "not_found", corsHeaders(null, c.req.raw));
  }
  const g = await authorize(c.env, c.req.raw, playbackId, "v");
  if (g instanceof Response) return g;
  const key = runKey(g.state.assetId, g.state.currentRunId, `${rendition}/${file}`);
  if (file.endsWith(".m3u8")) {
    const obj = await c.env.MEDIA.get(key);
    if (!obj) return deny(404, "not_found", g.cors);
    let text = await obj.text();
    const clip = await clipFor(c.env, c.req.raw, g);
    if (clip instanceof Response) return clip;
    if (clip) {
      if (!hasEndList(text)) return deny(400, "clip_not_vod", g.cors);
      const trimmed = trimMediaPlaylist(text, clip);
      if (trimmed === null) return deny(400, "invalid_clip_range", g.cors);
      text = trimmed;
    }
    const body = rewritePlaylist(text, `/${playbackId}/${rendition}/`, `/${playbackId}/`, g.token);
    // VOD variant playlists are written once; a live/event playlist (no ENDLIST) changes every segment.
    const maxAge = hasEndList(text) ? 300 : 2;
    return new Response(body, {
      headers: {
        "Content-Type": "application/vnd.apple.mpegurl",
        "Cache-Control": `${g.visibility}, max-age=${maxAge}`,
        ...g.cors,
      },
    });
  }
  // Segments are immutable under their run prefix. The R2 key never involves the token, so every viewer
  // shares one object; signed responses are `private` so no shared cache keeps serving a URL after its
  // token expires or its key is revoked.
  const serve = () =>
    serveObject(c.env.MEDIA, key, c.req.raw, {
      cacheControl: `${g.visibility}, max-age=31536000, immutable`,
      headers: g.cors,
      sharedCache: { cache: caches.default, waitUntil: (p) => c.executionCtx.waitUntil(p) },
    });
  const playlistKey = runKey(g.state.assetId, g.state.currentRunId, `${rendition}/index.m3u8`);
  const res = (await serve()) ?? (await serveWhenStored(c.env.MEDIA, key, playlistKey, file, serve));
  return res ?? deny(404, "not_found", g.cors);
});

app.get("/embed/:pid", async (c) => {
  const playbackId = c.req.param("pid");
  const state = await resolvePlayback(c.env, playbackId);
  const ancestors = state ? frameAncestors(state) : "frame-ancestors 'none'";
  const page = (
    status: number,
    message: string | null,
    src: string | null = null,
    poster: string | null = null,
    chapters: EmbedChapters | null = null,
  ) =>
    new Response(embedPage({ src, poster, message, chapters }), {
      status,
      headers: {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": embedCsp(ancestors),
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
      },
    });
  const g = await authorize(c.env, c.req.raw, playbackId, "v", { live: "allow" });
  if (g instanceof Response) {
    const body = (await g.json()) as { reason: string; message: string };
    return page(g.status, body.message);
  }
  const url = new URL(c.req.url);
  const thumbToken = url.searchParams.get("thumbnail_token");
  const q = (t: string | null) => (t ? `?token=${encodeURIComponent(t)}` : "");
  const src = `/${playbackId}.m3u8${q(g.token)}`;
  const poster =
    g.state.hasPoster && (g.state.policy === "public" || thumbToken)
      ? `/${playbackId}/thumbnail.jpg${q(thumbToken)}`
      : null;
  const marks = g.state.liveStreamId ? null : await assetChapters(c.env, g.state.assetId);
  const chapters = marks?.chapters.length
    ? { src: `/${playbackId}/chapters.vtt${q(g.token)}`, cues: chapterCues(marks.chapters, marks.durationSeconds) }
    : null;
  return page(200, null, src, poster, chapters);
});

app.notFound((c) => deny(404, "not_found", corsHeaders(null, c.req.raw)));
app.onError((err, c) => {
  const unavailable = d1Unavailable(err);
  if (unavailable) {
    console.warn(
      JSON.stringify({ level: "warn", msg: "edge_database_unavailable", error: unavailable.message, path: c.req.path }),
    );
    return edgeProblem(503, "database_unavailable", "The database is briefly unavailable. Retry shortly.", {
      ...corsHeaders(null, c.req.raw),
      "Retry-After": String(unavailable.retryAfterSeconds),
    });
  }
  console.error(JSON.stringify({ level: "error", msg: "edge_unhandled", error: err.message, path: c.req.path }));
  return edgeProblem(500, "internal_error", "An unexpected error occurred.", corsHeaders(null, c.req.raw));
});

// Reads retry transient D1 failures (src/lib/d1-retry.ts).
export default {
  fetch: (request, env, ctx) => app.fetch(request, withRetryingDb(env), ctx),
} satisfies ExportedHandler<EdgeEnv>;
