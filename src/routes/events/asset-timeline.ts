import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { AssetIdSchema } from "../../services/assets/schemas";
import { assetTimeline, TimelineSchema } from "../../services/events/timeline";

export const route = createRoute({
  method: "get",
  path: "/v1/assets/{asset_id}/events",
  tags: ["Events"],
  summary: "An asset's timeline",
  description:
    "Everything that happened to an asset, in order: its events (and its upload's and playback IDs'), its processing jobs (created, started, finished, with attempt and error) and the webhook delivery attempts for those events. Deleted assets keep their timeline.",
  ...scoped("events:read"),
  request: { params: z.object({ asset_id: AssetIdSchema }) },
  responses: {
    200: { description: "The timeline", content: { "application/json": { schema: TimelineSchema } } },
    ...errorResponses,
  },
});

export function registerAssetTimeline(app: App) {
  app.openapi(route, async (c) =>
    c.json(await assetTimeline({ ctx: c.var.ctx, input: { assetId: c.req.valid("param").asset_id } }), 200),
  );
}
