import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { createLivePlaybackId } from "../../services/live-streams/playback-ids";
import { LiveStreamIdSchema } from "../../services/live-streams/schemas";
import { CreatePlaybackIdSchema, PlaybackIdSchema } from "../../services/playback-ids/schemas";

export const route = createRoute({
  method: "post",
  path: "/v1/live-streams/{live_stream_id}/playback-ids",
  tags: ["Live streams"],
  summary: "Create a live playback ID",
  description: "Exposes the live stream to viewers (`{edge}/{playback_id}.m3u8`) with a `public` or `signed` policy.",
  ...scoped("live:write"),
  request: {
    params: z.object({ live_stream_id: LiveStreamIdSchema }),
    body: { content: { "application/json": { schema: CreatePlaybackIdSchema } }, required: true },
  },
  responses: {
    201: { description: "The new playback ID", content: { "application/json": { schema: PlaybackIdSchema } } },
    ...errorResponses,
  },
});

export function registerCreateLivePlaybackId(app: App) {
  app.openapi(route, async (c) => {
    const pb = await createLivePlaybackId({
      ctx: c.var.ctx,
      input: { id: c.req.valid("param").live_stream_id, body: c.req.valid("json") },
    });
    return c.json(pb, 201);
  });
}
