/**
 * API key secrets: `kf_` + 32 random bytes (base64url). Only the SHA-256 is stored; lookups are by
 * hash, so comparing secrets never happens in application code.
 */
import { randomToken, sha256Hex } from "./ids";

export const KEY_SECRET_RE = /^kf_[A-Za-z0-9_-]{43}$/;

export function newKeySecret(): string {
  return `kf_${randomToken(32)}`;
}

export function hashKeySecret(secret: string): Promise<string> {
  return sha256Hex(secret);
}

export function bearerToken(header: string | undefined | null): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : null;
}
