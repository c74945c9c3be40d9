import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped, withRefusedReplayNote } from "../../app";
import { errorResponses } from "../../lib/errors";
import { rotateEndpointSecret } from "../../services/webhooks/endpoints";
import { EndpointIdSchema, EndpointWithSecretSchema, RotateSecretSchema } from "../../services/webhooks/schemas";

export const route = createRoute({
  method: "post",
  path: "/v1/webhook-endpoints/{endpoint_id}/rotate-secret",
  tags: ["Webhooks"],
  summary: "Rotate an endpoint's signing secret",
  description: withRefusedReplayNote(
    "Returns the new secret. For `grace_period_seconds` (default 24 h) deliveries carry two signatures, one per secret, so receivers can switch without dropping events.",
  ),
  ...scoped("webhooks:write", { replay: "refuse" }),
  request: {
    params: z.object({ endpoint_id: EndpointIdSchema }),
    body: { content: { "application/json": { schema: RotateSecretSchema } }, required: false },
  },
  responses: {
    200: {
      description: "The endpoint with its new secret",
      content: { "application/json": { schema: EndpointWithSecretSchema } },
    },
    ...errorResponses,
  },
});

export function registerRotateSecret(app: App) {
  app.openapi(route, async (c) => {
    const body = RotateSecretSchema.parse(c.req.valid("json") ?? {});
    return c.json(
      await rotateEndpointSecret({
        ctx: c.var.ctx,
        input: { endpointId: c.req.valid("param").endpoint_id, gracePeriodSeconds: body.grace_period_seconds },
      }),
      200,
    );
  });
}
