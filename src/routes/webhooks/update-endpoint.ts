import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { updateEndpoint } from "../../services/webhooks/endpoints";
import { EndpointIdSchema, EndpointSchema, UpdateEndpointSchema } from "../../services/webhooks/schemas";

export const route = createRoute({
  method: "patch",
  path: "/v1/webhook-endpoints/{endpoint_id}",
  tags: ["Webhooks"],
  summary: "Update a webhook endpoint",
  description: "Change the URL, event filter, description, or enable/disable it.",
  ...scoped("webhooks:write"),
  request: {
    params: z.object({ endpoint_id: EndpointIdSchema }),
    body: { content: { "application/json": { schema: UpdateEndpointSchema } }, required: true },
  },
  responses: {
    200: { description: "The updated endpoint", content: { "application/json": { schema: EndpointSchema } } },
    ...errorResponses,
  },
});

export function registerUpdateEndpoint(app: App) {
  app.openapi(route, async (c) =>
    c.json(
      await updateEndpoint({
        ctx: c.var.ctx,
        input: { endpointId: c.req.valid("param").endpoint_id, patch: c.req.valid("json") },
      }),
      200,
    ),
  );
}
