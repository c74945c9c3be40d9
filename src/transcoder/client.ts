/**
 * The one transcoder client: hands a job over (`dispatch`, here) and renders thumbnails (./thumbnails.ts),
 * both through `transcoderFetch`, the one place that picks the transcoder. Locally (KEYFRAME_ENV=development, TRANSCODER_URL set) it
 * POSTs to the Node process; in production it goes to the TRANSCODER container Durable Object. Either
 * way it only waits for the 202 "accepted": the transcode itself runs detached from the queue. Every
 * request is signed (src/lib/transcoder-auth.ts); the transcoder refuses anything unsigned.
 */
import { isDevelopment } from "../lib/config";
import { signTranscoderRequest } from "../lib/transcoder-auth";
import type { JobDispatch } from "../lib/transcoder-protocol";

/** Dispatch could not be handed over (connection refused, timeout, non-202): retry later. */
export class DispatchError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = "DispatchError";
  }
}

export type DispatchFn = (env: Env, payload: JobDispatch) => Promise<void>;

const DISPATCH_TIMEOUT_MS = 30_000;

/** Only development talks to a local process: staging and production always use the container. */
export function usesContainer(env: Env): boolean {
  return !isDevelopment(env) || !env.TRANSCODER_URL;
}

/**
 * A signed POST of a JSON body to the transcoder: the container instance named `instance`, or in development
 * the Node process at TRANSCODER_URL. `timeoutMs` applies to the whole request either way; `localTimeoutMs` only
 * to the local process (a container request is bounded by the container's own start-up and limits).
 */
export async function transcoderFetch(
  env: Env,
  instance: string,
  path: "/jobs" | "/thumbnails" | "/audio-tracks" | "/ladder-chunks",
  payload: unknown,
  timeouts: { timeoutMs?: number; localTimeoutMs?: number } = {},
): Promise<Response> {
  const body = JSON.stringify(payload);
  const init: RequestInit = {
    method: "POST",
    headers: { "content-type": "application/json", ...(await signTranscoderRequest(env, "POST", path, body)) },
    body,
    ...(timeouts.timeoutMs ? { signal: AbortSignal.timeout(timeouts.timeoutMs) } : {}),
  };
  if (usesContainer(env)) {
    const stub = env.TRANSCODER.get(env.TRANSCODER.idFromName(instance));
    // Awaited here, not returned: a rejection is then handled where it happens (workerd reports it otherwise).
    return await stub.fetch(`http://transcoder${path}`, init);
  }
  const local = timeouts.localTimeoutMs ? { signal: AbortSignal.timeout(timeouts.localTimeoutMs) } : {};
  return await fetch(`${env.TRANSCODER_URL.replace(/\/$/, "")}${path}`, { ...init, ...local });
}

export const dispatch: DispatchFn = async (env, payload) => {
  let res: Response;
  try {
    // One container instance per job: Containers scale out per name, up to max_instances.
    res = await transcoderFetch(env, `job:${payload.job_id}`, "/jobs", payload, {
      localTimeoutMs: DISPATCH_TIMEOUT_MS,
    });
  } catch (err) {
    throw new DispatchError(`transcoder unreachable: ${(err as Error).message}`);
  }
  if (res.status !== 202) {
    const text = await res.text().catch(() => "");
    throw new DispatchError(`transcoder answered ${res.status}: ${text.slice(0, 200)}`, res.status);
  }
  await res.body?.cancel();
};
