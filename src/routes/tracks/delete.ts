import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { AssetIdSchema } from "../../services/assets/schemas";
import { TrackIdParamSchema } from "../../services/tracks/schemas";
import { deleteTrack } from "../../services/tracks/verbs";

export const route = createRoute({
  method: "delete",
  path: "/v1/assets/{asset_id}/tracks/{track_id}",
  tags: ["Tracks"],
  summary: "Delete a track",
  description: "Emits `track.deleted`; players stop seeing it in the master playlist within 30 seconds.",
  ...scoped("assets:write"),
  request: { params: z.object({ asset_id: AssetIdSchema, track_id: TrackIdParamSchema }) },
  responses: { 204: { description: "Deleted" }, ...errorResponses },
});

export function registerDeleteTrack(app: App) {
  app.openapi(route, async (c) => {
    const p = c.req.valid("param");
    await deleteTrack({ ctx: c.var.ctx, input: { assetId: p.asset_id, trackId: p.track_id } });
    return c.body(null, 204);
  });
}
