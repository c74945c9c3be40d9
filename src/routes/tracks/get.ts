import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { AssetIdSchema } from "../../services/assets/schemas";
import { TrackIdParamSchema, TrackSchema } from "../../services/tracks/schemas";
import { getTrack } from "../../services/tracks/verbs";

export const route = createRoute({
  method: "get",
  path: "/v1/assets/{asset_id}/tracks/{track_id}",
  tags: ["Tracks"],
  summary: "Retrieve a track",
  description: "Status (`preparing`, `ready`, `errored` with a precise `error`), language, cue count.",
  ...scoped("assets:read"),
  request: { params: z.object({ asset_id: AssetIdSchema, track_id: TrackIdParamSchema }) },
  responses: {
    200: { description: "The track", content: { "application/json": { schema: TrackSchema } } },
    ...errorResponses,
  },
});

export function registerGetTrack(app: App) {
  app.openapi(route, async (c) => {
    const p = c.req.valid("param");
    return c.json(await getTrack({ ctx: c.var.ctx, input: { assetId: p.asset_id, trackId: p.track_id } }), 200);
  });
}
