import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { KeyIdSchema } from "../../services/keys/schemas";
import { revokeKey } from "../../services/keys/verbs";

export const route = createRoute({
  method: "delete",
  path: "/v1/keys/{key_id}",
  tags: ["API keys"],
  summary: "Revoke an API key",
  description: "Takes effect on the next request made with it.",
  ...scoped("keys:write"),
  request: { params: z.object({ key_id: KeyIdSchema }) },
  responses: { 204: { description: "Revoked" }, ...errorResponses },
});

export function registerRevokeKey(app: App) {
  app.openapi(route, async (c) => {
    await revokeKey({ ctx: c.var.ctx, input: { keyId: c.req.valid("param").key_id } });
    return c.body(null, 204);
  });
}
