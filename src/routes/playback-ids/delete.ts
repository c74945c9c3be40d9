import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { AssetIdSchema } from "../../services/assets/schemas";
import { PlaybackIdParamSchema } from "../../services/playback-ids/schemas";
import { deletePlaybackId } from "../../services/playback-ids/verbs";

export const route = createRoute({
  method: "delete",
  path: "/v1/assets/{asset_id}/playback-ids/{playback_id}",
  tags: ["Playback IDs"],
  summary: "Delete a playback ID",
  description: "Playback through this ID stops at the edge within 60 seconds.",
  ...scoped("playback:write"),
  request: { params: z.object({ asset_id: AssetIdSchema, playback_id: PlaybackIdParamSchema }) },
  responses: { 204: { description: "Deleted" }, ...errorResponses },
});

export function registerDeletePlaybackId(app: App) {
  app.openapi(route, async (c) => {
    const p = c.req.valid("param");
    await deletePlaybackId({ ctx: c.var.ctx, input: { assetId: p.asset_id, playbackId: p.playback_id } });
    return c.body(null, 204);
  });
}
