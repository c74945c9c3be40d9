import { createRoute } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { ListQuerySchema, listResponseSchema } from "../../lib/pagination";
import { ApiKeySchema } from "../../services/keys/schemas";
import { listKeys } from "../../services/keys/verbs";

export const route = createRoute({
  method: "get",
  path: "/v1/keys",
  tags: ["API keys"],
  summary: "List API keys",
  ...scoped("keys:write"),
  request: { query: ListQuerySchema },
  responses: {
    200: {
      description: "A page of keys (never their secrets)",
      content: { "application/json": { schema: listResponseSchema(ApiKeySchema, "ApiKeyList") } },
    },
    ...errorResponses,
  },
});

export function registerListKeys(app: App) {
  app.openapi(route, async (c) => c.json(await listKeys({ ctx: c.var.ctx, input: c.req.valid("query") }), 200));
}
