import { createRoute } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { ListQuerySchema, listResponseSchema } from "../../lib/pagination";
import { listEndpoints } from "../../services/webhooks/endpoints";
import { EndpointSchema } from "../../services/webhooks/schemas";

export const route = createRoute({
  method: "get",
  path: "/v1/webhook-endpoints",
  tags: ["Webhooks"],
  summary: "List webhook endpoints",
  description: "Newest first. Secrets are never listed.",
  ...scoped("webhooks:read"),
  request: { query: ListQuerySchema },
  responses: {
    200: {
      description: "A page of endpoints",
      content: { "application/json": { schema: listResponseSchema(EndpointSchema, "WebhookEndpointList") } },
    },
    ...errorResponses,
  },
});

export function registerListEndpoints(app: App) {
  app.openapi(route, async (c) => c.json(await listEndpoints({ ctx: c.var.ctx, input: c.req.valid("query") }), 200));
}
