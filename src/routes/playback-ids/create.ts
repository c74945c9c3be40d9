import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { AssetIdSchema } from "../../services/assets/schemas";
import { CreatePlaybackIdSchema, PlaybackIdSchema } from "../../services/playback-ids/schemas";
import { createPlaybackId } from "../../services/playback-ids/verbs";

export const route = createRoute({
  method: "post",
  path: "/v1/assets/{asset_id}/playback-ids",
  tags: ["Playback IDs"],
  summary: "Create a playback ID",
  description: "Exposes the asset to viewers with a `public` or `signed` policy and an optional origin allow-list.",
  ...scoped("playback:write"),
  request: {
    params: z.object({ asset_id: AssetIdSchema }),
    body: { content: { "application/json": { schema: CreatePlaybackIdSchema } }, required: true },
  },
  responses: {
    201: { description: "The new playback ID", content: { "application/json": { schema: PlaybackIdSchema } } },
    ...errorResponses,
  },
});

export function registerCreatePlaybackId(app: App) {
  app.openapi(route, async (c) => {
    const pb = await createPlaybackId({
      ctx: c.var.ctx,
      input: { assetId: c.req.valid("param").asset_id, body: c.req.valid("json") },
    });
    return c.json(pb, 201);
  });
}
