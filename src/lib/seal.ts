/**
 * Encryption at rest for the secrets the API must be able to read back (system signing keys' private
 * halves, webhook signing secrets): AES-256-GCM under a key derived with HKDF-SHA-256 from
 * JOB_TOKEN_SECRET, with a per-purpose salt, the environment as HKDF info and the row's ID as additional
 * data, so a ciphertext cannot be moved to another row, environment or purpose. Nothing extra to
 * provision; if the secret is rotated, old ciphertexts stop opening (callers decide what that means).
 */
import { base64url } from "./ids";

const enc = new TextEncoder();

/** Sealed values look like `v1.<iv>.<ciphertext>`; anything else is not ours. */
export const SEALED_RE = /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

async function wrappingKey(secret: string, purpose: string, environmentId: string): Promise<CryptoKey> {
  const ikm = await crypto.subtle.importKey("raw", enc.encode(secret), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: enc.encode(`keyframe/${purpose}/v1`), info: enc.encode(environmentId) },
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

export interface SealScope {
  secret: string;
  /** e.g. `signing-key-wrap`, `webhook-secret`: one derived key per purpose. */
  purpose: string;
  environmentId: string;
  /** The row the value belongs to (additional data). */
  rowId: string;
}

export async function seal(scope: SealScope, plaintext: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = await wrappingKey(scope.secret, scope.purpose, scope.environmentId);
  const ct = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: enc.encode(scope.rowId) },
    key,
    enc.encode(plaintext),
  );
  return `v1.${base64url(iv)}.${base64url(new Uint8Array(ct))}`;
}

/** null when the ciphertext does not open (wrong secret, wrong row, corrupted). */
export async function unseal(scope: SealScope, sealed: string): Promise<string | null> {
  const [v, iv, ct] = sealed.split(".");
  if (v !== "v1" || !iv || !ct) return null;
  try {
    const key = await wrappingKey(scope.secret, scope.purpose, scope.environmentId);
    const pt = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: fromB64url(iv), additionalData: enc.encode(scope.rowId) },
      key,
      fromB64url(ct),
    );
    return new TextDecoder().decode(pt);
  } catch {
    return null;
  }
}
