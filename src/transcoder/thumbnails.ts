/**
 * Asks a transcoder to render one thumbnail, synchronously (`POST /thumbnails` → image/jpeg). Locally
 * (TRANSCODER_URL, not production) that is the Node process; in production a TRANSCODER container
 * instance reserved for thumbnails, chosen by asset so identical requests meet in one instance (its
 * single flight) and so a storm lands on a bounded number of instances (each renders 2 at a time).
 *
 * Every failure becomes a precise KeyframeError: unreachable, busy or failing → 503 (with
 * Retry-After), no video → 404. Never a 500.
 */
import { KeyframeError } from "../lib/errors";
import { MAX_THUMBNAIL_BYTES, THUMBNAIL_TIME_HEADER, type TranscoderThumbnailRequest } from "../lib/thumbnails";
import { transcoderFetch } from "./client";

/** Longer than the transcoder's own queue wait + render timeout (10 s + 20 s by default). */
export const THUMBNAIL_RENDER_TIMEOUT_MS = 35_000;
/** Container instances that render thumbnails (by hash of the asset ID). */
export const THUMBNAIL_INSTANCES = 2;

export interface RenderedJpeg {
  bytes: Uint8Array;
  /** The time the frame shows, as the transcoder reports it. */
  time: number | null;
}

function instanceFor(assetId: string): string {
  let h = 0;
  for (let i = 0; i < assetId.length; i++) h = (h * 31 + assetId.charCodeAt(i)) >>> 0;
  return `thumbnails:${h % THUMBNAIL_INSTANCES}`;
}

function unavailable(detail: string, retryAfter = "5"): KeyframeError {
  return new KeyframeError("service_unavailable", detail, [], { "retry-after": retryAfter });
}

/** What the answer must look like: JPEG by default; animated previews pass their own (src/services/thumbnails/animated.ts). */
export interface RenderExpectation {
  timeoutMs: number;
  maxBytes: number;
  isValid: (bytes: Uint8Array) => boolean;
  what: string;
}

const JPEG: RenderExpectation = {
  timeoutMs: THUMBNAIL_RENDER_TIMEOUT_MS,
  maxBytes: MAX_THUMBNAIL_BYTES,
  isValid: (b) => b[0] === 0xff && b[1] === 0xd8,
  what: "a JPEG",
};

export async function requestThumbnailRender(
  env: Env,
  payload: TranscoderThumbnailRequest,
  expect: RenderExpectation = JPEG,
): Promise<RenderedJpeg> {
  let res: Response;
  try {
    res = await transcoderFetch(env, instanceFor(payload.asset_id), "/thumbnails", payload, {
      timeoutMs: expect.timeoutMs,
    });
  } catch (err) {
    const timedOut = (err as Error).name === "TimeoutError";
    throw unavailable(
      timedOut
        ? `The transcoder did not answer within ${expect.timeoutMs / 1000} s.`
        : "The transcoder is unreachable; try again shortly.",
    );
  }
  if (res.status === 200) {
    const declared = Number(res.headers.get("content-length") ?? "0");
    if (declared > expect.maxBytes) {
      await res.body?.cancel();
      throw unavailable("The transcoder rendered an oversized image.");
    }
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await res.arrayBuffer());
    } catch {
      throw unavailable("The transcoder's answer was cut off.");
    }
    if (bytes.byteLength === 0 || bytes.byteLength > expect.maxBytes || !expect.isValid(bytes)) {
      throw unavailable(`The transcoder did not answer with ${expect.what}.`);
    }
    const t = Number(res.headers.get(THUMBNAIL_TIME_HEADER));
    return { bytes, time: Number.isFinite(t) ? t : null };
  }
  const problem = (await res.json().catch(() => null)) as { code?: string; detail?: string } | null;
  const detail = problem?.detail ? `: ${problem.detail}` : "";
  if (res.status === 422 && problem?.code === "no_video") {
    throw new KeyframeError("not_found", "The asset has no video to take a thumbnail from.");
  }
  if (res.status === 503) {
    throw unavailable(`The transcoder is busy${detail}`, res.headers.get("retry-after") ?? "2");
  }
  throw unavailable(
    `The transcoder could not render the thumbnail (${res.status}${problem?.code ? ` ${problem.code}` : ""})${detail}`,
  );
}
