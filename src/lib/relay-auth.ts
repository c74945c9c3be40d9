/**
 * RTMP relay → API authentication (`POST /internal/live/relay-auth`). The relay (transcoder/src/relay) asks
 * whether an RTMP publish's stream key may go on air before it answers the publish, so no media from an
 * unknown or disabled key is ever forwarded. Requests are signed like the edge's and the transcoder's
 * (src/lib/signed-requests.ts, headers `x-keyframe-relay-{timestamp,content-sha256,signature}`).
 *
 * The key is derived from JOB_TOKEN_SECRET (label `keyframe:rtmp-relay:v1`): the API needs no new secret, and
 * the relay, which runs on a machine near broadcasters, holds a key that can check stream keys and nothing
 * else (it cannot mint job tokens, sign edge calls or list streams). `npx tsx scripts/relay-secret.ts` prints it.
 */
import { z } from "zod";
import { requestSigner } from "./signed-requests";
import { hmacToken } from "./signing";

export const relaySigner = requestSigner("x-keyframe-relay");
/** The relay process reads its key from this environment variable. */
export const RELAY_API_SECRET_ENV = "RELAY_API_SECRET";
export const RELAY_AUTH_PATH = "/internal/live/relay-auth";
const DERIVATION_LABEL = "keyframe:rtmp-relay:v1";

export async function deriveRelaySecret(jobTokenSecret: string): Promise<string> {
  if (!jobTokenSecret || jobTokenSecret.length < 16) {
    throw new Error("JOB_TOKEN_SECRET is missing or shorter than 16 characters");
  }
  return hmacToken(jobTokenSecret, DERIVATION_LABEL);
}

/** The relay's question: may this stream key publish? */
export const RelayAuthRequestSchema = z.object({ stream_key: z.string().min(1).max(200) }).strict();
export type RelayAuthRequest = z.infer<typeof RelayAuthRequestSchema>;

/** The API's yes: where to push HLS and at what segment length. A no is a 401/403 problem+json. */
export const RelayAuthReplySchema = z.object({
  live_stream_id: z.string(),
  hls_url: z.string().url(),
  segment_duration: z.number().int().positive(),
});
export type RelayAuthReply = z.infer<typeof RelayAuthReplySchema>;
