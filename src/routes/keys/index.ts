import type { App } from "../../app";
import { registerCreateKey } from "./create";
import { registerRevokeKey } from "./delete";
import { registerListKeys } from "./list";
import { registerGetSelfKey } from "./self";

export function registerKeyRoutes(app: App) {
  registerCreateKey(app);
  registerListKeys(app);
  registerGetSelfKey(app);
  registerRevokeKey(app);
}
