/**
 * Fetches a URL a customer gave us (an asset's input, a text track's source) the safe way: every hop, the
 * first and each redirect's target, passes the outbound-URL policy (src/lib/url-safety.ts) before it is
 * fetched, redirects are followed by hand up to a limit, and the answer is sorted into what the caller
 * words as its own error: refused, failed for good, or worth retrying.
 */
import { checkOutboundUrl } from "./url-safety";

export const MAX_REDIRECTS = 5;

export type GuardedFetchResult =
  | { ok: true; res: Response }
  /** The URL (or a redirect's target) is not one we fetch. */
  | { ok: false; kind: "forbidden"; reason: string }
  /** Will not work on retry: a broken redirect chain, or a 4xx other than 429. */
  | { ok: false; kind: "failed"; message: string; status?: number }
  /** May work later: the network, a timeout, a 5xx or 429. */
  | { ok: false; kind: "transient"; message: string };

export interface GuardedFetchOptions {
  allowPrivate: boolean;
  timeoutMs: number;
  /** "headers": the timeout ends once the answer's headers arrive (the body may stream for long); "whole": it covers the body too. */
  timeoutCovers: "headers" | "whole";
}

export async function guardedFetch(start: string, opts: GuardedFetchOptions): Promise<GuardedFetchResult> {
  let url = start;
  let res: Response;
  for (let hop = 0; ; hop++) {
    const verdict = checkOutboundUrl(url, { allowPrivate: opts.allowPrivate });
    if (!verdict.ok) return { ok: false, kind: "forbidden", reason: verdict.reason };
    try {
      res = await fetchWithTimeout(verdict.url.toString(), opts);
    } catch (err) {
      return { ok: false, kind: "transient", message: (err as Error).message };
    }
    if (res.status >= 300 && res.status < 400 && res.status !== 304) {
      const location = res.headers.get("location");
      await res.body?.cancel();
      if (!location) return { ok: false, kind: "failed", message: `Redirect (HTTP ${res.status}) without a Location.` };
      if (hop >= MAX_REDIRECTS) return { ok: false, kind: "failed", message: `More than ${MAX_REDIRECTS} redirects.` };
      url = new URL(location, verdict.url).toString();
      continue;
    }
    break;
  }
  if (!res.ok) {
    await res.body?.cancel();
    if (res.status >= 500 || res.status === 429) return { ok: false, kind: "transient", message: `HTTP ${res.status}` };
    return { ok: false, kind: "failed", message: `HTTP ${res.status}`, status: res.status };
  }
  return { ok: true, res };
}

async function fetchWithTimeout(url: string, opts: GuardedFetchOptions): Promise<Response> {
  if (opts.timeoutCovers === "whole") {
    return fetch(url, { redirect: "manual", signal: AbortSignal.timeout(opts.timeoutMs) });
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error("timed out waiting for response headers")), opts.timeoutMs);
  try {
    return await fetch(url, { redirect: "manual", signal: controller.signal });
  } finally {
    clearTimeout(timer);
  }
}
