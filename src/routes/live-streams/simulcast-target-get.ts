import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { LiveStreamIdSchema } from "../../services/live-streams/schemas";
import {
  getSimulcastTarget,
  SimulcastTargetIdSchema,
  SimulcastTargetSchema,
} from "../../services/live-streams/simulcast";

export const route = createRoute({
  method: "get",
  path: "/v1/live-streams/{live_stream_id}/simulcast-targets/{simulcast_target_id}",
  tags: ["Live streams"],
  summary: "Get a simulcast target",
  description: "The target and its status: `idle`, `starting`, `broadcasting` or `errored` (with `error`).",
  ...scoped("live:read"),
  request: { params: z.object({ live_stream_id: LiveStreamIdSchema, simulcast_target_id: SimulcastTargetIdSchema }) },
  responses: {
    200: { description: "The target", content: { "application/json": { schema: SimulcastTargetSchema } } },
    ...errorResponses,
  },
});

export function registerGetSimulcastTarget(app: App) {
  app.openapi(route, async (c) => {
    const p = c.req.valid("param");
    const target = await getSimulcastTarget({
      ctx: c.var.ctx,
      input: { id: p.live_stream_id, targetId: p.simulcast_target_id },
    });
    return c.json(target, 200);
  });
}
