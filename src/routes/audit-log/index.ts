/** The audit log. */
import type { App } from "../../app";
import { registerListAuditLog } from "./list";

export function registerAuditLogRoutes(app: App) {
  registerListAuditLog(app);
}
