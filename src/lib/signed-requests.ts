/**
 * HMAC-signed requests between our own services (edge → API, API → transcoder). A service binding or a
 * private port does not say who called, so every such request carries:
 *
 *   {prefix}-timestamp:      <unix seconds>
 *   {prefix}-content-sha256: <hex SHA-256 of the body>
 *   {prefix}-signature:      v2=<base64url HMAC-SHA256(secret, "v2\n{ts}\n{METHOD}\n{path}\n{content-sha256}")>
 *
 * The signature covers the body's hash rather than the body, so a receiver checks who is calling from
 * the headers alone — before it reads a byte of the body — and only then reads a bounded body and
 * compares its hash. Timestamps outside ±SKEW are refused (the replay window); comparison is
 * constant-time (verifyHmacToken).
 */
import { sha256Hex } from "./ids";
import { hmacToken, verifyHmacToken } from "./signing";

/** Accepted distance between the signer's clock and ours: the window in which a request can be replayed. */
export const SIGNATURE_SKEW_SECONDS = 60;

export type SignedRequestFailure =
  | "signature_missing"
  | "timestamp_invalid"
  | "timestamp_skewed"
  | "signature_invalid"
  | "body_mismatch";

export interface RequestSigner {
  timestampHeader: string;
  signatureHeader: string;
  bodyHashHeader: string;
  sign(
    secret: string,
    method: string,
    path: string,
    body: string | Uint8Array,
    nowMs?: number,
  ): Promise<Record<string, string>>;
  /** Checks the headers only; on success returns the body hash the signer vouched for. */
  verifyHeaders(
    secret: string,
    input: { method: string; path: string; header: (name: string) => string | null | undefined },
    nowMs?: number,
  ): Promise<{ ok: true; bodySha256: string } | { ok: false; reason: SignedRequestFailure }>;
}

function message(ts: string, method: string, path: string, bodySha256: string): string {
  return `v2\n${ts}\n${method.toUpperCase()}\n${path}\n${bodySha256}`;
}

export function requestSigner(prefix: string): RequestSigner {
  const timestampHeader = `${prefix}-timestamp`;
  const signatureHeader = `${prefix}-signature`;
  const bodyHashHeader = `${prefix}-content-sha256`;
  return {
    timestampHeader,
    signatureHeader,
    bodyHashHeader,
    async sign(secret, method, path, body, nowMs = Date.now()) {
      const ts = String(Math.floor(nowMs / 1000));
      const bodySha256 = await sha256Hex(body);
      return {
        [timestampHeader]: ts,
        [bodyHashHeader]: bodySha256,
        [signatureHeader]: `v2=${await hmacToken(secret, message(ts, method, path, bodySha256))}`,
      };
    },
    async verifyHeaders(secret, input, nowMs = Date.now()) {
      const timestamp = input.header(timestampHeader);
      const signature = input.header(signatureHeader);
      const bodySha256 = input.header(bodyHashHeader);
      if (!signature || !timestamp || !bodySha256) return { ok: false, reason: "signature_missing" };
      if (!/^\d{1,12}$/.test(timestamp) || !/^[0-9a-f]{64}$/.test(bodySha256)) {
        return { ok: false, reason: "timestamp_invalid" };
      }
      if (Math.abs(nowMs / 1000 - Number(timestamp)) > SIGNATURE_SKEW_SECONDS) {
        return { ok: false, reason: "timestamp_skewed" };
      }
      const presented = signature.startsWith("v2=") ? signature.slice(3) : null;
      const ok = await verifyHmacToken(secret, message(timestamp, input.method, input.path, bodySha256), presented);
      return ok ? { ok: true, bodySha256 } : { ok: false, reason: "signature_invalid" };
    },
  };
}

/** After verifyHeaders: does the body that arrived hash to what was signed? */
export async function bodyMatches(bodySha256: string, body: string | Uint8Array): Promise<boolean> {
  return (await sha256Hex(body)) === bodySha256;
}

/** Reads at most `limit` bytes of a body; null when it is longer (the rest is not read). */
export async function readBodyUpTo(body: ReadableStream<Uint8Array> | null, limit: number): Promise<Uint8Array | null> {
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
