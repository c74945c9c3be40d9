/**
 * API → transcoder authentication. The transcoder listens on a port that any local process (or, through
 * a browser, a page's text/plain POST) can reach, so every request but `GET /health` is signed by the API
 * (src/lib/signed-requests.ts: HMAC over timestamp, method, path and the body's SHA-256, headers
 * `x-keyframe-transcoder-{timestamp,content-sha256,signature}`, ±60 s window, constant-time compare).
 *
 * The key is derived from JOB_TOKEN_SECRET, so the API needs no new secret; the transcoder receives only
 * the derived value (TRANSCODER_AUTH_SECRET: `npm start` and the stack pass it, the container gets it from
 * TranscoderContainer), which lets it accept jobs but not mint the job tokens that reach the API.
 */
import { requestSigner } from "./signed-requests";
import { hmacToken } from "./signing";

export const transcoderSigner = requestSigner("x-keyframe-transcoder");
/** The transcoder process reads its key from this environment variable. */
export const TRANSCODER_AUTH_SECRET_ENV = "TRANSCODER_AUTH_SECRET";
const DERIVATION_LABEL = "keyframe:transcoder:v1";

export async function deriveTranscoderSecret(jobTokenSecret: string): Promise<string> {
  if (!jobTokenSecret || jobTokenSecret.length < 16) {
    throw new Error("JOB_TOKEN_SECRET is missing or shorter than 16 characters");
  }
  return hmacToken(jobTokenSecret, DERIVATION_LABEL);
}

/** Headers for one API → transcoder request (`path` as the transcoder sees it, e.g. `/jobs`). */
export async function signTranscoderRequest(
  env: Pick<Env, "JOB_TOKEN_SECRET">,
  method: string,
  path: string,
  body: string,
): Promise<Record<string, string>> {
  return transcoderSigner.sign(await deriveTranscoderSecret(env.JOB_TOKEN_SECRET), method, path, body);
}
