import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { getLivePlaybackId } from "../../services/live-streams/playback-ids";
import { LiveStreamIdSchema } from "../../services/live-streams/schemas";
import { PlaybackIdParamSchema, PlaybackIdSchema } from "../../services/playback-ids/schemas";

export const route = createRoute({
  method: "get",
  path: "/v1/live-streams/{live_stream_id}/playback-ids/{playback_id}",
  tags: ["Live streams"],
  summary: "Get a live playback ID",
  ...scoped("live:read"),
  request: { params: z.object({ live_stream_id: LiveStreamIdSchema, playback_id: PlaybackIdParamSchema }) },
  responses: {
    200: { description: "The playback ID", content: { "application/json": { schema: PlaybackIdSchema } } },
    ...errorResponses,
  },
});

export function registerGetLivePlaybackId(app: App) {
  app.openapi(route, async (c) => {
    const p = c.req.valid("param");
    return c.json(
      await getLivePlaybackId({ ctx: c.var.ctx, input: { id: p.live_stream_id, playbackId: p.playback_id } }),
      200,
    );
  });
}
