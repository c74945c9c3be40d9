/**
 * Origin/referrer allow-list and CORS. A playback ID's allow-list holds exact hosts (`example.com`,
 * optionally `host:port`) and `*.example.com` wildcards (subdomains only, not the apex). The Origin
 * header decides when present; else the Referer; else `allow_no_referrer`. The edge's own host is
 * always allowed, so the embed page (which the allow-list already guards through its own Referer and
 * CSP frame-ancestors) can load the playlists it serves.
 */
import type { PlaybackState } from "./state";

export type OriginDecision =
  | { ok: true; origin: string | null }
  | { ok: false; reason: "origin_not_allowed" | "referrer_not_allowed" | "referrer_required" };

/** Does `host` (lowercase, with `:port` when non-default) match an allow-list pattern? */
export function hostMatches(host: string, pattern: string): boolean {
  const h = host.toLowerCase();
  const p = pattern.toLowerCase();
  const hasPort = /:\d+$/.test(p);
  const candidate = hasPort ? h : h.replace(/:\d+$/, "");
  if (p.startsWith("*.")) {
    const suffix = p.slice(1); // ".example.com[:port]"
    return candidate.endsWith(suffix) && candidate.length > suffix.length;
  }
  return candidate === p;
}

function hostOf(url: string): string | null {
  try {
    const u = new URL(url);
    if (u.protocol !== "http:" && u.protocol !== "https:") return null;
    return u.host.toLowerCase();
  } catch {
    return null;
  }
}

export function checkOrigin(state: PlaybackState, req: Request): OriginDecision {
  const rawOrigin = req.headers.get("origin");
  const origin = rawOrigin && rawOrigin !== "null" ? rawOrigin : null;
  if (state.allowedOrigins.length === 0) return { ok: true, origin };
  const selfHost = new URL(req.url).host.toLowerCase();
  const allowed = (host: string) => host === selfHost || state.allowedOrigins.some((p) => hostMatches(host, p));
  if (origin) {
    const host = hostOf(origin);
    return host && allowed(host) ? { ok: true, origin } : { ok: false, reason: "origin_not_allowed" };
  }
  const referer = req.headers.get("referer");
  if (referer) {
    const host = hostOf(referer);
    return host && allowed(host) ? { ok: true, origin: null } : { ok: false, reason: "referrer_not_allowed" };
  }
  return state.allowNoReferrer ? { ok: true, origin: null } : { ok: false, reason: "referrer_required" };
}

const EXPOSE = "Content-Length, Content-Range, Accept-Ranges, Content-Type, ETag, Content-Disposition";

/**
 * CORS for players: `*` when the playback ID is unrestricted (no cookies are involved, the token rides
 * in the URL); otherwise echo the allowed Origin and vary on it.
 */
export function corsHeaders(state: PlaybackState | null, req: Request): Record<string, string> {
  const origin = req.headers.get("origin");
  const restricted = state !== null && state.allowedOrigins.length > 0;
  const h: Record<string, string> = { "Access-Control-Expose-Headers": EXPOSE };
  if (!restricted) {
    h["Access-Control-Allow-Origin"] = "*";
    return h;
  }
  h.Vary = "Origin";
  if (origin && origin !== "null" && state && checkOrigin(state, req).ok) h["Access-Control-Allow-Origin"] = origin;
  return h;
}

/** Preflight: players only GET/HEAD with Range; the real request enforces the allow-list. */
export function preflight(req: Request): Response {
  const origin = req.headers.get("origin");
  const requested = req.headers.get("access-control-request-headers");
  return new Response(null, {
    status: 204,
    headers: {
      "Access-Control-Allow-Origin": origin && origin !== "null" ? origin : "*",
      "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
      "Access-Control-Allow-Headers": requested && /^[A-Za-z0-9 ,_-]{1,200}$/.test(requested) ? requested : "Range",
      "Access-Control-Max-Age": "86400",
      Vary: "Origin, Access-Control-Request-Headers",
    },
  });
}

/** CSP frame-ancestors for the embed page: the allow-list (plus self), or anyone when it is empty. */
export function frameAncestors(state: PlaybackState): string {
  if (state.allowedOrigins.length === 0) return "frame-ancestors *";
  // A CSP host-source without a port matches only the default port, while an allow-list entry
  // without a port means any port (hostMatches): say so explicitly with `:*`.
  const sources = state.allowedOrigins.map((p) => (/:\d+$/.test(p) ? p : `${p}:*`));
  return `frame-ancestors 'self' ${sources.join(" ")}`;
}
