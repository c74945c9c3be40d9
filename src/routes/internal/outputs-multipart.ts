/**
 * Large outputs in parts (R2 multipart), for files over a Worker's request body limit:
 *
 *   POST   /internal/jobs/{job_id}/outputs-multipart/{path}                     create
 *   PUT    /internal/jobs/{job_id}/outputs-multipart/{path}?upload_id=&part=N   one part, streamed
 *   POST   /internal/jobs/{job_id}/outputs-multipart/{path}/complete            assemble → 201
 *   DELETE /internal/jobs/{job_id}/outputs-multipart/{path}?upload_id=          abort → 204
 *
 * A path whose last segment is `complete` therefore cannot be created through this route.
 */
import type { App } from "../../app";
import {
  MultipartCompletedSchema,
  MultipartCompleteSchema,
  MultipartCreatedSchema,
  MultipartCreateSchema,
  MultipartPartReplySchema,
} from "../../lib/transcoder-protocol";
import { parseContentLength } from "../../r2/stream";
import {
  abortMultipartOutput,
  completeMultipartOutput,
  createMultipartOutput,
  uploadMultipartPart,
} from "../../services/jobs/callbacks/outputs-multipart";
import { authorize, readJson } from "./shared";

const BASE = "/internal/jobs/:job_id/outputs-multipart";

export function registerOutputsMultipart(app: App) {
  // One POST route: `{path}/complete` completes, any other path creates (a router cannot tell them
  // apart reliably after a greedy path parameter).
  app.post(`${BASE}/:path{.+}`, async (c) => {
    const call = await authorize(c);
    const path = c.req.param("path");
    const completing = /^(.+)\/complete$/.exec(path);
    if (completing) {
      const input = await readJson(c, MultipartCompleteSchema);
      const done = await completeMultipartOutput(call, completing[1] as string, input);
      return c.json(MultipartCompletedSchema.parse(done), 201);
    }
    const input = await readJson(c, MultipartCreateSchema);
    const created = await createMultipartOutput(call, path, input);
    return c.json(MultipartCreatedSchema.parse(created), 201);
  });

  app.put(`${BASE}/:path{.+}`, async (c) => {
    const call = await authorize(c);
    const reply = await uploadMultipartPart(
      call,
      c.req.param("path"),
      { uploadId: c.req.query("upload_id"), part: c.req.query("part") },
      c.req.raw.body,
      parseContentLength(c.req.header("content-length")),
    );
    return c.json(MultipartPartReplySchema.parse(reply), 200);
  });

  app.delete(`${BASE}/:path{.+}`, async (c) => {
    const call = await authorize(c);
    await abortMultipartOutput(call, c.req.param("path"), c.req.query("upload_id"));
    return c.body(null, 204);
  });
}
