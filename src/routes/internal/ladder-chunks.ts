/**
 * POST /internal/jobs/{job_id}/ladder-chunks/{index}: one chunk of the segment-parallel ladder, handed to
 * its own transcoder instance (src/lib/ladder-chunk-protocol.ts). GET /internal/jobs/{job_id}/outputs/{path}:
 * an output this run wrote, read back by the coordinator (a remote chunk's segments).
 */
import type { App } from "../../app";
import { KeyframeError } from "../../lib/errors";
import { LadderChunkRequestSchema } from "../../lib/ladder-chunk-protocol";
import { forwardLadderChunk, readOutput } from "../../services/jobs/callbacks/ladder-chunk";
import { transcoderFetch } from "../../transcoder/client";
import { authorize, readJson } from "./shared";

export function registerLadderChunks(app: App) {
  app.post("/internal/jobs/:job_id/ladder-chunks/:index", async (c) => {
    const call = await authorize(c);
    const index = Number(c.req.param("index"));
    if (!/^\d{1,5}$/.test(c.req.param("index"))) {
      throw new KeyframeError("validation_failed", "The chunk index must be a whole number.", [
        { location: "path.index", message: "must be a whole number" },
      ]);
    }
    const request = await readJson(c, LadderChunkRequestSchema);
    // authorize() has checked the token; the instance uses the same one to read the source and write outputs.
    const token = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "")?.[1] ?? "";
    return await forwardLadderChunk(call, { index, token, request }, (instance, path, payload, timeouts) =>
      transcoderFetch(c.env, instance, path, payload, timeouts),
    );
  });

  app.get(
    "/internal/jobs/:job_id/outputs/:path{.+}",
    async (c) => await readOutput(await authorize(c), c.req.param("path")),
  );
}
