import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { listResponseSchema } from "../../lib/pagination";
import { AssetIdSchema } from "../../services/assets/schemas";
import { PlaybackIdSchema } from "../../services/playback-ids/schemas";
import { listPlaybackIds } from "../../services/playback-ids/verbs";

export const route = createRoute({
  method: "get",
  path: "/v1/assets/{asset_id}/playback-ids",
  tags: ["Playback IDs"],
  summary: "List an asset's playback IDs",
  ...scoped("assets:read"),
  request: { params: z.object({ asset_id: AssetIdSchema }) },
  responses: {
    200: {
      description: "Playback IDs",
      content: { "application/json": { schema: listResponseSchema(PlaybackIdSchema, "PlaybackIdList") } },
    },
    ...errorResponses,
  },
});

export function registerListPlaybackIds(app: App) {
  app.openapi(route, async (c) =>
    c.json(await listPlaybackIds({ ctx: c.var.ctx, input: { assetId: c.req.valid("param").asset_id } }), 200),
  );
}
