import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { replayEndpoint } from "../../services/webhooks/deliveries";
import { EndpointIdSchema, ReplayResultSchema, ReplaySchema } from "../../services/webhooks/schemas";

export const route = createRoute({
  method: "post",
  path: "/v1/webhook-endpoints/{endpoint_id}/replay",
  tags: ["Webhooks"],
  summary: "Replay failed deliveries",
  description:
    "Re-enqueues the endpoint's `failed` deliveries created at or after `since`, each with a fresh retry schedule (up to 500 per call; `has_more` says to call again).",
  ...scoped("webhooks:write"),
  request: {
    params: z.object({ endpoint_id: EndpointIdSchema }),
    body: { content: { "application/json": { schema: ReplaySchema } }, required: true },
  },
  responses: {
    202: { description: "How many were re-enqueued", content: { "application/json": { schema: ReplayResultSchema } } },
    ...errorResponses,
  },
});

export function registerReplay(app: App) {
  app.openapi(route, async (c) =>
    c.json(
      await replayEndpoint({
        ctx: c.var.ctx,
        input: { endpointId: c.req.valid("param").endpoint_id, ...c.req.valid("json") },
      }),
      202,
    ),
  );
}
