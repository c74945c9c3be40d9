import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { deleteAsset } from "../../services/assets/delete";
import { AssetIdSchema } from "../../services/assets/schemas";

export const route = createRoute({
  method: "delete",
  path: "/v1/assets/{asset_id}",
  tags: ["Assets"],
  summary: "Delete an asset",
  description: "Its playback IDs stop working at once and its media is removed from storage.",
  ...scoped("assets:write"),
  request: { params: z.object({ asset_id: AssetIdSchema }) },
  responses: { 204: { description: "Deleted" }, ...errorResponses },
});

export function registerDeleteAsset(app: App) {
  app.openapi(route, async (c) => {
    await deleteAsset({ ctx: c.var.ctx, input: { assetId: c.req.valid("param").asset_id } });
    return c.body(null, 204);
  });
}
