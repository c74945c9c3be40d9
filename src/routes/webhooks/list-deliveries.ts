import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { ListQuerySchema, listResponseSchema } from "../../lib/pagination";
import { listDeliveries } from "../../services/webhooks/deliveries";
import { DELIVERY_STATUSES, DeliverySchema, EndpointIdSchema } from "../../services/webhooks/schemas";

export const route = createRoute({
  method: "get",
  path: "/v1/webhook-endpoints/{endpoint_id}/deliveries",
  tags: ["Webhooks"],
  summary: "List an endpoint's deliveries",
  description:
    "Newest first, each with every attempt (status code, latency, response excerpt, error). `failed` deliveries are the dead letters: replay them.",
  ...scoped("webhooks:read"),
  request: {
    params: z.object({ endpoint_id: EndpointIdSchema }),
    query: ListQuerySchema.extend({
      status: z
        .enum(DELIVERY_STATUSES)
        .optional()
        .openapi({ param: { name: "status", in: "query" } }),
    }),
  },
  responses: {
    200: {
      description: "A page of deliveries",
      content: { "application/json": { schema: listResponseSchema(DeliverySchema, "WebhookDeliveryList") } },
    },
    ...errorResponses,
  },
});

export function registerListDeliveries(app: App) {
  app.openapi(route, async (c) =>
    c.json(
      await listDeliveries({
        ctx: c.var.ctx,
        input: { endpointId: c.req.valid("param").endpoint_id, ...c.req.valid("query") },
      }),
      200,
    ),
  );
}
