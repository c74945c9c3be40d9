/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): secrets are `whsec_` + base64 key
 * bytes; the signature is `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")). During a
 * secret rotation both live secrets sign, space-separated, so receivers holding either verify.
 */
const SECRET_PREFIX = "whsec_";

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function fromBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** A new endpoint secret: 24 random bytes (192 bits). */
export function newWebhookSecret(): string {
  return SECRET_PREFIX + toBase64(crypto.getRandomValues(new Uint8Array(24)));
}

export async function signOne(secret: string, msgId: string, timestamp: number, body: string): Promise<string> {
  const raw = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  const key = await crypto.subtle.importKey("raw", fromBase64(raw), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${msgId}.${timestamp}.${body}`));
  return `v1,${toBase64(new Uint8Array(mac))}`;
}

/** The `webhook-signature` header value: one `v1,…` per live secret. */
export async function signatureHeader(
  secrets: readonly string[],
  msgId: string,
  timestamp: number,
  body: string,
): Promise<string> {
  const sigs = await Promise.all(secrets.map((s) => signOne(s, msgId, timestamp, body)));
  return sigs.join(" ");
}

/** The secrets that sign right now: the current one, plus the previous one while its grace period lasts. */
export function liveSecrets(
  endpoint: { secret: string; previousSecret: string | null; previousSecretExpiresAt: string | null },
  nowIso: string,
): string[] {
  const out = [endpoint.secret];
  if (endpoint.previousSecret && endpoint.previousSecretExpiresAt && endpoint.previousSecretExpiresAt > nowIso) {
    out.push(endpoint.previousSecret);
  }
  return out;
}
