import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { LiveStreamIdSchema } from "../../services/live-streams/schemas";
import { deleteSimulcastTarget, SimulcastTargetIdSchema } from "../../services/live-streams/simulcast";

export const route = createRoute({
  method: "delete",
  path: "/v1/live-streams/{live_stream_id}/simulcast-targets/{simulcast_target_id}",
  tags: ["Live streams"],
  summary: "Delete a simulcast target",
  description: "Only while the stream is idle (409 `invalid_state` while a broadcast is on air).",
  ...scoped("live:write"),
  request: { params: z.object({ live_stream_id: LiveStreamIdSchema, simulcast_target_id: SimulcastTargetIdSchema }) },
  responses: { 204: { description: "Deleted" }, ...errorResponses },
});

export function registerDeleteSimulcastTarget(app: App) {
  app.openapi(route, async (c) => {
    const p = c.req.valid("param");
    await deleteSimulcastTarget({ ctx: c.var.ctx, input: { id: p.live_stream_id, targetId: p.simulcast_target_id } });
    return c.body(null, 204);
  });
}
