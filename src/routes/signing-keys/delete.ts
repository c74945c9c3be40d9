import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { SigningKeyIdSchema } from "../../services/signing-keys/schemas";
import { revokeSigningKey } from "../../services/signing-keys/verbs";

export const route = createRoute({
  method: "delete",
  path: "/v1/signing-keys/{signing_key_id}",
  tags: ["Signing keys"],
  summary: "Revoke a signing key",
  description: "Tokens signed with it are refused at the edge within 60 seconds. Revoking twice is a no-op.",
  ...scoped("playback:write"),
  request: { params: z.object({ signing_key_id: SigningKeyIdSchema }) },
  responses: { 204: { description: "Revoked" }, ...errorResponses },
});

export function registerRevokeSigningKey(app: App) {
  app.openapi(route, async (c) => {
    await revokeSigningKey({ ctx: c.var.ctx, input: { id: c.req.valid("param").signing_key_id } });
    return c.body(null, 204);
  });
}
