import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { LiveStreamIdSchema, LiveStreamSchema, UpdateLiveStreamSchema } from "../../services/live-streams/schemas";
import { updateLiveStream } from "../../services/live-streams/update";

export const route = createRoute({
  method: "patch",
  path: "/v1/live-streams/{live_stream_id}",
  tags: ["Live streams"],
  summary: "Update a live stream's settings",
  description: "Changes apply to the running session at once (timers) and to the next recording (recording settings).",
  ...scoped("live:write"),
  request: {
    params: z.object({ live_stream_id: LiveStreamIdSchema }),
    body: { content: { "application/json": { schema: UpdateLiveStreamSchema } }, required: true },
  },
  responses: {
    200: { description: "The updated live stream", content: { "application/json": { schema: LiveStreamSchema } } },
    ...errorResponses,
  },
});

export function registerUpdateLiveStream(app: App) {
  app.openapi(route, async (c) => {
    const view = await updateLiveStream({
      ctx: c.var.ctx,
      input: { id: c.req.valid("param").live_stream_id, patch: c.req.valid("json") },
    });
    return c.json(view, 200);
  });
}
