/**
 * Thumbnails at a time and size, edge side. The request is normalised (src/lib/thumbnails.ts) against
 * the asset's duration into a content-addressed R2 key; a stored thumbnail is served like any other
 * immutable object, and a missing one is rendered by asking the API over the `API` service binding
 * (HMAC-signed with EDGE_API_SECRET, see src/lib/edge-auth.ts). The API stores what it renders, so the
 * next viewer gets it from R2 without any call.
 *
 * Duration and "has video" change only with the run, so they are read from D1 once per asset run per
 * isolate, never per request.
 */
import { signEdgeRequest } from "../../../src/lib/edge-auth";
import { THUMBNAIL_HEADER, THUMBNAIL_TIME_HEADER, type ThumbnailParams } from "../../../src/lib/thumbnails";
import { readRunFacts } from "./db";
import type { EdgeEnv } from "./state";

export type ThumbnailEnv = EdgeEnv & {
  /** Service binding to the API worker (`[[services]]` in wrangler.toml). */
  API?: Fetcher;
  /** deriveEdgeApiSecret(JOB_TOKEN_SECRET); a secret in production, a --var locally. */
  EDGE_API_SECRET?: string;
};

/** Longer than the API's own wait on the transcoder (35 s). */
export const RENDER_TIMEOUT_MS = 40_000;
const FACTS_TTL_MS = 10 * 60_000;
const MAX_FACTS = 10_000;

export interface RunFacts {
  durationSeconds: number | null;
  hasVideo: boolean;
}

const facts = new Map<string, { value: RunFacts; expiresAt: number }>();

export async function runFacts(env: EdgeEnv, assetId: string, runId: string): Promise<RunFacts> {
  const key = `${assetId}/${runId}`;
  const hit = facts.get(key);
  if (hit && hit.expiresAt > Date.now()) return hit.value;
  const row = await readRunFacts(env.DB, assetId, runId);
  let tracks: { type?: string }[] = [];
  try {
    const parsed = row?.tracks ? JSON.parse(row.tracks) : [];
    if (Array.isArray(parsed)) tracks = parsed;
  } catch {
    // Unknown tracks: let the API decide.
  }
  const value: RunFacts = {
    durationSeconds: row?.duration_ms ? row.duration_ms / 1000 : null,
    hasVideo: tracks.length === 0 || tracks.some((t) => t?.type === "video"),
  };
  // A run that no longer matches (re-processed since the playback state was cached) is not remembered.
  if (row) {
    if (facts.size >= MAX_FACTS) {
      const oldest = facts.keys().next().value;
      if (oldest !== undefined) facts.delete(oldest);
    }
    facts.set(key, { value, expiresAt: Date.now() + FACTS_TTL_MS });
  }
  return value;
}

export function clearThumbnailFacts() {
  facts.clear();
}

export type RenderOutcome =
  | { ok: true; response: Response }
  | { ok: false; status: number; reason: string; message?: string; retryAfter?: string };

function thumbnailOutcome(v: string | null): "cached" | "rendered" | "nearest" {
  return v === "cached" || v === "nearest" ? v : "rendered";
}

/** Asks the API to render (or find) the thumbnail; maps every failure to a status and a reason. */
export async function renderViaApi(
  env: ThumbnailEnv,
  assetId: string,
  p: ThumbnailParams,
  headers: Record<string, string>,
  playbackId?: string,
): Promise<RenderOutcome> {
  if (!env.API || !env.EDGE_API_SECRET) {
    console.error(JSON.stringify({ level: "error", msg: "thumbnail_render_unconfigured", api: Boolean(env.API) }));
    return { ok: false, status: 503, reason: "thumbnail_rendering_unavailable", retryAfter: "30" };
  }
  const path = "/internal/thumbnails";
  const body = JSON.stringify({
    asset_id: assetId,
    time: p.time,
    width: p.width,
    height: p.height,
    fit_mode: p.fit_mode,
    ...(playbackId ? { playback_id: playbackId } : {}),
  });
  let res: Response | undefined;
  // One retry on a connection-level failure (never on an HTTP answer): the call is idempotent.
  for (let attempt = 1; !res; attempt++) {
    try {
      res = await env.API.fetch(`https://keyframe-api${path}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(await signEdgeRequest(env.EDGE_API_SECRET, "POST", path, body)),
        },
        body,
        signal: AbortSignal.timeout(RENDER_TIMEOUT_MS),
      });
    } catch (err) {
      const timedOut = (err as Error).name === "TimeoutError";
      console.error(
        JSON.stringify({ level: "error", msg: "thumbnail_api_unreachable", attempt, error: (err as Error).message }),
      );
      if (timedOut || attempt >= 2) {
        return { ok: false, status: 503, reason: "thumbnail_rendering_unavailable", retryAfter: "5" };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  if (res.status === 200) {
    const out: Record<string, string> = {
      "Content-Type": "image/jpeg",
      ...headers,
      [THUMBNAIL_HEADER]: thumbnailOutcome(res.headers.get(THUMBNAIL_HEADER)),
      [THUMBNAIL_TIME_HEADER]: res.headers.get(THUMBNAIL_TIME_HEADER) ?? p.time.toFixed(1),
    };
    // A stand-in for a render the asset's cap refused: do not let caches keep it for the full day.
    if (out[THUMBNAIL_HEADER] === "nearest" && out["Cache-Control"]) {
      out["Cache-Control"] = out["Cache-Control"].replace(/max-age=\d+/, "max-age=300");
    }
    for (const [from, to] of [
      ["content-length", "Content-Length"],
      ["etag", "ETag"],
    ]) {
      const v = res.headers.get(from);
      if (v) out[to] = v;
    }
    return { ok: true, response: new Response(res.body, { status: 200, headers: out }) };
  }
  const text = await res.text().catch(() => "");
  let problem: { code?: string; detail?: string } | null = null;
  try {
    problem = JSON.parse(text);
  } catch {
    // Not problem+json (a proxy's own error page): keep the text for the log.
  }
  const detail = problem?.detail ?? (text || undefined);
  switch (res.status) {
    case 400:
      return { ok: false, status: 400, reason: "invalid_thumbnail_params", message: problem?.detail };
    case 404:
    case 410:
      return { ok: false, status: 404, reason: "thumbnail_unavailable", message: problem?.detail };
    case 409:
      return { ok: false, status: 404, reason: "asset_not_ready" };
    case 429:
      // The playback ID's (or environment's) render budget is spent; stored renders still serve from R2.
      return {
        ok: false,
        status: 429,
        reason: "thumbnail_rate_limited",
        retryAfter: res.headers.get("retry-after") ?? "60",
      };
    case 503:
      return {
        ok: false,
        status: 503,
        reason: "thumbnail_rendering_busy",
        retryAfter: res.headers.get("retry-after") ?? "2",
      };
    default:
      // 401 means EDGE_API_SECRET does not match the API's JOB_TOKEN_SECRET: an operator problem.
      console.error(
        JSON.stringify({
          level: "error",
          msg: "thumbnail_api_refused",
          status: res.status,
          code: problem?.code,
          detail: detail?.slice(0, 300),
        }),
      );
      return { ok: false, status: 503, reason: "thumbnail_rendering_unavailable", retryAfter: "30" };
  }
}
