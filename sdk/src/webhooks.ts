/**
 * Standard Webhooks verification (https://www.standardwebhooks.com): HMAC-SHA256 over
 * `${webhook-id}.${webhook-timestamp}.${body}` with the base64 key after `whsec_`, any of the
 * space-separated `v1,<base64>` signatures (two are live during a secret rotation), and a timestamp
 * tolerance against replays. WebCrypto's HMAC verify compares in constant time.
 */
import { WebhookVerificationError } from "./errors";

export interface VerifyWebhookOptions {
  /** Seconds the timestamp may be off from now, either way (default 300). */
  toleranceSeconds?: number;
  /** For tests: the current time in seconds. */
  now?: number;
}

type HeaderBag = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderBag, name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  for (const [k, v] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (k.toLowerCase() === name) return Array.isArray(v) ? v[0] : v;
  }
  return undefined;
}

function base64ToBytes(b64: string): Uint8Array | null {
  try {
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

/** Verifies and parses a delivery; throws WebhookVerificationError when it is not authentic or too old. */
export async function verifyWebhook<T = unknown>(
  body: string | Uint8Array | ArrayBuffer,
  headers: HeaderBag,
  secret: string,
  opts: VerifyWebhookOptions = {},
): Promise<T> {
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!id || !timestamp || !signatures)
    throw new WebhookVerificationError("Missing webhook-id, -timestamp or -signature.");
  if (!/^\d+$/.test(timestamp)) throw new WebhookVerificationError("Invalid webhook-timestamp.");
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  const tolerance = opts.toleranceSeconds ?? 300;
  if (Math.abs(now - Number(timestamp)) > tolerance) {
    throw new WebhookVerificationError("Webhook timestamp is outside the tolerance window.");
  }
  const keyBytes = base64ToBytes(secret.startsWith("whsec_") ? secret.slice(6) : secret);
  if (!keyBytes?.length) throw new WebhookVerificationError("The webhook secret is not valid base64.");
  const key = await crypto.subtle.importKey("raw", keyBytes, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  const bodyBytes = typeof body === "string" ? new TextEncoder().encode(body) : new Uint8Array(body);
  const prefix = new TextEncoder().encode(`${id}.${timestamp}.`);
  const signed = new Uint8Array(prefix.length + bodyBytes.length);
  signed.set(prefix);
  signed.set(bodyBytes, prefix.length);
  for (const candidate of signatures.split(" ")) {
    const [version, sig] = candidate.split(",", 2);
    if (version !== "v1" || !sig) continue;
    const sigBytes = base64ToBytes(sig);
    if (sigBytes && (await crypto.subtle.verify("HMAC", key, sigBytes, signed))) {
      return JSON.parse(new TextDecoder().decode(bodyBytes)) as T;
    }
  }
  throw new WebhookVerificationError("No matching webhook signature.");
}
