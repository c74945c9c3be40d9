import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { LiveStreamIdSchema } from "../../services/live-streams/schemas";
import {
  CreateSimulcastTargetSchema,
  createSimulcastTarget,
  SimulcastTargetSchema,
} from "../../services/live-streams/simulcast";

export const route = createRoute({
  method: "post",
  path: "/v1/live-streams/{live_stream_id}/simulcast-targets",
  tags: ["Live streams"],
  summary: "Add a simulcast target",
  description:
    "Restreams every broadcast of this live stream to an RTMP(S) destination (YouTube, Twitch, …) with stream copy. Only while the stream is idle; at most 5 targets. The `stream_key` is stored encrypted and never returned.",
  ...scoped("live:write"),
  request: {
    params: z.object({ live_stream_id: LiveStreamIdSchema }),
    body: { content: { "application/json": { schema: CreateSimulcastTargetSchema } }, required: true },
  },
  responses: {
    201: { description: "The new target", content: { "application/json": { schema: SimulcastTargetSchema } } },
    ...errorResponses,
  },
});

export function registerCreateSimulcastTarget(app: App) {
  app.openapi(route, async (c) => {
    const target = await createSimulcastTarget({
      ctx: c.var.ctx,
      input: { id: c.req.valid("param").live_stream_id, body: c.req.valid("json") },
    });
    return c.json(target, 201);
  });
}
