/**
 * Prefixed, time-ordered identifiers. Every object type has its own prefix (the README's resource table), so an
 * upload ID can never be mistaken for an asset ID. The body is 10 chars of millisecond time and
 * 16 chars of randomness in Crockford base32: IDs sort by creation time, which is what cursor
 * pagination and the event log rely on.
 */
export const ID_PREFIXES = {
  environment: "env",
  apiKey: "key",
  upload: "up",
  asset: "as",
  playbackId: "pb",
  track: "tr",
  liveStream: "ls",
  simulcastTarget: "st",
  job: "job",
  signingKey: "sk",
  webhookEndpoint: "we",
  event: "evt",
  delivery: "dl",
  attempt: "att",
  audit: "aud",
  request: "req",
  pendingDeletion: "del",
} as const;
export type IdKind = keyof typeof ID_PREFIXES;

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

function encodeTime(ms: number): string {
  let out = "";
  let t = ms;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

function randomChars(n: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(n));
  let out = "";
  for (const b of bytes) out += ALPHABET[b & 31];
  return out;
}

let lastMs = 0;
let seq = 0;

export function newId(kind: IdKind): string {
  // Monotonic within an isolate: same-millisecond IDs still sort in creation order.
  const now = Date.now();
  if (now === lastMs) seq++;
  else {
    lastMs = now;
    seq = 0;
  }
  const seqChars = ALPHABET[(seq >> 5) & 31] + ALPHABET[seq & 31];
  return `${ID_PREFIXES[kind]}_${encodeTime(now)}${seqChars}${randomChars(14)}`;
}

const ID_BODY = "[0-9a-z]{26}";

/** A regex that matches a well-formed ID of the given kind. */
export function idPattern(kind: IdKind): RegExp {
  return new RegExp(`^${ID_PREFIXES[kind]}_${ID_BODY}$`);
}

export function isId(kind: IdKind, value: string): boolean {
  return idPattern(kind).test(value);
}

/** A URL-safe random secret with `bytes` bytes of entropy. */
export function randomToken(bytes = 24): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return base64url(b);
}

export function base64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export async function sha256Hex(input: string | Uint8Array): Promise<string> {
  const data = typeof input === "string" ? new TextEncoder().encode(input) : input;
  const digest = await crypto.subtle.digest("SHA-256", data);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
