/**
 * A remote ladder chunk (src/lib/ladder-chunk-protocol.ts): the coordinating transcoder asks, the API
 * checks the job and hands the chunk to a transcoder instance of its own, and the chunk's segments come
 * back to the coordinator through readOutput (it needs them on its disk for the master's measurements,
 * the storyboard and the MP4 download).
 */

import { KeyframeError } from "../../../lib/errors";
import {
  LADDER_CHUNK_PATH,
  type LadderChunkDispatch,
  type LadderChunkRequest,
  ladderChunkInstance,
} from "../../../lib/ladder-chunk-protocol";
import type { transcoderFetch } from "../../../transcoder/client";
import { type JobCall, requireBodyAttempt, requireRunning } from "./authorize";
import { outputKey } from "./outputs";

/** A chunk is one or two minutes of video; this bounds a stuck instance, not a slow encode. */
export const LADDER_CHUNK_FORWARD_TIMEOUT_MS = 30 * 60_000;

export type ForwardFn = (
  instance: string,
  path: typeof LADDER_CHUNK_PATH,
  payload: LadderChunkDispatch,
  timeouts: Parameters<typeof transcoderFetch>[4],
) => Promise<Response>;

/**
 * Forwards the chunk and relays the instance's answer as it is (its result, or its problem+json with the
 * instance's status); an unreachable transcoder is a 503 the coordinator retries.
 */
export async function forwardLadderChunk(
  call: JobCall,
  input: { index: number; token: string; request: LadderChunkRequest },
  forward: ForwardFn,
): Promise<Response> {
  requireRunning(call, "encode a ladder chunk");
  requireBodyAttempt(call, input.request.attempt);
  if (input.request.chunk.index !== input.index) {
    throw new KeyframeError(
      "validation_failed",
      `The path names chunk ${input.index}, but the body is chunk ${input.request.chunk.index}.`,
      [{ location: "body.chunk.index", message: `must be ${input.index}` }],
    );
  }
  const payload: LadderChunkDispatch = {
    ...input.request,
    job_id: call.job.id,
    api_url: call.ctx.env.API_PUBLIC_URL,
    token: input.token,
  };
  let res: Response;
  try {
    res = await forward(ladderChunkInstance(call.job.id, input.index), LADDER_CHUNK_PATH, payload, {
      timeoutMs: LADDER_CHUNK_FORWARD_TIMEOUT_MS,
    });
  } catch (err) {
    throw new KeyframeError("service_unavailable", `The chunk's transcoder is unreachable: ${(err as Error).message}`);
  }
  const headers = new Headers({ "content-type": res.headers.get("content-type") ?? "application/json" });
  return new Response(res.body, { status: res.status, headers });
}

/** One of this run's outputs, read back (only while the job runs: it is for the coordinator's own use). */
export async function readOutput(call: JobCall, path: string): Promise<Response> {
  requireRunning(call, "read outputs");
  const key = outputKey(call, path);
  const obj = await call.ctx.env.MEDIA.get(key);
  if (!obj) throw new KeyframeError("not_found", `No output '${path}' in this run.`);
  return new Response(obj.body, {
    status: 200,
    headers: {
      "content-type": obj.httpMetadata?.contentType ?? "application/octet-stream",
      "content-length": String(obj.size),
    },
  });
}
