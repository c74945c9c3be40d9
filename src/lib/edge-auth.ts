/**
 * Edge → API authentication for internal calls (today: `POST /internal/thumbnails`). The API's
 * internal routes share its public hostname, and a service binding does not tell a handler who called
 * it, so every call is signed (src/lib/signed-requests.ts: HMAC over timestamp, method, path and the
 * body's SHA-256, headers `x-keyframe-edge-{timestamp,content-sha256,signature}`), and the API checks
 * the signature before it reads the body.
 *
 * The secret is derived from JOB_TOKEN_SECRET (deriveEdgeApiSecret), so the API needs nothing new and
 * the edge holds a key that can ask for thumbnails but cannot mint job tokens. Give the edge its value
 * as the EDGE_API_SECRET secret (`npx tsx scripts/edge-secret.ts`; the local stack does it itself).
 */
import { sha256Hex } from "./ids";
import { requestSigner, SIGNATURE_SKEW_SECONDS, type SignedRequestFailure } from "./signed-requests";
import { hmacToken } from "./signing";

export const edgeSigner = requestSigner("x-keyframe-edge");
export const EDGE_TIMESTAMP_HEADER = edgeSigner.timestampHeader;
export const EDGE_SIGNATURE_HEADER = edgeSigner.signatureHeader;
export const EDGE_BODY_HASH_HEADER = edgeSigner.bodyHashHeader;
/** Accepted distance between the signer's clock and ours. */
export const EDGE_SIGNATURE_SKEW_SECONDS = SIGNATURE_SKEW_SECONDS;
const DERIVATION_LABEL = "keyframe:edge-api:v1";

export async function deriveEdgeApiSecret(jobTokenSecret: string): Promise<string> {
  if (!jobTokenSecret || jobTokenSecret.length < 16) {
    throw new Error("JOB_TOKEN_SECRET is missing or shorter than 16 characters");
  }
  return hmacToken(jobTokenSecret, DERIVATION_LABEL);
}

export function signEdgeRequest(
  secret: string,
  method: string,
  path: string,
  body: string,
  nowMs = Date.now(),
): Promise<Record<string, string>> {
  return edgeSigner.sign(secret, method, path, body, nowMs);
}

export type EdgeAuthFailure = SignedRequestFailure;

/** Verifies a whole request whose body is already in hand (tests, and receivers of small bodies). */
export async function verifyEdgeRequest(
  secret: string,
  input: { method: string; path: string; body: string; timestamp: string | null; signature: string | null },
  nowMs = Date.now(),
): Promise<{ ok: true } | { ok: false; reason: EdgeAuthFailure }> {
  const bodySha256 = await sha256Hex(input.body);
  const headers: Record<string, string | null> = {
    [EDGE_TIMESTAMP_HEADER]: input.timestamp,
    [EDGE_SIGNATURE_HEADER]: input.signature,
    [EDGE_BODY_HASH_HEADER]: bodySha256,
  };
  const result = await edgeSigner.verifyHeaders(
    secret,
    { method: input.method, path: input.path, header: (n) => headers[n] },
    nowMs,
  );
  return result.ok ? { ok: true } : result;
}
