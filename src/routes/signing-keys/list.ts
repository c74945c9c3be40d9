import { createRoute } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { ListQuerySchema, listResponseSchema } from "../../lib/pagination";
import { SigningKeySchema } from "../../services/signing-keys/schemas";
import { listSigningKeys } from "../../services/signing-keys/verbs";

export const route = createRoute({
  method: "get",
  path: "/v1/signing-keys",
  tags: ["Signing keys"],
  summary: "List signing keys",
  description: "Public parts only, newest first, revoked keys included (with `revoked_at`).",
  // Signing keys are playback security configuration: read and write both need playback:write.
  ...scoped("playback:write"),
  request: { query: ListQuerySchema },
  responses: {
    200: {
      description: "A page of signing keys",
      content: { "application/json": { schema: listResponseSchema(SigningKeySchema, "SigningKeyList") } },
    },
    ...errorResponses,
  },
});

export function registerListSigningKeys(app: App) {
  app.openapi(route, async (c) => c.json(await listSigningKeys({ ctx: c.var.ctx, input: c.req.valid("query") }), 200));
}
