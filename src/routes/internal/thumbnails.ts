/**
 * On-demand thumbnails, internal side (plain Hono routes, not in the public OpenAPI document):
 *
 *   POST /internal/thumbnails                 the edge asks for one rendered thumbnail (HMAC-signed,
 *                                             see lib/edge-auth.ts) → image/jpeg
 *   GET  /internal/assets/{asset_id}/source   the transcoder reads the source to render it
 *                                             (source-read token, Range)
 */
import type { App, AppContext } from "../../app";
import { deriveEdgeApiSecret, edgeSigner } from "../../lib/edge-auth";
import { KeyframeError } from "../../lib/errors";
import { bodyMatches, readBodyUpTo } from "../../lib/signed-requests";
import { THUMBNAIL_HEADER, THUMBNAIL_TIME_HEADER, ThumbnailRenderRequestSchema } from "../../lib/thumbnails";
import { renderThumbnail } from "../../services/thumbnails/render";
import { readAssetSource } from "../../services/thumbnails/source";
import { parseJson } from "./shared";

const MAX_REQUEST_BYTES = 4096;

/**
 * Checks the edge's signature from the headers alone, then reads at most MAX_REQUEST_BYTES of the body
 * and checks it hashes to what was signed: a forged or oversized request is refused without its body
 * being read (src/lib/signed-requests.ts).
 */
export async function authorizeEdge(c: AppContext): Promise<string> {
  if (Number(c.req.header("content-length") ?? "0") > MAX_REQUEST_BYTES) {
    throw new KeyframeError("payload_too_large", `Thumbnail requests are limited to ${MAX_REQUEST_BYTES} bytes.`);
  }
  const secret = await deriveEdgeApiSecret(c.env.JOB_TOKEN_SECRET);
  const result = await edgeSigner.verifyHeaders(secret, {
    method: c.req.method,
    path: c.req.path,
    header: (name) => c.req.header(name),
  });
  if (!result.ok) {
    await c.req.raw.body?.cancel().catch(() => undefined);
    throw new KeyframeError("unauthenticated", `This endpoint is for the edge worker only (${result.reason}).`);
  }
  const bytes = await readBodyUpTo(c.req.raw.body, MAX_REQUEST_BYTES);
  if (!bytes) {
    throw new KeyframeError("payload_too_large", `Thumbnail requests are limited to ${MAX_REQUEST_BYTES} bytes.`);
  }
  if (!(await bodyMatches(result.bodySha256, bytes))) {
    throw new KeyframeError("unauthenticated", "This endpoint is for the edge worker only (body_mismatch).");
  }
  return new TextDecoder().decode(bytes);
}

export function registerThumbnails(app: App) {
  app.post("/internal/thumbnails", async (c) => {
    const input = parseJson(await authorizeEdge(c), ThumbnailRenderRequestSchema);
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
