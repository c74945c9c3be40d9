/**
 * PUT /uploads/{upload_id}?token=… (and its CORS preflight): the browser-facing one-time URL. CORS
 * follows the upload's `cors_origin`, on errors too, so a browser can read why a PUT failed.
 */
import type { App, AppContext } from "../../app";
import { KeyframeError, problemResponse } from "../../lib/errors";
import { parseContentLength } from "../../r2/stream";
import { loadUploadForBytes, receiveUploadBytes, type UploadRow } from "../../services/uploads/direct-upload";

function corsHeaders(row: UploadRow | null, origin: string | undefined): Record<string, string> {
  const allowed = row?.corsOrigin;
  if (!allowed) return {};
  if (allowed === "*") return { "access-control-allow-origin": "*" };
  if (origin && origin === allowed) return { "access-control-allow-origin": allowed, vary: "Origin" };
  return { vary: "Origin" };
}

function problemWithCors(c: AppContext, err: unknown, row: UploadRow | null): Response {
  if (!(err instanceof KeyframeError)) throw err;
  return problemResponse(err.code, err.message, c.get("requestId"), err.errors, {
    ...err.headers,
    ...corsHeaders(row, c.req.header("origin")),
  });
}

export function registerPutUpload(app: App) {
  app.put("/uploads/:upload_id", async (c) => {
    let row: UploadRow | null = null;
    try {
      row = await loadUploadForBytes(c.env, c.req.param("upload_id"), c.req.query("token"));
      const result = await receiveUploadBytes(c.env, {
        row,
        contentLength: parseContentLength(c.req.header("content-length")),
        contentType: c.req.header("content-type")?.split(";")[0].trim().toLowerCase() || null,
        body: c.req.raw.body,
        requestId: c.get("requestId"),
        waitUntil: (p) => c.executionCtx.waitUntil(p),
      });
      return c.json(result, 200, corsHeaders(row, c.req.header("origin")));
    } catch (err) {
      return problemWithCors(c, err, row);
    }
  });

  app.options("/uploads/:upload_id", async (c) => {
    let row: UploadRow | null = null;
    try {
      row = await loadUploadForBytes(c.env, c.req.param("upload_id"), c.req.query("token"));
    } catch (err) {
      return problemWithCors(c, err, row);
    }
    const cors = corsHeaders(row, c.req.header("origin"));
    if (!cors["access-control-allow-origin"]) return c.body(null, 204, cors);
    return c.body(null, 204, {
      ...cors,
      "access-control-allow-methods": "PUT, OPTIONS",
      "access-control-allow-headers": "content-type, content-length",
      "access-control-max-age": "600",
    });
  });
}
