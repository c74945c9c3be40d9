/**
 * On-demand thumbnails, internal side (plain Hono routes, not in the public OpenAPI document):
 *
 *   POST /internal/thumbnails                 the edge asks for one rendered thumbnail (HMAC-signed,
 *                                             see lib/edge-auth.ts) → image/jpeg
 *   GET  /internal/assets/{asset_id}/source   the transcoder reads the source to render it
 *                                             (source-read token, Range)
 */
import type { App, AppContext } from "../../app";
import {
  deriveEdgeApiSecret,
  EDGE_SIGNATURE_HEADER,
  EDGE_TIMESTAMP_HEADER,
  verifyEdgeRequest,
} from "../../lib/edge-auth";
import { KeyframeError } from "../../lib/errors";
import { THUMBNAIL_HEADER, THUMBNAIL_TIME_HEADER, ThumbnailRenderRequestSchema } from "../../lib/thumbnails";
import { renderThumbnail } from "../../services/thumbnails/render";
import { readAssetSource } from "../../services/thumbnails/source";
import { readJson } from "./shared";

const MAX_REQUEST_BYTES = 4096;

async function authorizeEdge(c: AppContext): Promise<void> {
  if (Number(c.req.header("content-length") ?? "0") > MAX_REQUEST_BYTES) {
    throw new KeyframeError("payload_too_large", `Thumbnail requests are limited to ${MAX_REQUEST_BYTES} bytes.`);
  }
  const body = await c.req.text();
  if (body.length > MAX_REQUEST_BYTES) {
    throw new KeyframeError("payload_too_large", `Thumbnail requests are limited to ${MAX_REQUEST_BYTES} bytes.`);
  }
  const result = await verifyEdgeRequest(await deriveEdgeApiSecret(c.env.JOB_TOKEN_SECRET), {
    method: c.req.method,
    path: c.req.path,
    body,
    timestamp: c.req.header(EDGE_TIMESTAMP_HEADER) ?? null,
    signature: c.req.header(EDGE_SIGNATURE_HEADER) ?? null,
  });
  if (!result.ok) {
    throw new KeyframeError("unauthenticated", `This endpoint is for the edge worker only (${result.reason}).`);
  }
}

export function registerThumbnails(app: App) {
  app.post("/internal/thumbnails", async (c) => {
    await authorizeEdge(c);
    const input = await readJson(c, ThumbnailRenderRequestSchema);
    const out = await renderThumbnail(c.env, input);
    return new Response(out.body, {
      status: 200,
      headers: {
        "content-type": "image/jpeg",
        "content-length": String(out.size),
        etag: out.httpEtag,
        "cache-control": "no-store",
        [THUMBNAIL_HEADER]: out.status,
        ...(out.status === "nearest" ? { "x-keyframe-thumbnail-substitute": "render-cap" } : {}),
        [THUMBNAIL_TIME_HEADER]: out.params.time.toFixed(1),
        "x-keyframe-thumbnail-key": out.key,
        ...(out.renderMs !== undefined ? { "x-keyframe-render-ms": String(out.renderMs) } : {}),
      },
    });
  });

  app.get("/internal/assets/:asset_id/source", (c) =>
    readAssetSource(c.env, c.req.param("asset_id"), c.req.header("authorization"), c.req.header("range")),
  );
}
