import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { AssetIdSchema, AssetSchema, UpdateAssetSchema } from "../../services/assets/schemas";
import { updateAsset } from "../../services/assets/update";

export const route = createRoute({
  method: "patch",
  path: "/v1/assets/{asset_id}",
  tags: ["Assets"],
  summary: "Update an asset's metadata",
  ...scoped("assets:write"),
  request: {
    params: z.object({ asset_id: AssetIdSchema }),
    body: { content: { "application/json": { schema: UpdateAssetSchema } }, required: true },
  },
  responses: {
    200: { description: "The updated asset", content: { "application/json": { schema: AssetSchema } } },
    ...errorResponses,
  },
});

export function registerUpdateAsset(app: App) {
  app.openapi(route, async (c) => {
    const asset = await updateAsset({
      ctx: c.var.ctx,
      input: { assetId: c.req.valid("param").asset_id, patch: c.req.valid("json") },
    });
    return c.json(asset, 200);
  });
}
