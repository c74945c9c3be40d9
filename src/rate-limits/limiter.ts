/**
 * Spends rate-limit budget through Cloudflare's Rate Limiting binding and renders the refusal: 429
 * problem+json `rate_limited` with `Retry-After` and the IETF draft's `RateLimit-Policy` / `RateLimit`
 * headers (draft-ietf-httpapi-ratelimit-headers: `"name";q=LIMIT;w=WINDOW` and `"name";r=REMAINING;t=RESET`).
 *
 * The binding answers only "allowed or not", so allowed responses carry the policies but no remaining
 * count, and a refusal says r=0 with the whole window as reset (an upper bound: the binding's counters
 * are per-location and approximate, as Cloudflare documents). A binding that is missing (a worker
 * configured without it) or fails open: rate limiting protects capacity and must not take the API down.
 */
import { KeyframeError } from "../lib/errors";
import { log } from "../lib/log";
import { type BudgetClass, POLICIES, type Policy } from "./policies";

export type RateLimitBindings = Partial<Record<Policy["binding"], RateLimit>>;

export function policyHeader(cls: BudgetClass): string {
  return POLICIES[cls].map((p) => `"${p.name}";q=${p.limit};w=${p.periodSeconds}`).join(", ");
}

/**
 * Spends one unit of `cls` for each subject (narrow first, e.g. `key:…`, then `env:…`). Throws a
 * `rate_limited` KeyframeError naming the exhausted policy; returns the RateLimit-Policy header value.
 */
export async function spend(
  bindings: RateLimitBindings,
  cls: BudgetClass,
  subjects: readonly [string, string],
): Promise<string> {
  const policies = POLICIES[cls];
  const outcomes = await Promise.all(
    policies.map(async (policy, i) => {
      const binding = bindings[policy.binding];
      if (!binding) return true;
      try {
        return (await binding.limit({ key: `${policy.name}:${subjects[i]}` })).success;
      } catch (err) {
        log.warn("rate_limit_unavailable", { policy: policy.name, error: (err as Error).message });
        return true;
      }
    }),
  );
  const header = policyHeader(cls);
  const exhausted = policies.find((_, i) => !outcomes[i]);
  if (exhausted) {
    const scope = exhausted === policies[0] ? (cls === "thumbnails" ? "playback ID" : "API key") : "environment";
    throw new KeyframeError(
      "rate_limited",
      `Rate limit '${exhausted.name}' exceeded: at most ${exhausted.limit} ${cls} per ${exhausted.periodSeconds} s ` +
        `for this ${scope}. Retry after ${exhausted.periodSeconds} s.`,
      [],
      {
        "retry-after": String(exhausted.periodSeconds),
        "ratelimit-policy": header,
        ratelimit: `"${exhausted.name}";r=0;t=${exhausted.periodSeconds}`,
      },
    );
  }
  return header;
}
