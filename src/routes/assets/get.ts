import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { getAssetView } from "../../services/assets/load";
import { AssetIdSchema, AssetSchema } from "../../services/assets/schemas";

export const route = createRoute({
  method: "get",
  path: "/v1/assets/{asset_id}",
  tags: ["Assets"],
  summary: "Retrieve an asset",
  description: "Status, progress while processing, media facts, renditions and playback IDs.",
  ...scoped("assets:read"),
  request: { params: z.object({ asset_id: AssetIdSchema }) },
  responses: {
    200: { description: "The asset", content: { "application/json": { schema: AssetSchema } } },
    ...errorResponses,
  },
});

export function registerGetAsset(app: App) {
  app.openapi(route, async (c) => c.json(await getAssetView(c.var.ctx, c.req.valid("param").asset_id), 200));
}
