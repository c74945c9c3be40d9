import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { ListQuerySchema, listResponseSchema } from "../../lib/pagination";
import { listLiveStreams } from "../../services/live-streams/list";
import { LIVE_STATUSES, LiveStreamSchema } from "../../services/live-streams/schemas";

export const route = createRoute({
  method: "get",
  path: "/v1/live-streams",
  tags: ["Live streams"],
  summary: "List live streams",
  description: "Newest first. Filter by `status`.",
  ...scoped("live:read"),
  request: {
    query: ListQuerySchema.extend({
      status: z
        .enum(LIVE_STATUSES)
        .optional()
        .openapi({ param: { name: "status", in: "query" } }),
    }),
  },
  responses: {
    200: {
      description: "A page of live streams",
      content: { "application/json": { schema: listResponseSchema(LiveStreamSchema, "LiveStreamList") } },
    },
    ...errorResponses,
  },
});

export function registerListLiveStreams(app: App) {
  app.openapi(route, async (c) => c.json(await listLiveStreams({ ctx: c.var.ctx, input: c.req.valid("query") }), 200));
}
