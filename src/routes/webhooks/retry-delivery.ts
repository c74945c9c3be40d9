import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { retryDelivery } from "../../services/webhooks/deliveries";
import { DeliveryIdSchema, DeliverySchema, RetryDeliverySchema } from "../../services/webhooks/schemas";

export const route = createRoute({
  method: "post",
  path: "/v1/webhook-deliveries/{delivery_id}/retry",
  tags: ["Webhooks"],
  summary: "Retry a delivery",
  description:
    "A `failed` delivery is attempted again now with a fresh retry schedule; a `pending`/`retrying` one is attempted now. A `succeeded` one is refused (409 invalid_state) unless `force: true`, which re-sends it with the same `webhook-id`. 409 when the endpoint is disabled or deleted.",
  ...scoped("webhooks:write"),
  request: {
    params: z.object({ delivery_id: DeliveryIdSchema }),
    body: { content: { "application/json": { schema: RetryDeliverySchema } }, required: false },
  },
  responses: {
    202: { description: "The delivery, scheduled", content: { "application/json": { schema: DeliverySchema } } },
    ...errorResponses,
  },
});

export function registerRetryDelivery(app: App) {
  app.openapi(route, async (c) => {
    const body = RetryDeliverySchema.parse(c.req.valid("json") ?? {});
    return c.json(
      await retryDelivery({
        ctx: c.var.ctx,
        input: { deliveryId: c.req.valid("param").delivery_id, force: body.force },
      }),
      202,
    );
  });
}
