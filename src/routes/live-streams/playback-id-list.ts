import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { listResponseSchema } from "../../lib/pagination";
import { listLivePlaybackIds } from "../../services/live-streams/playback-ids";
import { LiveStreamIdSchema } from "../../services/live-streams/schemas";
import { PlaybackIdSchema } from "../../services/playback-ids/schemas";

export const route = createRoute({
  method: "get",
  path: "/v1/live-streams/{live_stream_id}/playback-ids",
  tags: ["Live streams"],
  summary: "List a live stream's playback IDs",
  ...scoped("live:read"),
  request: { params: z.object({ live_stream_id: LiveStreamIdSchema }) },
  responses: {
    200: {
      description: "Playback IDs",
      content: { "application/json": { schema: listResponseSchema(PlaybackIdSchema, "LivePlaybackIdList") } },
    },
    ...errorResponses,
  },
});

export function registerListLivePlaybackIds(app: App) {
  app.openapi(route, async (c) =>
    c.json(await listLivePlaybackIds({ ctx: c.var.ctx, input: { id: c.req.valid("param").live_stream_id } }), 200),
  );
}
