/**
 * A fetch that retries 429 and 5xx answers (and network failures) with exponential backoff and full
 * jitter, waiting at least what Retry-After asks. Only requests that are safe to repeat are retried:
 * every method but POST, and POST when it carries an Idempotency-Key (the SDK always sends one).
 */
export interface RetryOptions {
  /** Retries after the first attempt (default 3). */
  maxRetries?: number;
  /** First backoff in ms (default 250), doubled per retry, capped at maxDelayMs (default 10 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A Retry-After longer than this (default 60 s) is not waited for: the 429/503 is returned. */
  maxRetryAfterMs?: number;
}

const RETRY_STATUS = (s: number) => s === 429 || s >= 500;

/** Retry-After as seconds or an HTTP date → ms from now (null when absent or unreadable). */
export function retryAfterMs(value: string | null, now = Date.now()): number | null {
  if (!value) return null;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

const sleep = (ms: number, signal?: AbortSignal | null) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });

export function retryingFetch(
  inner: (req: Request) => Promise<Response>,
  opts: RetryOptions = {},
): (req: Request) => Promise<Response> {
  const maxRetries = opts.maxRetries ?? 3;
  const base = opts.baseDelayMs ?? 250;
  const cap = opts.maxDelayMs ?? 10_000;
  return async (request) => {
    const repeatable = request.method !== "POST" || request.headers.has("idempotency-key");
    for (let attempt = 0; ; attempt++) {
      const last = !repeatable || attempt >= maxRetries;
      let res: Response;
      try {
        res = await inner(last ? request : request.clone());
      } catch (err) {
        if (last || request.signal?.aborted) throw err;
        await sleep(Math.random() * Math.min(cap, base * 2 ** attempt), request.signal);
        continue;
      }
      if (last || !RETRY_STATUS(res.status)) return res;
      const backoff = Math.random() * Math.min(cap, base * 2 ** attempt);
      const asked = retryAfterMs(res.headers.get("retry-after"));
      // A server asking for a long pause gets its answer surfaced instead of a silently hung call.
      if (asked !== null && asked > (opts.maxRetryAfterMs ?? 60_000)) return res;
      await res.body?.cancel();
      await sleep(Math.max(backoff, asked ?? 0), request.signal);
    }
  };
}
