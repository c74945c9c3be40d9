import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { LiveStreamIdSchema, LiveStreamSchema } from "../../services/live-streams/schemas";
import { disableLiveStream } from "../../services/live-streams/update";

export const route = createRoute({
  method: "put",
  path: "/v1/live-streams/{live_stream_id}/disable",
  tags: ["Live streams"],
  summary: "Disable a live stream",
  description: "Refuses ingest; a running session ends at once (its recording is finalised). Idempotent.",
  ...scoped("live:write"),
  request: { params: z.object({ live_stream_id: LiveStreamIdSchema }) },
  responses: {
    200: { description: "The live stream", content: { "application/json": { schema: LiveStreamSchema } } },
    ...errorResponses,
  },
});

export function registerDisableLiveStream(app: App) {
  app.openapi(route, async (c) =>
    c.json(await disableLiveStream({ ctx: c.var.ctx, input: { id: c.req.valid("param").live_stream_id } }), 200),
  );
}
