import { createRoute } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { CreateUploadSchema, UploadSchema } from "../../services/uploads/schemas";
import { createUpload } from "../../services/uploads/verbs";

export const route = createRoute({
  method: "post",
  path: "/v1/uploads",
  tags: ["Uploads"],
  summary: "Create a direct upload",
  description:
    "Returns a one-time `url` to PUT a file to (≤ 100 MB) and a `tus_url` for resumable uploads. Hand the URL to the browser; your API key never leaves your backend.",
  ...scoped("uploads:write"),
  request: { body: { content: { "application/json": { schema: CreateUploadSchema } }, required: true } },
  responses: {
    201: { description: "The new upload", content: { "application/json": { schema: UploadSchema } } },
    ...errorResponses,
  },
});

export function registerCreateUpload(app: App) {
  app.openapi(route, async (c) => c.json(await createUpload({ ctx: c.var.ctx, input: c.req.valid("json") }), 201));
}
