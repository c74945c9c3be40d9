import { createRoute } from "@hono/zod-openapi";
import { type App, scoped, withRefusedReplayNote } from "../../app";
import { errorResponses } from "../../lib/errors";
import { CreatedApiKeySchema, CreateKeySchema } from "../../services/keys/schemas";
import { createKey } from "../../services/keys/verbs";

export const route = createRoute({
  method: "post",
  path: "/v1/keys",
  tags: ["API keys"],
  summary: "Create an API key",
  description: withRefusedReplayNote("The secret is returned once. A key can only grant scopes it holds."),
  ...scoped("keys:write", { replay: "refuse" }),
  request: { body: { content: { "application/json": { schema: CreateKeySchema } }, required: true } },
  responses: {
    201: {
      description: "The new key, with its secret",
      content: { "application/json": { schema: CreatedApiKeySchema } },
    },
    ...errorResponses,
  },
});

export function registerCreateKey(app: App) {
  app.openapi(route, async (c) => c.json(await createKey({ ctx: c.var.ctx, input: c.req.valid("json") }), 201));
}
