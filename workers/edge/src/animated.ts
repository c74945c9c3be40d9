/**
 * Animated previews at the edge: `/{playback_id}/animated.gif|webp?start=&end=&width=&fps=` (token
 * audience `g`). The query is snapped onto the grid (src/lib/animated.ts) against the run's duration into
 * a content-addressed R2 key; a stored preview is served like any immutable object, a missing one is
 * rendered by asking the API over the `API` service binding (HMAC-signed, like thumbnails: ./thumbnails.ts),
 * which stores it, so the next viewer gets it from R2. Storm protection is the thumbnails' (grid, per-run
 * cap, per-playback-ID render budget, transcoder single flight and bounded slots).
 */
import type { Hono } from "hono";
import {
  ANIMATED_CONTENT_TYPES,
  type AnimatedFormat,
  type AnimatedParams,
  animatedKey,
  normalizeAnimated,
  parseAnimatedQuery,
} from "../../../src/lib/animated";
import { signEdgeRequest } from "../../../src/lib/edge-auth";
import { THUMBNAIL_HEADER } from "../../../src/lib/thumbnails";
import { serveObject } from "./media";
import { corsHeaders } from "./policy";
import type { EdgeEnv } from "./state";
import { runFacts, type ThumbnailEnv } from "./thumbnails";

/** Longer than the API's own wait on the transcoder for an animated render (95 s). */
export const ANIMATED_TIMEOUT_MS = 100_000;
const FILE_RE = /^animated\.(gif|webp)$/;

interface AnimatedGrant {
  state: { assetId: string; currentRunId: string; playbackId: string };
  cors: Record<string, string>;
  visibility: "public" | "private";
}

export interface AnimatedRouteDeps<G extends AnimatedGrant> {
  authorize: (env: EdgeEnv, req: Request, playbackId: string, audience: "g") => Promise<G | Response>;
  deny: (
    status: number,
    reason: string,
    cors: Record<string, string>,
    extra?: { message?: string; headers?: Record<string, string> },
  ) => Response;
}

type Outcome =
  | { ok: true; response: Response }
  | { ok: false; status: number; reason: string; retryAfter?: string; message?: string };

async function renderViaApi(
  env: ThumbnailEnv,
  assetId: string,
  playbackId: string,
  p: AnimatedParams,
  headers: Record<string, string>,
): Promise<Outcome> {
  if (!env.API || !env.EDGE_API_SECRET)
    return { ok: false, status: 503, reason: "animated_rendering_unavailable", retryAfter: "30" };
  const path = "/internal/animated";
  const body = JSON.stringify({ asset_id: assetId, ...p, playback_id: playbackId });
  let res: Response;
  try {
    res = await env.API.fetch(`https://keyframe-api${path}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(await signEdgeRequest(env.EDGE_API_SECRET, "POST", path, body)),
      },
      body,
      signal: AbortSignal.timeout(ANIMATED_TIMEOUT_MS),
    });
  } catch (err) {
    console.error(JSON.stringify({ level: "error", msg: "animated_api_unreachable", error: (err as Error).message }));
    return { ok: false, status: 503, reason: "animated_rendering_unavailable", retryAfter: "5" };
  }
  if (res.status === 200) {
    const out: Record<string, string> = {
      ...headers,
      "Content-Type": ANIMATED_CONTENT_TYPES[p.format],
      [THUMBNAIL_HEADER]: res.headers.get(THUMBNAIL_HEADER) === "cached" ? "cached" : "rendered",
    };
    const length = res.headers.get("content-length");
    if (length) out["Content-Length"] = length;
    return { ok: true, response: new Response(res.body, { status: 200, headers: out }) };
  }
  const problem = (await res.json().catch(() => null)) as { detail?: string; code?: string } | null;
  switch (res.status) {
    case 400:
      return { ok: false, status: 400, reason: "invalid_animated_params", message: problem?.detail };
    case 404:
    case 410:
      return { ok: false, status: 404, reason: "animated_unavailable", message: problem?.detail };
    case 409:
      return { ok: false, status: 404, reason: "asset_not_ready" };
    case 429:
      return {
        ok: false,
        status: 429,
        reason: "animated_rate_limited",
        message: problem?.detail,
        retryAfter: res.headers.get("retry-after") ?? "60",
      };
    case 503:
      return {
        ok: false,
        status: 503,
        reason: "animated_rendering_busy",
        retryAfter: res.headers.get("retry-after") ?? "2",
      };
    default:
      console.error(
        JSON.stringify({ level: "error", msg: "animated_api_refused", status: res.status, code: problem?.code }),
      );
      return { ok: false, status: 503, reason: "animated_rendering_unavailable", retryAfter: "30" };
  }
}

export function registerAnimatedRoutes<G extends AnimatedGrant>(
  app: Hono<{ Bindings: EdgeEnv }>,
  { authorize, deny }: AnimatedRouteDeps<G>,
) {
  app.get("/:pid/:file{animated\\.(?:gif|webp)}", async (c) => {
    const m = FILE_RE.exec(c.req.param("file"));
    if (!m) return deny(404, "not_found", corsHeaders(null, c.req.raw));
    const format = m[1] as AnimatedFormat;
    const g = await authorize(c.env, c.req.raw, c.req.param("pid"), "g");
    if (g instanceof Response) return g;
    const url = new URL(c.req.url);
    const requested = parseAnimatedQuery({
      start: url.searchParams.get("start"),
      end: url.searchParams.get("end"),
      width: url.searchParams.get("width"),
      fps: url.searchParams.get("fps"),
    });
    if ("error" in requested)
      return deny(400, "invalid_animated_params", g.cors, {
        message: `Invalid animated preview parameters: ${requested.error}.`,
      });
    const env = c.env as ThumbnailEnv;
    const run = await runFacts(env, g.state.assetId, g.state.currentRunId);
    if (!run.hasVideo) return deny(404, "no_video", g.cors);
    const params = normalizeAnimated(format, requested, run.durationSeconds);
    if (!params)
      return deny(400, "invalid_animated_params", g.cors, {
        message: `start is past the end of the video (${run.durationSeconds} s).`,
      });
    const cacheControl = `${g.visibility}, max-age=86400`;
    const headers = {
      ...g.cors,
      "Content-Type": ANIMATED_CONTENT_TYPES[format],
      // What was rendered, after snapping to the grid (the query may ask for more than the caps allow).
      "X-Keyframe-Animated": `start=${params.start};end=${params.end};width=${params.width};fps=${params.fps}`,
    };
    const cached = await serveObject(env.MEDIA, animatedKey(g.state.assetId, g.state.currentRunId, params), c.req.raw, {
      cacheControl,
      headers: { ...headers, [THUMBNAIL_HEADER]: "cached" },
      sharedCache: { cache: caches.default, waitUntil: (p) => c.executionCtx.waitUntil(p) },
    });
    if (cached) return cached;
    const rendered = await renderViaApi(env, g.state.assetId, g.state.playbackId, params, {
      ...headers,
      "Cache-Control": cacheControl,
    });
    if (rendered.ok) return rendered.response;
    return deny(rendered.status, rendered.reason, g.cors, {
      message: rendered.message,
      headers: rendered.retryAfter ? { "Retry-After": rendered.retryAfter } : {},
    });
  });
}
