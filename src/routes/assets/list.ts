import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { ListQuerySchema, listResponseSchema } from "../../lib/pagination";
import { listAssets } from "../../services/assets/list";
import { ASSET_STATUSES, AssetSchema } from "../../services/assets/schemas";

export const route = createRoute({
  method: "get",
  path: "/v1/assets",
  tags: ["Assets"],
  summary: "List assets",
  description: "Newest first. Filter by `status` or `external_id`.",
  ...scoped("assets:read"),
  request: {
    query: ListQuerySchema.extend({
      status: z
        .enum(ASSET_STATUSES)
        .optional()
        .openapi({ param: { name: "status", in: "query" } }),
      external_id: z
        .string()
        .max(255)
        .optional()
        .openapi({ param: { name: "external_id", in: "query" } }),
    }),
  },
  responses: {
    200: {
      description: "A page of assets",
      content: { "application/json": { schema: listResponseSchema(AssetSchema, "AssetList") } },
    },
    ...errorResponses,
  },
});

export function registerListAssets(app: App) {
  app.openapi(route, async (c) => c.json(await listAssets({ ctx: c.var.ctx, input: c.req.valid("query") }), 200));
}
