/**
 * On-demand thumbnails, API side: the edge asks (`POST /internal/thumbnails`) after missing R2; this
 * looks the asset up, normalises the request against the asset's own duration (so the key is the
 * API's to decide, whatever the edge sent), serves an object another request already stored, or has a
 * transcoder render the frame from the source (read back through a source-read token), stores it
 * under the content-addressed key and returns it.
 */
import { eq } from "drizzle-orm";
import { createDb, schema } from "../../db/client";
import { KeyframeError, NotFoundError } from "../../lib/errors";
import { signSourceToken } from "../../lib/job-token";
import { log } from "../../lib/log";
import {
  MAX_STORED_RENDERS_PER_RUN,
  nearestThumbnail,
  normalizeThumbnail,
  parseThumbnailKey,
  type ThumbnailParams,
  type ThumbnailRenderRequest,
  thumbnailKey,
  thumbnailPrefix,
} from "../../lib/thumbnails";
import { spend } from "../../rate-limits/limiter";
import { requestThumbnailRender } from "../../transcoder/thumbnails";
import { clipOffsetSeconds } from "../assets/clip";

export interface ThumbnailResult {
  /** `nearest`: the asset's render cap was reached, so the closest stored render stands in. */
  status: "cached" | "rendered" | "nearest";
  key: string;
  params: ThumbnailParams;
  body: ReadableStream | Uint8Array;
  size: number;
  httpEtag: string;
  /** For rendered thumbnails: how long the transcoder round trip took. */
  renderMs?: number;
}

type AssetRow = typeof schema.assets.$inferSelect;

function hasNoVideo(asset: AssetRow): boolean {
  const tracks = asset.tracks as { type?: string }[] | null;
  return Array.isArray(tracks) && tracks.length > 0 && !tracks.some((t) => t?.type === "video");
}

export async function loadRenderable(env: Env, assetId: string): Promise<AssetRow & { currentRunId: string }> {
  const asset = await createDb(env.DB).query.assets.findFirst({ where: eq(schema.assets.id, assetId) });
  if (!asset || asset.status === "deleted" || asset.deletedAt) throw new NotFoundError("asset", assetId);
  if (asset.status !== "ready" || !asset.currentRunId) {
    throw new KeyframeError("invalid_state", `Asset '${assetId}' is '${asset.status}', not ready.`);
  }
  if (hasNoVideo(asset)) throw new KeyframeError("not_found", "The asset has no video to take a thumbnail from.");
  if (!asset.sourceKey) throw new KeyframeError("not_found", "The asset's source is no longer stored.");
  // Renders read the source, which carries no watermark: a watermarked asset never shows an unwatermarked frame.
  if (asset.watermark) {
    throw new KeyframeError(
      "not_found",
      "The asset is watermarked: thumbnails at a time and animated previews are not rendered from its unwatermarked source; its poster and storyboard carry the watermark.",
    );
  }
  return asset as AssetRow & { currentRunId: string };
}

/**
 * Storms are bounded three ways: the grid (normalizeThumbnail) bounds distinct keys, the per-run cap
 * bounds what is stored (past it the nearest stored render is served, never a new one), and the
 * `thumbnails` rate-limit budget (per playback ID, then per environment) bounds renders per minute, so
 * one public playback ID cannot hold the render slots every tenant shares.
 *
 * `render` is the transcoder call; tests pass a stand-in (rendering for real is e2e-thumbnails' job).
 */
export async function renderThumbnail(
  env: Env,
  input: ThumbnailRenderRequest,
  render: typeof requestThumbnailRender = requestThumbnailRender,
): Promise<ThumbnailResult> {
  const asset = await loadRenderable(env, input.asset_id);
  const duration = asset.duration ? asset.duration / 1000 : null;
  const params = normalizeThumbnail(
    { time: input.time, width: input.width ?? undefined, height: input.height ?? undefined, fit_mode: input.fit_mode },
    duration,
  );
  const key = thumbnailKey(asset.id, asset.currentRunId, params);

  const existing = await env.MEDIA.get(key);
  if (existing) {
    return { status: "cached", key, params, body: existing.body, size: existing.size, httpEtag: existing.httpEtag };
  }

  const stored = await env.MEDIA.list({
    prefix: thumbnailPrefix(asset.id, asset.currentRunId),
    limit: MAX_STORED_RENDERS_PER_RUN,
  });
  if (stored.truncated || stored.objects.length >= MAX_STORED_RENDERS_PER_RUN) {
    const nearest = nearestThumbnail(
      params,
      stored.objects.map((o) => o.key),
    );
    const obj = nearest ? await env.MEDIA.get(nearest) : null;
    if (obj) {
      const shown = parseThumbnailKey(obj.key) ?? params;
      return { status: "nearest", key: obj.key, params: shown, body: obj.body, size: obj.size, httpEtag: obj.httpEtag };
    }
  }
  await spend(env, "thumbnails", [`pb:${input.playback_id ?? asset.id}`, `env:${asset.environmentId}`]);

  const started = Date.now();
  // A clip asset's source is the whole original it was cut from: its times start at the clip's offset.
  const offset = clipOffsetSeconds(asset);
  const rendered = await render(env, {
    asset_id: asset.id,
    source_url: `${env.API_PUBLIC_URL.replace(/\/$/, "")}/internal/assets/${asset.id}/source`,
    source_token: await signSourceToken(env, asset.id),
    time: params.time + offset,
    duration: duration === null ? null : offset + duration,
    width: params.width,
    height: params.height,
    fit_mode: params.fit_mode,
  });
  const renderMs = Date.now() - started;
  const put = await env.MEDIA.put(key, rendered.bytes, {
    httpMetadata: { contentType: "image/jpeg" },
    customMetadata: { time: String(rendered.time === null ? params.time : rendered.time - offset) },
  });
  // Deleted while we rendered: the media sweep may already have run, so remove what we just added.
  const after = await createDb(env.DB).query.assets.findFirst({ where: eq(schema.assets.id, asset.id) });
  if (!after || after.status === "deleted") {
    await env.MEDIA.delete(key);
    throw new NotFoundError("asset", asset.id);
  }
  log.info("thumbnail_rendered", {
    asset_id: asset.id,
    key,
    bytes: rendered.bytes.byteLength,
    render_ms: renderMs,
  });
  return {
    status: "rendered",
    key,
    params,
    body: rendered.bytes,
    size: rendered.bytes.byteLength,
    httpEtag: put.httpEtag,
    renderMs,
  };
}
