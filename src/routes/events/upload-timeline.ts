import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { TimelineSchema, uploadTimeline } from "../../services/events/timeline";
import { UploadIdSchema } from "../../services/uploads/schemas";

export const route = createRoute({
  method: "get",
  path: "/v1/uploads/{upload_id}/events",
  tags: ["Events"],
  summary: "An upload's timeline",
  description:
    "The upload's events and, once it created an asset, that asset's events, jobs and webhook delivery attempts, in order.",
  ...scoped("events:read"),
  request: { params: z.object({ upload_id: UploadIdSchema }) },
  responses: {
    200: { description: "The timeline", content: { "application/json": { schema: TimelineSchema } } },
    ...errorResponses,
  },
});

export function registerUploadTimeline(app: App) {
  app.openapi(route, async (c) =>
    c.json(await uploadTimeline({ ctx: c.var.ctx, input: { uploadId: c.req.valid("param").upload_id } }), 200),
  );
}
