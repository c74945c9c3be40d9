import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { LiveStreamIdSchema } from "../../services/live-streams/schemas";
import { deleteLiveStream } from "../../services/live-streams/update";

export const route = createRoute({
  method: "delete",
  path: "/v1/live-streams/{live_stream_id}",
  tags: ["Live streams"],
  summary: "Delete a live stream",
  description:
    "Ends any running session (its recording is finalised and stays an ordinary asset), refuses the stream key " +
    "from now on and deletes the stream's playback IDs.",
  ...scoped("live:write"),
  request: { params: z.object({ live_stream_id: LiveStreamIdSchema }) },
  responses: { 204: { description: "Deleted" }, ...errorResponses },
});

export function registerDeleteLiveStream(app: App) {
  app.openapi(route, async (c) => {
    await deleteLiveStream({ ctx: c.var.ctx, input: { id: c.req.valid("param").live_stream_id } });
    return c.body(null, 204);
  });
}
