import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { LiveStreamIdSchema } from "../../services/live-streams/schemas";
import { listSimulcastTargets, SimulcastTargetSchema } from "../../services/live-streams/simulcast";

const SimulcastTargetListSchema = z
  .object({ data: z.array(SimulcastTargetSchema), next_cursor: z.string().nullable() })
  .openapi("SimulcastTargetList");

export const route = createRoute({
  method: "get",
  path: "/v1/live-streams/{live_stream_id}/simulcast-targets",
  tags: ["Live streams"],
  summary: "List simulcast targets",
  description: "Every target of the stream with its current status (at most 5, so never paginated).",
  ...scoped("live:read"),
  request: { params: z.object({ live_stream_id: LiveStreamIdSchema }) },
  responses: {
    200: { description: "The targets", content: { "application/json": { schema: SimulcastTargetListSchema } } },
    ...errorResponses,
  },
});

export function registerListSimulcastTargets(app: App) {
  app.openapi(route, async (c) => {
    const list = await listSimulcastTargets({ ctx: c.var.ctx, input: { id: c.req.valid("param").live_stream_id } });
    return c.json(list, 200);
  });
}
