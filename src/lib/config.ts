/**
 * The deployment's own configuration, checked once per isolate: which environment this is
 * (KEYFRAME_ENV, a closed set) and whether a deployed worker has what it needs to do work.
 *
 * Production is the default and development the override: wrangler.toml carries production values and
 * `npm start` / the tests pass `KEYFRAME_ENV=development` with loopback URLs themselves. A worker that
 * finds itself deployed with development leftovers (a loopback TRANSCODER_URL and no container, public
 * URLs on 127.0.0.1, no JOB_TOKEN_SECRET) refuses new work with 503 and says why on `/v1/health`,
 * instead of accepting uploads whose jobs would all fail five attempts later.
 */

export const KEYFRAME_ENVS = ["development", "staging", "production"] as const;
export type KeyframeEnv = (typeof KEYFRAME_ENVS)[number];

export function parseKeyframeEnv(raw: string | undefined): KeyframeEnv | null {
  return (KEYFRAME_ENVS as readonly string[]).includes(raw ?? "") ? (raw as KeyframeEnv) : null;
}

/** Local-only behaviour (SQLite-lock retries, the local transcoder process) is keyed to this alone. */
export function isDevelopment(env: { KEYFRAME_ENV?: string }): boolean {
  return env.KEYFRAME_ENV === "development";
}

const LOOPBACK_HOST = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\]|0\.0\.0\.0)$/i;

/** Problems with a URL var in a deployed environment (empty, not a URL, not https, loopback). */
export function publicUrlProblem(name: string, value: string | undefined): string | null {
  if (!value)
    return `${name} is not set: set it in wrangler.toml [env.<name>.vars] to this worker's public https origin`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${name}=${JSON.stringify(value)} is not a URL`;
  }
  if (LOOPBACK_HOST.test(url.hostname)) return `${name}=${value} is a loopback address (a development value)`;
  if (url.protocol !== "https:") return `${name}=${value} must be https in a deployed environment`;
  return null;
}

export type ApiConfigEnv = Pick<
  Env,
  "KEYFRAME_ENV" | "API_PUBLIC_URL" | "EDGE_PUBLIC_URL" | "TRANSCODER_URL" | "JOB_TOKEN_SECRET"
> & { TRANSCODER?: unknown };

/** Every reason this API worker must not start work; empty when it may. */
export function apiConfigProblems(env: ApiConfigEnv): string[] {
  const kind = parseKeyframeEnv(env.KEYFRAME_ENV);
  if (!kind) {
    return [`KEYFRAME_ENV=${JSON.stringify(env.KEYFRAME_ENV ?? "")} is not one of ${KEYFRAME_ENVS.join(" | ")}`];
  }
  const problems: string[] = [];
  if (!env.JOB_TOKEN_SECRET || env.JOB_TOKEN_SECRET.length < 32) {
    problems.push("JOB_TOKEN_SECRET is missing or shorter than 32 characters (wrangler secret put JOB_TOKEN_SECRET)");
  }
  if (kind === "development") return problems;
  for (const name of ["API_PUBLIC_URL", "EDGE_PUBLIC_URL"] as const) {
    const p = publicUrlProblem(name, env[name]);
    if (p) problems.push(p);
  }
  // Deployed workers transcode in the container; a TRANSCODER_URL there is a development leftover.
  if (!env.TRANSCODER) {
    problems.push("the TRANSCODER container binding is missing: jobs would have nowhere to run");
  }
  if (env.TRANSCODER_URL) {
    let host = "";
    try {
      host = new URL(env.TRANSCODER_URL).hostname;
    } catch {}
    if (LOOPBACK_HOST.test(host) || !host) {
      problems.push(`TRANSCODER_URL=${env.TRANSCODER_URL} is a development value; deployed workers use the container`);
    }
  }
  return problems;
}

const memo = new WeakMap<object, string[]>();

/** apiConfigProblems, computed once per env object (the bindings object is stable within an isolate). */
export function cachedApiConfigProblems(env: ApiConfigEnv): string[] {
  let problems = memo.get(env);
  if (!problems) {
    problems = apiConfigProblems(env);
    memo.set(env, problems);
  }
  return problems;
}
