/** PUT /internal/jobs/{job_id}/outputs/{path}: one output file under the run prefix, streamed to R2. */
import type { App } from "../../app";
import { parseContentLength, putFixedLength } from "../../r2/stream";
import { writeOutput } from "../../services/jobs/callbacks/outputs";
import { authorize } from "./shared";

export function registerOutputs(app: App) {
  app.put("/internal/jobs/:job_id/outputs/:path{.+}", async (c) => {
    const call = await authorize(c, { allowTrack: true });
    const written = await writeOutput(
      call,
      c.req.param("path"),
      c.req.raw.body,
      parseContentLength(c.req.header("content-length")),
      (key, body, length, contentType) =>
        putFixedLength(c.env.MEDIA, key, body, length, { httpMetadata: { contentType } }),
    );
    return c.json(written, 201);
  });
}
