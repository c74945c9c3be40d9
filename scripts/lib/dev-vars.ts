/**
 * Development values, in one place. wrangler.toml carries production values (a plain `wrangler deploy`
 * must never ship loopback URLs); `npm start`, the end-to-end stack and the workerd test projects pass
 * these themselves. Chosen over an `[env.dev]` section because wrangler environments do not inherit
 * bindings: a dev section would be a fourth copy of every D1/R2/queue/DO/container block to keep in step,
 * and moving local runs off the top-level bindings would orphan existing `.wrangler/state` data.
 */
import { existsSync, readFileSync } from "node:fs";

export interface DevUrls {
  apiUrl: string;
  edgeUrl: string;
  transcoderUrl: string;
}

/** The API worker's development vars. */
export function devApiVars(urls: DevUrls): Record<string, string> {
  return {
    KEYFRAME_ENV: "development",
    API_PUBLIC_URL: urls.apiUrl,
    EDGE_PUBLIC_URL: urls.edgeUrl,
    TRANSCODER_URL: urls.transcoderUrl,
    // A local receiver (a webhook test server on 127.0.0.1) is what local work needs; `.dev.vars` can turn
    // it off. Ingest URLs stay guarded: a pasted URL can still point at something private.
    ALLOW_PRIVATE_WEBHOOK_URLS: "true",
    ALLOW_PRIVATE_INGEST_URLS: "false",
  };
}

/** The edge worker's development vars. */
export function devEdgeVars(urls: Pick<DevUrls, "apiUrl" | "edgeUrl">): Record<string, string> {
  return { KEYFRAME_ENV: "development", API_PUBLIC_URL: urls.apiUrl, EDGE_PUBLIC_URL: urls.edgeUrl };
}

/**
 * A `.dev.vars` file (dotenv syntax: KEY=value, optional quotes, # comments), or {} when absent.
 * `npm start` lets it override the defaults above.
 */
export function readDevVarsFile(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, "utf8").split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m || line.trimStart().startsWith("#")) continue;
    const raw = m[2];
    const quoted = /^(["'])(.*)\1$/.exec(raw);
    out[m[1]] = quoted ? quoted[2] : raw.replace(/\s+#.*$/, "");
  }
  return out;
}
