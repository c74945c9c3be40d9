import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { getLiveStreamView } from "../../services/live-streams/load";
import { LiveStreamIdSchema, LiveStreamSchema } from "../../services/live-streams/schemas";

export const route = createRoute({
  method: "get",
  path: "/v1/live-streams/{live_stream_id}",
  tags: ["Live streams"],
  summary: "Get a live stream",
  ...scoped("live:read"),
  request: { params: z.object({ live_stream_id: LiveStreamIdSchema }) },
  responses: {
    200: { description: "The live stream", content: { "application/json": { schema: LiveStreamSchema } } },
    ...errorResponses,
  },
});

export function registerGetLiveStream(app: App) {
  app.openapi(route, async (c) => c.json(await getLiveStreamView(c.var.ctx, c.req.valid("param").live_stream_id), 200));
}
