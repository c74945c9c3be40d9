/**
 * The one place that hands a job to a transcoder. Locally (KEYFRAME_ENV=development, TRANSCODER_URL set) it
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

export const dispatch: DispatchFn = async (env, payload) => {
  const body = JSON.stringify(payload);
  const init: RequestInit = {
    method: "POST",
    headers: { "content-type": "application/json", ...(await signTranscoderRequest(env, "POST", "/jobs", body)) },
    body,
  };
  let res: Response;
  try {
    if (usesContainer(env)) {
      // One container instance per job: Containers scale out per name, up to max_instances.
      const stub = env.TRANSCODER.get(env.TRANSCODER.idFromName(`job:${payload.job_id}`));
      res = await stub.fetch("http://transcoder/jobs", init);
    } else {
      const base = env.TRANSCODER_URL.replace(/\/$/, "");
      res = await fetch(`${base}/jobs`, { ...init, signal: AbortSignal.timeout(DISPATCH_TIMEOUT_MS) });
    }
  } catch (err) {
    throw new DispatchError(`transcoder unreachable: ${(err as Error).message}`);
  }
  if (res.status !== 202) {
    const text = await res.text().catch(() => "");
    throw new DispatchError(`transcoder answered ${res.status}: ${text.slice(0, 200)}`, res.status);
  }
  await res.body?.cancel();
};
