/**
 * `POST /internal/animated`: the edge asks for one animated preview (HMAC-signed like
 * `/internal/thumbnails`) → image/gif | image/webp. Not in the public OpenAPI document.
 */
import type { App } from "../../app";
import { AnimatedRenderRequestSchema } from "../../lib/animated";
import { THUMBNAIL_HEADER } from "../../lib/thumbnails";
import { renderAnimated } from "../../services/thumbnails/animated";
import { parseJson } from "./shared";
import { authorizeEdge } from "./thumbnails";

export function registerAnimated(app: App) {
  app.post("/internal/animated", async (c) => {
    const input = parseJson(await authorizeEdge(c), AnimatedRenderRequestSchema);
    const out = await renderAnimated(c.env, input);
    return new Response(out.body, {
      status: 200,
      headers: {
        "content-type": out.contentType,
        "content-length": String(out.size),
        etag: out.httpEtag,
        "cache-control": "no-store",
        [THUMBNAIL_HEADER]: out.status,
        "x-keyframe-animated-key": out.key,
        ...(out.renderMs !== undefined ? { "x-keyframe-render-ms": String(out.renderMs) } : {}),
      },
    });
  });
}
