/** The audit log. */
import type { App } from "../../app";

export function registerAuditLogRoutes(_app: App) {}
