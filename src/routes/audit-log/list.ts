import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { ListQuerySchema, listResponseSchema } from "../../lib/pagination";
import { AuditEntrySchema, listAuditLog } from "../../services/audit/list";

export const route = createRoute({
  method: "get",
  path: "/v1/audit-log",
  tags: ["Audit log"],
  summary: "List audit log entries",
  description:
    "Every write: which key, what action, which resource, when. Newest first. Needs `keys:write` (the admin scope), since it reveals every key's activity.",
  ...scoped("keys:write"),
  request: {
    query: ListQuerySchema.extend({
      resource_id: z
        .string()
        .max(64)
        .optional()
        .openapi({ param: { name: "resource_id", in: "query" } }),
      action: z
        .string()
        .max(64)
        .optional()
        .openapi({ param: { name: "action", in: "query" }, example: "asset.create" }),
    }),
  },
  responses: {
    200: {
      description: "A page of audit entries",
      content: { "application/json": { schema: listResponseSchema(AuditEntrySchema, "AuditEntryList") } },
    },
    ...errorResponses,
  },
});

export function registerListAuditLog(app: App) {
  app.openapi(route, async (c) => c.json(await listAuditLog({ ctx: c.var.ctx, input: c.req.valid("query") }), 200));
}
