/**
 * Animated previews, API side: the edge asks (`POST /internal/animated`) after missing R2. Same shape and
 * the same storm protection as still thumbnails (./render.ts): the request is re-normalised here against
 * the asset's duration onto the grid (src/lib/animated.ts), a stored render is served as is, the number of
 * distinct renders stored per run is capped, every new render spends the `thumbnails` rate-limit budget
 * (per playback ID, then per environment), and the transcoder renders it through its thumbnail service
 * (single flight, bounded slots and queue). The result is stored under its content-addressed key.
 */
import { eq } from "drizzle-orm";
import { createDb, schema } from "../../db/client";
import {
  ANIMATED_CONTENT_TYPES,
  type AnimatedParams,
  type AnimatedRenderRequest,
  animatedKey,
  animatedPrefix,
  MAX_ANIMATED_BYTES,
  MAX_STORED_ANIMATED_PER_RUN,
  normalizeAnimated,
} from "../../lib/animated";
import { KeyframeError, NotFoundError } from "../../lib/errors";
import { signSourceToken } from "../../lib/job-token";
import { log } from "../../lib/log";
import { spend } from "../../rate-limits/limiter";
import { type RenderExpectation, requestThumbnailRender } from "../../transcoder/thumbnails";
import { clipOffsetSeconds } from "../assets/clip";
import { loadRenderable } from "./render";

/** Up to 10 s of decode plus the transcoder's queue wait: longer than a still's 35 s. */
export const ANIMATED_RENDER_TIMEOUT_MS = 95_000;

const ascii = (b: Uint8Array, from: number, to: number) => String.fromCharCode(...b.subarray(from, to));

export function animatedExpectation(format: AnimatedParams["format"]): RenderExpectation {
  return {
    timeoutMs: ANIMATED_RENDER_TIMEOUT_MS,
    maxBytes: MAX_ANIMATED_BYTES,
    isValid:
      format === "gif"
        ? (b) => ascii(b, 0, 4) === "GIF8"
        : (b) => ascii(b, 0, 4) === "RIFF" && ascii(b, 8, 12) === "WEBP",
    what: format === "gif" ? "a GIF" : "a WebP image",
  };
}

export interface AnimatedResult {
  status: "cached" | "rendered";
  key: string;
  params: AnimatedParams;
  contentType: string;
  body: ReadableStream | Uint8Array;
  size: number;
  httpEtag: string;
  renderMs?: number;
}

export async function renderAnimated(
  env: Env,
  input: AnimatedRenderRequest,
  render: typeof requestThumbnailRender = requestThumbnailRender,
): Promise<AnimatedResult> {
  const asset = await loadRenderable(env, input.asset_id);
  const duration = asset.duration ? asset.duration / 1000 : null;
  const params = normalizeAnimated(
    input.format,
    { start: input.start, end: input.end, width: input.width, fps: input.fps },
    duration,
  );
  if (!params) {
    throw new KeyframeError("validation_failed", `start ${input.start} is past the end of the video (${duration} s).`);
  }
  const key = animatedKey(asset.id, asset.currentRunId, params);
  const contentType = ANIMATED_CONTENT_TYPES[params.format];
  const existing = await env.MEDIA.get(key);
  if (existing) {
    return {
      status: "cached",
      key,
      params,
      contentType,
      body: existing.body,
      size: existing.size,
      httpEtag: existing.httpEtag,
    };
  }
  const stored = await env.MEDIA.list({
    prefix: animatedPrefix(asset.id, asset.currentRunId),
    limit: MAX_STORED_ANIMATED_PER_RUN,
  });
  if (stored.truncated || stored.objects.length >= MAX_STORED_ANIMATED_PER_RUN) {
    throw new KeyframeError(
      "rate_limited",
      `This video already has ${MAX_STORED_ANIMATED_PER_RUN} distinct animated previews; request one of those.`,
      [],
      { "retry-after": "3600" },
    );
  }
  await spend(env, "thumbnails", [`pb:${input.playback_id ?? asset.id}`, `env:${asset.environmentId}`]);

  const started = Date.now();
  // A clip asset's source is the whole original it was cut from: its times start at the clip's offset.
  const offset = clipOffsetSeconds(asset);
  const rendered = await render(
    env,
    {
      asset_id: asset.id,
      source_url: `${env.API_PUBLIC_URL.replace(/\/$/, "")}/internal/assets/${asset.id}/source`,
      source_token: await signSourceToken(env, asset.id),
      time: params.start + offset,
      duration: duration === null ? null : offset + duration,
      width: null,
      height: null,
      fit_mode: "preserve",
      animated: { ...params, start: params.start + offset, end: params.end + offset },
    },
    animatedExpectation(params.format),
  );
  const renderMs = Date.now() - started;
  const put = await env.MEDIA.put(key, rendered.bytes, { httpMetadata: { contentType } });
  const after = await createDb(env.DB).query.assets.findFirst({ where: eq(schema.assets.id, asset.id) });
  if (!after || after.status === "deleted") {
    await env.MEDIA.delete(key);
    throw new NotFoundError("asset", asset.id);
  }
  log.info("animated_rendered", { asset_id: asset.id, key, bytes: rendered.bytes.byteLength, render_ms: renderMs });
  return {
    status: "rendered",
    key,
    params,
    contentType,
    body: rendered.bytes,
    size: rendered.bytes.byteLength,
    httpEtag: put.httpEtag,
    renderMs,
  };
}
