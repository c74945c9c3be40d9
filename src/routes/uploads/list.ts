import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { ListQuerySchema, listResponseSchema } from "../../lib/pagination";
import { UploadSchema } from "../../services/uploads/schemas";
import { listUploads } from "../../services/uploads/verbs";

export const route = createRoute({
  method: "get",
  path: "/v1/uploads",
  tags: ["Uploads"],
  summary: "List uploads",
  ...scoped("assets:read"),
  request: {
    query: ListQuerySchema.extend({
      status: z
        .enum(["waiting", "uploading", "completed", "expired", "cancelled", "errored"])
        .optional()
        .openapi({ param: { name: "status", in: "query" } }),
    }),
  },
  responses: {
    200: {
      description: "A page of uploads",
      content: { "application/json": { schema: listResponseSchema(UploadSchema, "UploadList") } },
    },
    ...errorResponses,
  },
});

export function registerListUploads(app: App) {
  app.openapi(route, async (c) => c.json(await listUploads({ ctx: c.var.ctx, input: c.req.valid("query") }), 200));
}
