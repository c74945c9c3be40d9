import { createRoute } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { createAsset } from "../../services/assets/create";
import { AssetSchema, CreateAssetSchema } from "../../services/assets/schemas";

export const route = createRoute({
  method: "post",
  path: "/v1/assets",
  tags: ["Assets"],
  summary: "Create an asset",
  description:
    "Creates an asset in `waiting`. With `input.url`, the file is fetched and processed off the request path. " +
    "With `input.asset_id` (and `start_time`/`end_time`), the new asset is a frame-accurate clip of that ready asset " +
    "(`source_asset_id` on the result); a source that is not ready is 409 `invalid_state`, a range outside it 400. " +
    "With `playback_policy`, a playback ID is created too.",
  ...scoped("assets:write"),
  request: { body: { content: { "application/json": { schema: CreateAssetSchema } }, required: true } },
  responses: {
    201: { description: "The new asset", content: { "application/json": { schema: AssetSchema } } },
    ...errorResponses,
  },
});

export function registerCreateAsset(app: App) {
  app.openapi(route, async (c) => {
    const asset = await createAsset({ ctx: c.var.ctx, input: c.req.valid("json") });
    return c.json(asset, 201);
  });
}
