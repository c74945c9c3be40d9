/**
 * The relay's one call to the API: may this stream key publish? Signed with the relay's derived key
 * (src/lib/relay-auth.ts). A refusal (401 unknown key, 403 disabled) is an answer; anything else that is
 * not a 200 (network error, 5xx, a reply that does not parse) is "unavailable" and the publish is refused
 * too — the relay never lets media through on a check it could not make.
 */
import {
  RELAY_AUTH_PATH,
  type RelayAuthReply,
  RelayAuthReplySchema,
  relaySigner,
} from "../../../src/lib/relay-auth.js";

export type PublishDecision =
  | { ok: true; grant: RelayAuthReply }
  | { ok: false; reason: "unknown_key" | "disabled" | "unavailable"; detail: string };

export interface RelayApi {
  authorize(streamKey: string): Promise<PublishDecision>;
}

export function relayApi(opts: { apiUrl: string; secret: string; timeoutMs?: number }): RelayApi {
  const url = `${opts.apiUrl.replace(/\/$/, "")}${RELAY_AUTH_PATH}`;
  return {
    async authorize(streamKey) {
      const body = JSON.stringify({ stream_key: streamKey });
      try {
        const headers = await relaySigner.sign(opts.secret, "POST", RELAY_AUTH_PATH, body);
        const res = await fetch(url, {
          method: "POST",
          headers: { ...headers, "content-type": "application/json" },
          body,
          signal: AbortSignal.timeout(opts.timeoutMs ?? 5000),
        });
        const text = await res.text();
        if (res.status === 401) return { ok: false, reason: "unknown_key", detail: problemDetail(text) };
        if (res.status === 403) return { ok: false, reason: "disabled", detail: problemDetail(text) };
        if (res.status !== 200) {
          return { ok: false, reason: "unavailable", detail: `API answered ${res.status}: ${problemDetail(text)}` };
        }
        const parsed = RelayAuthReplySchema.safeParse(JSON.parse(text));
        if (!parsed.success) return { ok: false, reason: "unavailable", detail: "API reply did not parse" };
        return { ok: true, grant: parsed.data };
      } catch (err) {
        return { ok: false, reason: "unavailable", detail: (err as Error).message };
      }
    },
  };
}

function problemDetail(text: string): string {
  try {
    const p = JSON.parse(text) as { detail?: string; title?: string };
    return p.detail ?? p.title ?? text.slice(0, 200);
  } catch {
    return text.slice(0, 200);
  }
}
