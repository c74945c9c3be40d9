import { createRoute } from "@hono/zod-openapi";
import { type App, scoped, withRefusedReplayNote } from "../../app";
import { errorResponses } from "../../lib/errors";
import { createEndpoint } from "../../services/webhooks/endpoints";
import { CreateEndpointSchema, EndpointWithSecretSchema } from "../../services/webhooks/schemas";

export const route = createRoute({
  method: "post",
  path: "/v1/webhook-endpoints",
  tags: ["Webhooks"],
  summary: "Create a webhook endpoint",
  description: withRefusedReplayNote(
    "Events matching `event_types` are POSTed to `url`, signed per Standard Webhooks. The `whsec_…` secret is returned only here (and by rotate-secret).",
  ),
  ...scoped("webhooks:write", { replay: "refuse" }),
  request: { body: { content: { "application/json": { schema: CreateEndpointSchema } }, required: true } },
  responses: {
    201: {
      description: "The new endpoint, with its secret",
      content: { "application/json": { schema: EndpointWithSecretSchema } },
    },
    ...errorResponses,
  },
});

export function registerCreateEndpoint(app: App) {
  app.openapi(route, async (c) => c.json(await createEndpoint({ ctx: c.var.ctx, input: c.req.valid("json") }), 201));
}
