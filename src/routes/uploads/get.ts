import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { UploadIdSchema, UploadSchema } from "../../services/uploads/schemas";
import { getUpload } from "../../services/uploads/verbs";

export const route = createRoute({
  method: "get",
  path: "/v1/uploads/{upload_id}",
  tags: ["Uploads"],
  summary: "Retrieve an upload",
  description: "Status, `bytes_received` / `size` progress, and the asset it created.",
  ...scoped("assets:read"),
  request: { params: z.object({ upload_id: UploadIdSchema }) },
  responses: {
    200: { description: "The upload", content: { "application/json": { schema: UploadSchema } } },
    ...errorResponses,
  },
});

export function registerGetUpload(app: App) {
  app.openapi(route, async (c) =>
    c.json(await getUpload({ ctx: c.var.ctx, input: { uploadId: c.req.valid("param").upload_id } }), 200),
  );
}
