/**
 * Playback tokens: ES256 JWTs that authorize viewing a `signed` playback ID. Shared by the API (which
 * mints them with the environment's system key) and the edge worker (which verifies them on every
 * playback URL). Pure: no bindings. The caller injects how a signing key is loaded; the verifier keeps
 * per-isolate caches of imported keys (bounded TTL, so revocation lands within that TTL) and of tokens
 * whose signature has already been checked (until `exp`).
 *
 * Token shape: header `{alg: "ES256", kid: "sk_…"}`; claims `sub` = playback ID, `aud` ∈ v|t|s|d|g (g: animated previews),
 * `exp` required, `nbf`/`iat` optional, lifetime at most MAX_TOKEN_LIFETIME_SECONDS. Thumbnail tokens
 * may pin `time`, `width`, `height`, `fit_mode`.
 */
import { type CryptoKey, compactVerify, importJWK, type JWK, SignJWT } from "jose";

export const TOKEN_AUDIENCES = ["v", "t", "s", "d", "g"] as const;
export type TokenAudience = (typeof TOKEN_AUDIENCES)[number];

/** Longest allowed distance between now (or `iat`) and `exp`. */
export const MAX_TOKEN_LIFETIME_SECONDS = 7 * 24 * 3600;
/** Tokens longer than this are refused before any parsing. */
export const MAX_TOKEN_LENGTH = 4096;
/** Clock skew tolerated on `exp` / `nbf`. */
export const CLOCK_SKEW_SECONDS = 30;

export const THUMBNAIL_CLAIMS = ["time", "width", "height", "fit_mode"] as const;
export type ThumbnailClaim = (typeof THUMBNAIL_CLAIMS)[number];

/** Short, stable reasons a token is refused; the edge returns them verbatim. */
export type TokenFailureReason =
  | "token_required"
  | "token_too_large"
  | "token_malformed"
  | "alg_not_allowed"
  | "kid_missing"
  | "unknown_kid"
  | "key_revoked"
  | "wrong_environment"
  | "bad_signature"
  | "exp_required"
  | "token_expired"
  | "token_not_yet_valid"
  | "lifetime_too_long"
  | "wrong_subject"
  | "wrong_audience";

export interface SigningKeyRecord {
  id: string;
  environmentId: string;
  publicJwk: JWK;
  revoked: boolean;
}

export interface PlaybackClaims {
  sub: string;
  aud: string | string[];
  exp: number;
  nbf?: number;
  iat?: number;
  kid: string;
  [claim: string]: unknown;
}

export type VerifyResult = { ok: true; claims: PlaybackClaims } | { ok: false; reason: TokenFailureReason };

export interface VerifyRequest {
  token: string | null | undefined;
  playbackId: string;
  /** Environment the playback ID belongs to: a key from any other environment is refused. */
  environmentId: string;
  audience: TokenAudience;
}

/** Loads a key by `kid`; null when no such key exists. Called at most once per kid per `keyTtlMs`. */
export type KeyLoader = (kid: string) => Promise<SigningKeyRecord | null>;

export interface TokenVerifierOptions {
  /** How long a loaded key (or its absence, for `negativeKeyTtlMs`) is trusted; bounds revocation delay. */
  keyTtlMs?: number;
  negativeKeyTtlMs?: number;
  /** Max number of verified tokens remembered. */
  maxCachedTokens?: number;
  now?: () => number;
}

const KID_RE = /^sk_[0-9a-z]{26}$/;

interface CachedKey {
  record: SigningKeyRecord | null;
  key: CryptoKey | null;
  expiresAt: number;
}

interface CachedToken {
  claims: PlaybackClaims;
}

function fail(reason: TokenFailureReason): VerifyResult {
  return { ok: false, reason };
}

function b64urlDecodeJson(part: string): unknown {
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  const bytes = Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

function isNumericDate(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

/**
 * Checks the time and identity claims of an already signature-checked payload. Run on every request,
 * cached or not: expiry, audience and subject depend on the request and the clock.
 */
function checkClaims(claims: PlaybackClaims, req: VerifyRequest, nowSec: number): TokenFailureReason | null {
  if (!isNumericDate(claims.exp)) return "exp_required";
  if (claims.exp + CLOCK_SKEW_SECONDS <= nowSec) return "token_expired";
  if (claims.nbf !== undefined) {
    if (!isNumericDate(claims.nbf)) return "token_malformed";
    if (claims.nbf - CLOCK_SKEW_SECONDS > nowSec) return "token_not_yet_valid";
  }
  if (claims.iat !== undefined && !isNumericDate(claims.iat)) return "token_malformed";
  const issued = isNumericDate(claims.iat) ? Math.min(claims.iat, nowSec) : nowSec;
  if (claims.exp - issued > MAX_TOKEN_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS) return "lifetime_too_long";
  if (claims.sub !== req.playbackId) return "wrong_subject";
  const auds = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!auds.includes(req.audience)) return "wrong_audience";
  return null;
}

/** One verifier per isolate: it owns the key cache and the verified-token cache. */
export class PlaybackTokenVerifier {
  private readonly keys = new Map<string, CachedKey>();
  private readonly tokens = new Map<string, CachedToken>();
  private readonly keyTtlMs: number;
  private readonly negativeKeyTtlMs: number;
  private readonly maxCachedTokens: number;
  private readonly now: () => number;

  constructor(options: TokenVerifierOptions = {}) {
    this.keyTtlMs = Math.min(options.keyTtlMs ?? 30_000, 60_000);
    this.negativeKeyTtlMs = Math.min(options.negativeKeyTtlMs ?? 10_000, this.keyTtlMs);
    this.maxCachedTokens = options.maxCachedTokens ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** Drops every cached key and token (tests; an operator-triggered flush). */
  clear() {
    this.keys.clear();
    this.tokens.clear();
  }

  private async key(kid: string, loadKey: KeyLoader): Promise<CachedKey> {
    const t = this.now();
    const hit = this.keys.get(kid);
    if (hit && hit.expiresAt > t) return hit;
    const record = await loadKey(kid);
    let key: CryptoKey | null = null;
    if (record && !record.revoked) {
      try {
        key = (await importJWK({ ...record.publicJwk, alg: "ES256" }, "ES256")) as CryptoKey;
      } catch {
        key = null;
      }
    }
    const entry: CachedKey = {
      record,
      key,
      expiresAt: t + (record ? this.keyTtlMs : this.negativeKeyTtlMs),
    };
    this.keys.set(kid, entry);
    return entry;
  }

  private remember(token: string, claims: PlaybackClaims) {
    if (this.tokens.size >= this.maxCachedTokens) {
      // Evict the oldest insertion (Map preserves insertion order) and anything already expired.
      const nowSec = this.now() / 1000;
      for (const [k, v] of this.tokens) {
        if (v.claims.exp <= nowSec || this.tokens.size >= this.maxCachedTokens) this.tokens.delete(k);
        else break;
      }
    }
    this.tokens.set(token, { claims });
  }

  /**
   * Verifies `req.token` for one playback request. `loadKey` reads the key store (D1 at the edge); it is
   * only called on a key-cache miss.
   */
  async verify(req: VerifyRequest, loadKey: KeyLoader): Promise<VerifyResult> {
    const token = req.token;
    if (!token) return fail("token_required");
    if (token.length > MAX_TOKEN_LENGTH) return fail("token_too_large");
    const nowSec = Math.floor(this.now() / 1000);

    const cached = this.tokens.get(token);
    if (cached) {
      // Signature already checked; the key may have been revoked since, so look at it again (cached ≤ TTL).
      const k = await this.key(cached.claims.kid, loadKey);
      const keyFailure = this.keyFailure(k, req.environmentId);
      if (keyFailure) return fail(keyFailure);
      const claimFailure = checkClaims(cached.claims, req, nowSec);
      if (claimFailure) return fail(claimFailure);
      return { ok: true, claims: cached.claims };
    }

    const parts = token.split(".");
    if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) return fail("token_malformed");
    let header: Record<string, unknown>;
    let payload: Record<string, unknown>;
    try {
      header = b64urlDecodeJson(parts[0]) as Record<string, unknown>;
      payload = b64urlDecodeJson(parts[1]) as Record<string, unknown>;
    } catch {
      return fail("token_malformed");
    }
    if (!header || typeof header !== "object" || !payload || typeof payload !== "object") {
      return fail("token_malformed");
    }
    // Only ES256: refuses `none`, and HS256 signed with the public key as the HMAC secret.
    if (header.alg !== "ES256") return fail("alg_not_allowed");
    if (typeof header.kid !== "string" || header.kid === "") return fail("kid_missing");
    const kid = header.kid;
    if (!KID_RE.test(kid)) return fail("unknown_kid");

    const k = await this.key(kid, loadKey);
    const keyFailure = this.keyFailure(k, req.environmentId);
    if (keyFailure) return fail(keyFailure);

    try {
      await compactVerify(token, k.key as CryptoKey, { algorithms: ["ES256"] });
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === "ERR_JOSE_ALG_NOT_ALLOWED") return fail("alg_not_allowed");
      if (code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED") return fail("bad_signature");
      return fail("token_malformed");
    }

    if (typeof payload.sub !== "string" || (typeof payload.aud !== "string" && !Array.isArray(payload.aud))) {
      // Missing identity claims: report them as the mismatch they cause.
      if (typeof payload.sub !== "string") return fail("wrong_subject");
      return fail("wrong_audience");
    }
    const claims = { ...payload, kid } as PlaybackClaims;
    const claimFailure = checkClaims(claims, req, nowSec);
    if (claimFailure) return fail(claimFailure);
    this.remember(token, claims);
    return { ok: true, claims };
  }

  private keyFailure(k: CachedKey, environmentId: string): TokenFailureReason | null {
    if (!k.record) return "unknown_kid";
    if (k.record.revoked) return "key_revoked";
    if (k.record.environmentId !== environmentId) return "wrong_environment";
    if (!k.key) return "unknown_kid";
    return null;
  }
}

export interface SignPlaybackTokenInput {
  /** The ES256 private key: a CryptoKey or a private JWK. */
  privateKey: CryptoKey | JWK;
  kid: string;
  playbackId: string;
  audience: TokenAudience;
  expiresInSeconds: number;
  /** Extra claims, e.g. pinned thumbnail parameters. */
  claims?: Record<string, unknown>;
  now?: number;
}

/** Mints a playback token. Apps may do the same with any JWT library; this is what the API uses. */
export async function signPlaybackToken(input: SignPlaybackTokenInput): Promise<string> {
  const key =
    typeof (input.privateKey as CryptoKey).type === "string" && !("kty" in input.privateKey)
      ? (input.privateKey as CryptoKey)
      : ((await importJWK({ ...(input.privateKey as JWK), alg: "ES256" }, "ES256")) as CryptoKey);
  const iat = Math.floor((input.now ?? Date.now()) / 1000);
  return new SignJWT({ ...(input.claims ?? {}) })
    .setProtectedHeader({ alg: "ES256", kid: input.kid, typ: "JWT" })
    .setSubject(input.playbackId)
    .setAudience(input.audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + input.expiresInSeconds)
    .sign(key);
}

/** Which audience a playback path needs. */
export function audienceForPath(kind: "master" | "media" | "thumbnail" | "storyboard"): TokenAudience {
  if (kind === "thumbnail") return "t";
  if (kind === "storyboard") return "s";
  return "v";
}
