import { createRoute, z } from "@hono/zod-openapi";
import { type App, scoped } from "../../app";
import { errorResponses } from "../../lib/errors";
import { reprocessAsset } from "../../services/assets/reprocess";
import { AssetIdSchema, AssetSchema } from "../../services/assets/schemas";

export const route = createRoute({
  method: "post",
  path: "/v1/assets/{asset_id}/reprocess",
  tags: ["Assets"],
  summary: "Reprocess an errored asset",
  description:
    "Runs the pipeline again from the asset's stored source: a new job (attempts counted afresh), the asset " +
    "back to `queued`, then the usual `asset.processing` / `asset.ready` events. Only for `errored` assets " +
    "(`409 invalid_state` otherwise, including while a job is live); `410 gone` when the source is no longer stored.",
  ...scoped("assets:write"),
  request: { params: z.object({ asset_id: AssetIdSchema }) },
  responses: {
    202: {
      description: "Reprocessing queued; the asset as it is now",
      content: { "application/json": { schema: AssetSchema } },
    },
    ...errorResponses,
  },
});

export function registerReprocessAsset(app: App) {
  app.openapi(route, async (c) => {
    const { asset } = await reprocessAsset({ ctx: c.var.ctx, input: { assetId: c.req.valid("param").asset_id } });
    return c.json(asset, 202);
  });
}
