import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { LiveStreamIdSchema, LiveStreamSchema } from "../../services/live-streams/schemas";
import { resetStreamKey } from "../../services/live-streams/update";

export const route = createRoute({
  method: "post",
  path: "/v1/live-streams/{live_stream_id}/reset-stream-key",
  tags: ["Live streams"],
  summary: "Reset the stream key",
  description: "Issues a new stream key (returned once, with its ingest URL); the old key is refused from now on.",
  ...scoped("live:write"),
  request: { params: z.object({ live_stream_id: LiveStreamIdSchema }) },
  responses: {
    200: { description: "The live stream", content: { "application/json": { schema: LiveStreamSchema } } },
    ...errorResponses,
  },
});

export function registerResetStreamKey(app: App) {
  app.openapi(route, async (c) =>
    c.json(await resetStreamKey({ ctx: c.var.ctx, input: { id: c.req.valid("param").live_stream_id } }), 200),
  );
}
