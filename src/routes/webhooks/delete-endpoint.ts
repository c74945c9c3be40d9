import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { deleteEndpoint } from "../../services/webhooks/endpoints";
import { EndpointIdSchema } from "../../services/webhooks/schemas";

export const route = createRoute({
  method: "delete",
  path: "/v1/webhook-endpoints/{endpoint_id}",
  tags: ["Webhooks"],
  summary: "Delete a webhook endpoint",
  description: "Nothing more is sent to it; its pending deliveries end `failed`.",
  ...scoped("webhooks:write"),
  request: { params: z.object({ endpoint_id: EndpointIdSchema }) },
  responses: { 204: { description: "Deleted" }, ...errorResponses },
});

export function registerDeleteEndpoint(app: App) {
  app.openapi(route, async (c) => {
    await deleteEndpoint({ ctx: c.var.ctx, input: { endpointId: c.req.valid("param").endpoint_id } });
    return c.body(null, 204);
  });
}
