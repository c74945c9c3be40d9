import type { App } from "../../app";
import { registerCreateKey } from "./create";
import { registerRevokeKey } from "./delete";
import { registerListKeys } from "./list";

export function registerKeyRoutes(app: App) {
  registerCreateKey(app);
  registerListKeys(app);
  registerRevokeKey(app);
}
