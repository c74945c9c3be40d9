/**
 * Rate-limit budgets: which binding counts what, and the numbers behind each binding (the binding does
 * not expose them, and the RateLimit-Policy header must). wrangler.toml's [[ratelimits]] are the
 * configuration; these entries must match them (test/workers/rate-limits.test.ts checks it).
 */
export type BudgetClass = "reads" | "writes" | "tokens" | "thumbnails";
export type BindingName =
  | "RL_KEY_READS"
  | "RL_ENV_READS"
  | "RL_KEY_WRITES"
  | "RL_ENV_WRITES"
  | "RL_KEY_TOKENS"
  | "RL_ENV_TOKENS"
  | "RL_PLAYBACK_THUMBNAILS"
  | "RL_ENV_THUMBNAILS";

export interface Policy {
  /** Policy name in RateLimit-Policy / RateLimit headers. */
  name: string;
  binding: BindingName;
  limit: number;
  periodSeconds: 10 | 60;
}

/** Per class: the narrow budget (API key, or playback ID for thumbnails) first, then the environment's. */
export const POLICIES: Record<BudgetClass, readonly [Policy, Policy]> = {
  reads: [
    { name: "key-reads", binding: "RL_KEY_READS", limit: 600, periodSeconds: 60 },
    { name: "env-reads", binding: "RL_ENV_READS", limit: 3000, periodSeconds: 60 },
  ],
  writes: [
    { name: "key-writes", binding: "RL_KEY_WRITES", limit: 300, periodSeconds: 60 },
    { name: "env-writes", binding: "RL_ENV_WRITES", limit: 1500, periodSeconds: 60 },
  ],
  tokens: [
    { name: "key-tokens", binding: "RL_KEY_TOKENS", limit: 300, periodSeconds: 60 },
    { name: "env-tokens", binding: "RL_ENV_TOKENS", limit: 1500, periodSeconds: 60 },
  ],
  thumbnails: [
    { name: "playback-thumbnails", binding: "RL_PLAYBACK_THUMBNAILS", limit: 20, periodSeconds: 60 },
    { name: "env-thumbnails", binding: "RL_ENV_THUMBNAILS", limit: 120, periodSeconds: 60 },
  ],
};

/** Which budget an authenticated /v1 request spends. */
export function classify(method: string, path: string): BudgetClass {
  if (method === "POST" && /^\/v1\/playback-ids\/[^/]+\/tokens\/?$/.test(path)) return "tokens";
  if (method === "GET" || method === "HEAD" || method === "OPTIONS") return "reads";
  return "writes";
}
