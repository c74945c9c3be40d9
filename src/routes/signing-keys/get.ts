import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { SigningKeyIdSchema, SigningKeySchema } from "../../services/signing-keys/schemas";
import { getSigningKey } from "../../services/signing-keys/verbs";

export const route = createRoute({
  method: "get",
  path: "/v1/signing-keys/{signing_key_id}",
  tags: ["Signing keys"],
  summary: "Retrieve a signing key",
  ...scoped("playback:write"),
  request: { params: z.object({ signing_key_id: SigningKeyIdSchema }) },
  responses: {
    200: { description: "The key's public part", content: { "application/json": { schema: SigningKeySchema } } },
    ...errorResponses,
  },
});

export function registerGetSigningKey(app: App) {
  app.openapi(route, async (c) =>
    c.json(await getSigningKey({ ctx: c.var.ctx, input: { id: c.req.valid("param").signing_key_id } }), 200),
  );
}
