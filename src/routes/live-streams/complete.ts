import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { LiveStreamIdSchema, LiveStreamSchema } from "../../services/live-streams/schemas";
import { completeLiveStream } from "../../services/live-streams/update";

export const route = createRoute({
  method: "post",
  path: "/v1/live-streams/{live_stream_id}/complete",
  tags: ["Live streams"],
  summary: "End the broadcast now",
  description:
    "Ends the running session at once instead of after the reconnect window: the stream goes idle and the recording becomes ready. 409 when the stream is not active.",
  ...scoped("live:write"),
  request: { params: z.object({ live_stream_id: LiveStreamIdSchema }) },
  responses: {
    200: { description: "The live stream", content: { "application/json": { schema: LiveStreamSchema } } },
    ...errorResponses,
  },
});

export function registerCompleteLiveStream(app: App) {
  app.openapi(route, async (c) =>
    c.json(await completeLiveStream({ ctx: c.var.ctx, input: { id: c.req.valid("param").live_stream_id } }), 200),
  );
}
