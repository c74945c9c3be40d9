import type { App } from "../../app";
import { registerCreateTrack } from "./create";
import { registerDeleteTrack } from "./delete";
import { registerGetTrack } from "./get";

/** Tracks are listed in the asset's own body (`tracks`); there is no separate list operation. */
export function registerTrackRoutes(app: App) {
  registerCreateTrack(app);
  registerGetTrack(app);
  registerDeleteTrack(app);
}
