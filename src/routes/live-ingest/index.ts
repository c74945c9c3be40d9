import type { App } from "../../app";
import { registerLiveIngest } from "./put";

export function registerLiveIngestRoutes(app: App) {
  registerLiveIngest(app);
}
