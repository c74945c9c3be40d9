import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../app";
import { errorResponses } from "../../lib/errors";
import { ApiKeySchema } from "../../services/keys/schemas";
import { getCallerKey } from "../../services/keys/verbs";

/**
 * Who am I: any valid key may read itself (never its secret), so a client can decide what to offer from the
 * key's scopes without probing every endpoint. Deliberately scope-free: `security` names the API key with no
 * scope, and the shared auth test lists it next to health as the one /v1 operation without `x-keyframe-scope`.
 */
export const route = createRoute({
  method: "get",
  path: "/v1/keys/self",
  tags: ["API keys"],
  summary: "Describe the calling API key",
  description: "The key that signed this request: its ID, name, environment and scopes. Needs no particular scope.",
  security: [{ ApiKey: [] }],
  responses: {
    200: {
      description: "The calling key (never its secret)",
      content: { "application/json": { schema: ApiKeySchema } },
    },
    ...errorResponses,
  },
});

export function registerGetSelfKey(app: App) {
  app.openapi(route, async (c) => c.json(await getCallerKey({ ctx: c.var.ctx, input: {} }), 200));
}
