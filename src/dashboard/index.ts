/**
 * The dashboard: an HTML shell at /dashboard plus its script, stylesheet and the hls.js / tus-js-client browser
 * bundles, all served by this worker (no CDN: it works offline and on a locked-down network). The page talks to
 * the public /v1 API with the key the user types in, exactly like any other client; there is no private route.
 */

import hlsJs from "hls.js/dist/hls.min.js";
import tusJs from "tus-js-client/dist/tus.min.js";
import type { App } from "../app";
import { SCOPES } from "../lib/scopes";
import appCss from "./client/app.css";
import appJs from "./client/app.js";

const STATIC: Record<string, { body: string; type: string }> = {
  "app.js": { body: appJs, type: "text/javascript; charset=utf-8" },
  "app.css": { body: appCss, type: "text/css; charset=utf-8" },
  "scopes.js": {
    body: `export const ALL_SCOPES = ${JSON.stringify(SCOPES)};\n`,
    type: "text/javascript; charset=utf-8",
  },
  "hls.min.js": { body: hlsJs, type: "text/javascript; charset=utf-8" },
  "tus.min.js": { body: tusJs, type: "text/javascript; charset=utf-8" },
};

const SHELL = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Keyframe dashboard</title>
<link rel="stylesheet" href="/dashboard/static/app.css">
<script type="module" src="/dashboard/static/app.js"></script>
</head>
<body>
<div id="app"><main><p class="notice notice-loading" role="status">Loading the dashboard…</p></main></div>
<noscript><p>The Keyframe dashboard needs JavaScript. The API itself is documented at <a href="/docs">/docs</a>.</p></noscript>
</body>
</html>
`;

function originOf(url: string | undefined): string | null {
  if (!url) return null;
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

/**
 * Only this origin, plus the two origins of our own deployment the API hands out URLs for: the edge (playlists,
 * segments, posters) and API_PUBLIC_URL (tus upload URLs, when it is not the origin the page was loaded from).
 * No inline script or style, no eval, no framing, no form posts elsewhere.
 */
export function dashboardCsp(env: Pick<Env, "EDGE_PUBLIC_URL" | "API_PUBLIC_URL">): string {
  const ours = [originOf(env.EDGE_PUBLIC_URL), originOf(env.API_PUBLIC_URL)].filter((o): o is string => !!o);
  const extra = [...new Set(ours)].join(" ");
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' data: ${extra}`,
    `media-src 'self' blob: ${extra}`,
    `connect-src 'self' ${extra}`,
    "font-src 'none'",
    "object-src 'none'",
    "frame-src 'none'",
    "worker-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ]
    .map((d) => d.trim())
    .join("; ");
}

function securityHeaders(env: Env, type: string): Record<string, string> {
  return {
    "content-type": type,
    "content-security-policy": dashboardCsp(env),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
  };
}

export function registerDashboard(app: App) {
  const page = (c: { env: Env; body: (b: string, s: 200, h: Record<string, string>) => Response }) =>
    c.body(SHELL, 200, { ...securityHeaders(c.env, "text/html; charset=utf-8"), "cache-control": "no-store" });
  app.get("/dashboard", (c) => page(c));
  app.get("/dashboard/", (c) => page(c));
  app.get("/dashboard/static/:file", (c) => {
    const file = STATIC[c.req.param("file")];
    if (!file) return c.notFound();
    // Short cache: the files change with each deploy and carry no version in their names.
    return c.body(file.body, 200, { ...securityHeaders(c.env, file.type), "cache-control": "public, max-age=300" });
  });
}
