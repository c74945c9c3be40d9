import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { liveStreamTimeline, TimelineSchema } from "../../services/events/timeline";
import { LiveStreamIdSchema } from "../../services/live-streams/schemas";

export const route = createRoute({
  method: "get",
  path: "/v1/live-streams/{live_stream_id}/events",
  tags: ["Events"],
  summary: "A live stream's timeline",
  description:
    "Everything that happened to a live stream, in order: its events (created, connected, active, disconnected, " +
    "idle, …) and the webhook delivery attempts for them. Deleted streams keep their timeline.",
  ...scoped("events:read"),
  request: { params: z.object({ live_stream_id: LiveStreamIdSchema }) },
  responses: {
    200: { description: "The timeline", content: { "application/json": { schema: TimelineSchema } } },
    ...errorResponses,
  },
});

export function registerLiveStreamTimeline(app: App) {
  app.openapi(route, async (c) =>
    c.json(await liveStreamTimeline({ ctx: c.var.ctx, input: { id: c.req.valid("param").live_stream_id } }), 200),
  );
}
