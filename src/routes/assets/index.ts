import type { App } from "../../app";
import { registerCreateAsset } from "./create";
import { registerDeleteAsset } from "./delete";
import { registerGetAsset } from "./get";
import { registerListAssets } from "./list";
import { registerReprocessAsset } from "./reprocess";
import { registerUpdateAsset } from "./update";

export function registerAssetRoutes(app: App) {
  registerCreateAsset(app);
  registerListAssets(app);
  registerGetAsset(app);
  registerUpdateAsset(app);
  registerDeleteAsset(app);
  registerReprocessAsset(app);
}
