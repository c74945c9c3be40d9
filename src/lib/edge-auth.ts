/**
 * Edge → API authentication for internal calls (today: `POST /internal/thumbnails`). The API's
 * internal routes share its public hostname, and a service binding does not tell a handler who called
 * it, so every call carries an HMAC over timestamp, method, path and body:
 *
 *   x-keyframe-edge-timestamp: <unix seconds>
 *   x-keyframe-edge-signature: v1=<base64url HMAC-SHA256(secret, "v1\n{ts}\n{METHOD}\n{path}\n{body}")>
 *
 * The secret is derived from JOB_TOKEN_SECRET (deriveEdgeApiSecret), so the API needs nothing new and
 * the edge holds a key that can ask for thumbnails but cannot mint job tokens. Give the edge its value
 * as the EDGE_API_SECRET secret (`npx tsx scripts/edge-secret.ts`; the local stack does it itself).
 */
import { hmacToken, verifyHmacToken } from "./signing";

export const EDGE_TIMESTAMP_HEADER = "x-keyframe-edge-timestamp";
export const EDGE_SIGNATURE_HEADER = "x-keyframe-edge-signature";
/** Accepted distance between the signer's clock and ours. */
export const EDGE_SIGNATURE_SKEW_SECONDS = 60;
const DERIVATION_LABEL = "keyframe:edge-api:v1";

export async function deriveEdgeApiSecret(jobTokenSecret: string): Promise<string> {
  if (!jobTokenSecret || jobTokenSecret.length < 16) {
    throw new Error("JOB_TOKEN_SECRET is missing or shorter than 16 characters");
  }
  return hmacToken(jobTokenSecret, DERIVATION_LABEL);
}

function message(ts: string, method: string, path: string, body: string): string {
  return `v1\n${ts}\n${method.toUpperCase()}\n${path}\n${body}`;
}

export async function signEdgeRequest(
  secret: string,
  method: string,
  path: string,
  body: string,
  nowMs = Date.now(),
): Promise<Record<string, string>> {
  const ts = String(Math.floor(nowMs / 1000));
  return {
    [EDGE_TIMESTAMP_HEADER]: ts,
    [EDGE_SIGNATURE_HEADER]: `v1=${await hmacToken(secret, message(ts, method, path, body))}`,
  };
}

export type EdgeAuthFailure = "signature_missing" | "timestamp_invalid" | "timestamp_skewed" | "signature_invalid";

export async function verifyEdgeRequest(
  secret: string,
  input: { method: string; path: string; body: string; timestamp: string | null; signature: string | null },
  nowMs = Date.now(),
): Promise<{ ok: true } | { ok: false; reason: EdgeAuthFailure }> {
  if (!input.signature || !input.timestamp) return { ok: false, reason: "signature_missing" };
  if (!/^\d{1,12}$/.test(input.timestamp)) return { ok: false, reason: "timestamp_invalid" };
  if (Math.abs(nowMs / 1000 - Number(input.timestamp)) > EDGE_SIGNATURE_SKEW_SECONDS) {
    return { ok: false, reason: "timestamp_skewed" };
  }
  const presented = input.signature.startsWith("v1=") ? input.signature.slice(3) : null;
  const ok = await verifyHmacToken(secret, message(input.timestamp, input.method, input.path, input.body), presented);
  return ok ? { ok: true } : { ok: false, reason: "signature_invalid" };
}
