import type { App } from "../../app";
import { registerCreateUpload } from "./create";
import { registerCancelUpload } from "./delete";
import { registerGetUpload } from "./get";
import { registerListUploads } from "./list";

export function registerUploadRoutes(app: App) {
  registerCreateUpload(app);
  registerListUploads(app);
  registerGetUpload(app);
  registerCancelUpload(app);
}
