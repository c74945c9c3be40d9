import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { deleteLivePlaybackId } from "../../services/live-streams/playback-ids";
import { LiveStreamIdSchema } from "../../services/live-streams/schemas";
import { PlaybackIdParamSchema } from "../../services/playback-ids/schemas";

export const route = createRoute({
  method: "delete",
  path: "/v1/live-streams/{live_stream_id}/playback-ids/{playback_id}",
  tags: ["Live streams"],
  summary: "Delete a live playback ID",
  description: "Playback through this ID stops at the edge within 60 seconds.",
  ...scoped("live:write"),
  request: { params: z.object({ live_stream_id: LiveStreamIdSchema, playback_id: PlaybackIdParamSchema }) },
  responses: { 204: { description: "Deleted" }, ...errorResponses },
});

export function registerDeleteLivePlaybackId(app: App) {
  app.openapi(route, async (c) => {
    const p = c.req.valid("param");
    await deleteLivePlaybackId({ ctx: c.var.ctx, input: { id: p.live_stream_id, playbackId: p.playback_id } });
    return c.body(null, 204);
  });
}
