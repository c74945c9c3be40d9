import { createRoute } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { createLiveStream } from "../../services/live-streams/create";
import { CreateLiveStreamSchema, LiveStreamSchema } from "../../services/live-streams/schemas";

export const route = createRoute({
  method: "post",
  path: "/v1/live-streams",
  tags: ["Live streams"],
  summary: "Create a live stream",
  description:
    "Creates an `idle` live stream with its stream key (shown once) and `ingest.hls_url`, the URL to give ffmpeg " +
    "(`-f hls -method PUT`). With `playback_policy`, a playback ID is created too.",
  ...scoped("live:write"),
  request: { body: { content: { "application/json": { schema: CreateLiveStreamSchema } }, required: true } },
  responses: {
    201: { description: "The new live stream", content: { "application/json": { schema: LiveStreamSchema } } },
    ...errorResponses,
  },
});

export function registerCreateLiveStream(app: App) {
  app.openapi(route, async (c) => c.json(await createLiveStream({ ctx: c.var.ctx, input: c.req.valid("json") }), 201));
}
