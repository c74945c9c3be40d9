/**
 * `POST /internal/live/relay-auth`: the RTMP relay asks whether a stream key may publish (HMAC-signed, see
 * lib/relay-auth.ts). 200 with the ingest URL, or 401 (unknown key) / 403 (disabled) problem+json. A plain
 * Hono route, not in the public OpenAPI document.
 */
import type { App, AppContext } from "../../app";
import { KeyframeError } from "../../lib/errors";
import { deriveRelaySecret, RELAY_AUTH_PATH, RelayAuthRequestSchema, relaySigner } from "../../lib/relay-auth";
import { bodyMatches, readBodyUpTo } from "../../lib/signed-requests";
import { authorizeRelayPublish } from "../../services/live-streams/relay-auth";
import { parseJson } from "./shared";

const MAX_REQUEST_BYTES = 1024;

/** Signature from the headers first; only then a bounded body, checked against the signed hash. */
async function readSignedBody(c: AppContext): Promise<string> {
  const tooLarge = () =>
    new KeyframeError("payload_too_large", `Relay requests are limited to ${MAX_REQUEST_BYTES} bytes.`);
  if (Number(c.req.header("content-length") ?? "0") > MAX_REQUEST_BYTES) throw tooLarge();
  const secret = await deriveRelaySecret(c.env.JOB_TOKEN_SECRET);
  const result = await relaySigner.verifyHeaders(secret, {
    method: c.req.method,
    path: c.req.path,
    header: (name) => c.req.header(name),
  });
  if (!result.ok) {
    await c.req.raw.body?.cancel().catch(() => undefined);
    throw new KeyframeError("unauthenticated", `This endpoint is for the RTMP relay only (${result.reason}).`);
  }
  const bytes = await readBodyUpTo(c.req.raw.body, MAX_REQUEST_BYTES);
  if (!bytes) throw tooLarge();
  if (!(await bodyMatches(result.bodySha256, bytes))) {
    throw new KeyframeError("unauthenticated", "This endpoint is for the RTMP relay only (body_mismatch).");
  }
  return new TextDecoder().decode(bytes);
}

export function registerRelayAuth(app: App) {
  app.post(RELAY_AUTH_PATH, async (c) => {
    const input = parseJson(await readSignedBody(c), RelayAuthRequestSchema);
    return c.json(await authorizeRelayPublish(c.env, input.stream_key), 200);
  });
}
