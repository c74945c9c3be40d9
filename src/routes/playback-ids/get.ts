import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { AssetIdSchema } from "../../services/assets/schemas";
import { PlaybackIdParamSchema, PlaybackIdSchema } from "../../services/playback-ids/schemas";
import { getPlaybackId } from "../../services/playback-ids/verbs";

export const route = createRoute({
  method: "get",
  path: "/v1/assets/{asset_id}/playback-ids/{playback_id}",
  tags: ["Playback IDs"],
  summary: "Retrieve a playback ID",
  ...scoped("assets:read"),
  request: { params: z.object({ asset_id: AssetIdSchema, playback_id: PlaybackIdParamSchema }) },
  responses: {
    200: { description: "The playback ID", content: { "application/json": { schema: PlaybackIdSchema } } },
    ...errorResponses,
  },
});

export function registerGetPlaybackId(app: App) {
  app.openapi(route, async (c) => {
    const p = c.req.valid("param");
    return c.json(
      await getPlaybackId({ ctx: c.var.ctx, input: { assetId: p.asset_id, playbackId: p.playback_id } }),
      200,
    );
  });
}
