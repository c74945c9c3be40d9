/** HMAC helpers for URL secrets derived from a server secret (nothing extra to store or leak). */
import { base64url } from "./ids";

async function hmacKey(secret: string) {
  return crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
    "verify",
  ]);
}

export async function hmacToken(secret: string, message: string): Promise<string> {
  const sig = await crypto.subtle.sign("HMAC", await hmacKey(secret), new TextEncoder().encode(message));
  return base64url(new Uint8Array(sig));
}

/** Constant-time comparison of a presented token against the expected HMAC. */
export async function verifyHmacToken(secret: string, message: string, presented: string | null | undefined) {
  if (!presented || presented.length > 200) return false;
  const expected = await hmacToken(secret, message);
  if (expected.length !== presented.length) return false;
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= expected.charCodeAt(i) ^ presented.charCodeAt(i);
  return diff === 0;
}
