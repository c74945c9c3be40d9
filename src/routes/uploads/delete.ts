import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { UploadIdSchema } from "../../services/uploads/schemas";
import { cancelUpload } from "../../services/uploads/verbs";

export const route = createRoute({
  method: "delete",
  path: "/v1/uploads/{upload_id}",
  tags: ["Uploads"],
  summary: "Cancel an upload",
  description: "Only uploads still `waiting` or `uploading` can be cancelled; the URL stops working at once.",
  ...scoped("uploads:write"),
  request: { params: z.object({ upload_id: UploadIdSchema }) },
  responses: { 204: { description: "Cancelled" }, ...errorResponses },
});

export function registerCancelUpload(app: App) {
  app.openapi(route, async (c) => {
    await cancelUpload({ ctx: c.var.ctx, input: { uploadId: c.req.valid("param").upload_id } });
    return c.body(null, 204);
  });
}
