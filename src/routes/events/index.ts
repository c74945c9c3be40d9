/** Event log polling and per-object timelines. */
import type { App } from "../../app";
import { registerAssetTimeline } from "./asset-timeline";
import { registerGetEvent } from "./get";
import { registerListEvents } from "./list";
import { registerUploadTimeline } from "./upload-timeline";
import { registerWebhookDocs } from "./webhooks-openapi";

export function registerEventRoutes(app: App) {
  registerListEvents(app);
  registerGetEvent(app);
  registerAssetTimeline(app);
  registerUploadTimeline(app);
  registerWebhookDocs(app);
}
