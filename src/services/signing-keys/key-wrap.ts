/**
 * Encryption at rest for the system signing keys' private halves: AES-256-GCM under a key derived
 * (HKDF-SHA-256) from JOB_TOKEN_SECRET, per environment, with the key ID as additional data, so a
 * ciphertext cannot be moved to another row or environment. Nothing extra to store or provision; if
 * the secret is rotated the old ciphertexts simply stop decrypting and a new system key is made.
 */
import { base64url } from "../../lib/ids";

const enc = new TextEncoder();

async function wrappingKey(secret: string, environmentId: string): Promise<CryptoKey> {
  const ikm = await crypto.subtle.importKey("raw", enc.encode(secret), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    {
      name: "HKDF",
      hash: "SHA-256",
      salt: enc.encode("keyframe/signing-key-wrap/v1"),
      info: enc.encode(environmentId),
    },
    ikm,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

function fromB64url(s: string): Uint8Array {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

export async function sealPrivateJwk(
  secret: string,
  environmentId: string,
  kid: string,
  jwk: Record<string, unknown>,
): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = await wrappingKey(secret, environmentId);
  const ct = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: enc.encode(kid) },
    key,
    enc.encode(JSON.stringify(jwk)),
  );
  return `v1.${base64url(iv)}.${base64url(new Uint8Array(ct))}`;
}

/** null when the ciphertext does not open (wrong secret, wrong row, corrupted). */
export async function openPrivateJwk(
  secret: string,
  environmentId: string,
  kid: string,
  sealed: string,
): Promise<Record<string, unknown> | null> {
  const [v, iv, ct] = sealed.split(".");
  if (v !== "v1" || !iv || !ct) return null;
  try {
    const key = await wrappingKey(secret, environmentId);
    const pt = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: fromB64url(iv), additionalData: enc.encode(kid) },
      key,
      fromB64url(ct),
    );
    return JSON.parse(new TextDecoder().decode(pt));
  } catch {
    return null;
  }
}
