import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { LiveHealthSchema, LiveStreamIdSchema } from "../../services/live-streams/schemas";
import { liveStreamHealth } from "../../services/live-streams/update";

export const route = createRoute({
  method: "get",
  path: "/v1/live-streams/{live_stream_id}/health",
  tags: ["Live streams"],
  summary: "Ingest health",
  description:
    "The stream's ingest as its Durable Object sees it: connected since, last segment, cadence against the " +
    "target, measured bitrate, container, keyframe alignment, reconnects, dropped/late segments, refused requests.",
  ...scoped("live:read"),
  request: { params: z.object({ live_stream_id: LiveStreamIdSchema }) },
  responses: {
    200: { description: "Ingest health", content: { "application/json": { schema: LiveHealthSchema } } },
    ...errorResponses,
  },
});

export function registerLiveStreamHealth(app: App) {
  app.openapi(route, async (c) =>
    c.json(await liveStreamHealth({ ctx: c.var.ctx, input: { id: c.req.valid("param").live_stream_id } }), 200),
  );
}
