/**
 * tus 1.0.0 resumable uploads at an upload's one-time `tus_url` (`/tus/{upload_id}?token=…`).
 * Core (HEAD, PATCH, OPTIONS) plus creation, creation-with-upload, creation-defer-length, expiration,
 * termination and checksum (sha1). Not under /v1 and not API-key authenticated: the URL token is the
 * authority. Bytes go through the upload's UploadSession Durable Object into R2 multipart parts.
 *
 * Clients must keep each PATCH under the Workers 100 MB request limit (tus-js-client: chunkSize ≤ 50 MB).
 */
import type { App, AppContext } from "../../app";
import { KeyframeError } from "../../lib/errors";
import { tusCreate } from "./create";
import { tusHead } from "./head";
import { registerTusDocs } from "./openapi";
import { tusOptions } from "./options";
import { tusPatch } from "./patch";
import { TusRequest } from "./shared";
import { tusTerminate } from "./terminate";

async function handle(c: AppContext, uploadId: string | null): Promise<Response> {
  const t = new TusRequest(c, uploadId);
  try {
    const method = t.method();
    if (method === "OPTIONS") {
      const { res, preflight } = await tusOptions(t);
      return t.finish(res, preflight);
    }
    t.checkVersion();
    if (!uploadId) {
      throw new KeyframeError(
        method === "POST" ? "not_found" : "method_not_allowed",
        "Uploads are created with POST /v1/uploads; use the returned tus_url as the tus endpoint (or upload URL).",
      );
    }
    let res: Response;
    if (method === "HEAD") res = await tusHead(t);
    else if (method === "PATCH") res = await tusPatch(t);
    else if (method === "POST") res = await tusCreate(t);
    else if (method === "DELETE") res = await tusTerminate(t);
    else
      throw new KeyframeError("method_not_allowed", `tus does not define ${method}.`, [], {
        Allow: "POST, HEAD, PATCH, DELETE, OPTIONS",
      });
    return t.finish(res);
  } catch (err) {
    return t.finish(t.errorResponse(err));
  }
}

export function registerTusRoutes(app: App) {
  app.all("/tus", (c) => handle(c, null));
  app.all("/tus/", (c) => handle(c, null));
  app.all("/tus/:upload_id", (c) => handle(c, c.req.param("upload_id")));
  registerTusDocs(app);
}
