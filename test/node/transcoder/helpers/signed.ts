/**
 * Requests to a test transcoder signed the way the API's dispatcher signs them (src/lib/transcoder-auth.ts),
 * with a fixed test key the servers under test are started with.
 */
import { transcoderSigner } from "../../../../src/lib/transcoder-auth.js";

export const TEST_TRANSCODER_SECRET = "test-transcoder-auth-secret-0123456789";

export interface SignedFetchInit {
  method?: string;
  body?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Sign with another key or at another time (negative tests). */
  secret?: string;
  nowMs?: number;
}

export async function signedFetch(baseUrl: string, path: string, init: SignedFetchInit = {}): Promise<Response> {
  const method = init.method ?? "POST";
  const body = init.body ?? "";
  const signature = await transcoderSigner.sign(init.secret ?? TEST_TRANSCODER_SECRET, method, path, body, init.nowMs);
  return fetch(`${baseUrl}${path}`, {
    method,
    headers: { ...(body ? { "content-type": "application/json" } : {}), ...signature, ...init.headers },
    body: method === "GET" || method === "HEAD" ? undefined : body,
    signal: init.signal,
  });
}
