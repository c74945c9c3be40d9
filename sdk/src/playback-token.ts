/**
 * Playback tokens minted on your own server (no API call): an ES256 JWT with `kid` = the signing key's
 * id, `sub` = the playback ID, `aud` = what it opens, and `exp`. jose over WebCrypto, so it runs anywhere.
 */
import { importJWK, importPKCS8, type JWK, SignJWT } from "jose";

const AUDIENCES = {
  video: "v",
  thumbnail: "t",
  storyboard: "s",
  download: "d",
  v: "v",
  t: "t",
  s: "s",
  d: "d",
} as const;
export type PlaybackAudience = keyof typeof AUDIENCES;

export interface SignPlaybackTokenInput {
  /** The signing key's id, `sk_…`. */
  keyId: string;
  /** `private_key_pem` from signingKeys.create (PKCS#8 PEM), a private JWK, or a CryptoKey. */
  privateKey: string | JWK | CryptoKey;
  playbackId: string;
  /** Default `video`. */
  audience?: PlaybackAudience;
  /** Seconds, or a jose time span such as "2h" (default 1 hour; the edge accepts at most 7 days). */
  expiresIn?: number | string;
  /** Extra claims, e.g. thumbnail `time`/`width`/`height`/`fit_mode` pins. */
  claims?: Record<string, unknown>;
}

async function importKey(key: SignPlaybackTokenInput["privateKey"]): Promise<CryptoKey | Uint8Array> {
  if (typeof key === "string") return importPKCS8(key, "ES256");
  if (typeof (key as CryptoKey).algorithm === "object" && typeof (key as CryptoKey).type === "string") {
    return key as CryptoKey;
  }
  return importJWK({ ...(key as JWK), alg: "ES256" }, "ES256");
}

export async function signPlaybackToken(input: SignPlaybackTokenInput): Promise<string> {
  const aud = AUDIENCES[input.audience ?? "video"];
  if (!aud) throw new TypeError(`Unknown audience '${input.audience}'.`);
  const exp = input.expiresIn ?? 3600;
  return new SignJWT({ ...input.claims })
    .setProtectedHeader({ alg: "ES256", kid: input.keyId, typ: "JWT" })
    .setSubject(input.playbackId)
    .setAudience(aud)
    .setIssuedAt()
    .setExpirationTime(typeof exp === "number" ? Math.floor(Date.now() / 1000) + exp : exp)
    .sign(await importKey(input.privateKey));
}
