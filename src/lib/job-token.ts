/**
 * Job-scoped transcoder tokens: HS256 JWTs signed with JOB_TOKEN_SECRET that name one job (`sub`) and
 * one attempt (`att`), audience `transcoder`. The dispatcher issues a fresh token per attempt, so a
 * token from an older attempt is recognisably stale (the internal endpoints answer it with 409).
 *
 * Lifetime: the protocol has no refresh, and a token must outlive the longest transcode it covers, so
 * it lives 6 hours. The attempt check, not expiry, is what fences off a superseded run.
 */
import { jwtVerify, SignJWT } from "jose";

export const JOB_TOKEN_AUDIENCE = "transcoder";
export const JOB_TOKEN_ISSUER = "keyframe-api";
export const JOB_TOKEN_TTL_SECONDS = 6 * 3600;

export interface JobTokenClaims {
  jobId: string;
  attempt: number;
  /**
   * A dubbed audio track's token (`trk`, src/lib/audio-tracks.ts): it may only write outputs under
   * `{track}/` of this job's run and call that track's callbacks, never the job's own.
   */
  trackId?: string;
}

function key(secret: string): Uint8Array {
  if (!secret || secret.length < 16) throw new Error("JOB_TOKEN_SECRET is missing or shorter than 16 characters");
  return new TextEncoder().encode(secret);
}

export async function signJobToken(env: Pick<Env, "JOB_TOKEN_SECRET">, claims: JobTokenClaims): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims.trackId ? { att: claims.attempt, trk: claims.trackId } : { att: claims.attempt })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(claims.jobId)
    .setAudience(JOB_TOKEN_AUDIENCE)
    .setIssuer(JOB_TOKEN_ISSUER)
    .setIssuedAt(now)
    .setExpirationTime(now + JOB_TOKEN_TTL_SECONDS)
    .sign(key(env.JOB_TOKEN_SECRET));
}

/** Verifies signature, algorithm, audience, issuer and expiry; null for anything that does not hold. */
export async function verifyJobToken(
  env: Pick<Env, "JOB_TOKEN_SECRET">,
  token: string | null | undefined,
): Promise<JobTokenClaims | null> {
  if (!token || token.length > 4096) return null;
  try {
    const { payload } = await jwtVerify(token, key(env.JOB_TOKEN_SECRET), {
      algorithms: ["HS256"],
      audience: JOB_TOKEN_AUDIENCE,
      issuer: JOB_TOKEN_ISSUER,
      requiredClaims: ["sub", "exp", "att"],
    });
    const attempt = payload.att;
    if (typeof payload.sub !== "string" || typeof attempt !== "number" || !Number.isInteger(attempt) || attempt < 1) {
      return null;
    }
    if (payload.trk !== undefined && typeof payload.trk !== "string") return null;
    return { jobId: payload.sub, attempt, ...(typeof payload.trk === "string" ? { trackId: payload.trk } : {}) };
  } catch {
    return null;
  }
}

/**
 * Source-read tokens: what a transcoder gets to render one on-demand thumbnail. Same secret, a distinct
 * audience (a job token is never accepted here, nor this one on job endpoints), `sub` = one asset ID,
 * and a lifetime of minutes: the render is synchronous and bounded by its own timeouts.
 */
export const SOURCE_TOKEN_AUDIENCE = "asset-source";
export const SOURCE_TOKEN_TTL_SECONDS = 5 * 60;

export async function signSourceToken(env: Pick<Env, "JOB_TOKEN_SECRET">, assetId: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(assetId)
    .setAudience(SOURCE_TOKEN_AUDIENCE)
    .setIssuer(JOB_TOKEN_ISSUER)
    .setIssuedAt(now)
    .setExpirationTime(now + SOURCE_TOKEN_TTL_SECONDS)
    .sign(key(env.JOB_TOKEN_SECRET));
}

/** The asset ID a valid source-read token names; null for anything that does not hold. */
export async function verifySourceToken(
  env: Pick<Env, "JOB_TOKEN_SECRET">,
  token: string | null | undefined,
): Promise<string | null> {
  if (!token || token.length > 4096) return null;
  try {
    const { payload } = await jwtVerify(token, key(env.JOB_TOKEN_SECRET), {
      algorithms: ["HS256"],
      audience: SOURCE_TOKEN_AUDIENCE,
      issuer: JOB_TOKEN_ISSUER,
      requiredClaims: ["sub", "exp"],
    });
    return typeof payload.sub === "string" ? payload.sub : null;
  } catch {
    return null;
  }
}
