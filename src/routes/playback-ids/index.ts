import type { App } from "../../app";
import { registerCreatePlaybackId } from "./create";
import { registerDeletePlaybackId } from "./delete";
import { registerGetPlaybackId } from "./get";
import { registerListPlaybackIds } from "./list";

export function registerPlaybackIdRoutes(app: App) {
  registerCreatePlaybackId(app);
  registerListPlaybackIds(app);
  registerGetPlaybackId(app);
  registerDeletePlaybackId(app);
}
