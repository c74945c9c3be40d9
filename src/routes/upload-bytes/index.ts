/** One-shot PUT of a file to an upload's one-time URL. */
import type { App } from "../../app";
import { registerUploadByteDocs } from "./openapi";
import { registerPutUpload } from "./put";

export function registerUploadByteRoutes(app: App) {
  registerPutUpload(app);
  registerUploadByteDocs(app);
}
