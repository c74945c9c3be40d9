import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { getEndpoint } from "../../services/webhooks/endpoints";
import { EndpointIdSchema, EndpointSchema } from "../../services/webhooks/schemas";

export const route = createRoute({
  method: "get",
  path: "/v1/webhook-endpoints/{endpoint_id}",
  tags: ["Webhooks"],
  summary: "Retrieve a webhook endpoint",
  ...scoped("webhooks:read"),
  request: { params: z.object({ endpoint_id: EndpointIdSchema }) },
  responses: {
    200: { description: "The endpoint", content: { "application/json": { schema: EndpointSchema } } },
    ...errorResponses,
  },
});

export function registerGetEndpoint(app: App) {
  app.openapi(route, async (c) =>
    c.json(await getEndpoint({ ctx: c.var.ctx, input: { endpointId: c.req.valid("param").endpoint_id } }), 200),
  );
}
