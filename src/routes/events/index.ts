/** Event log polling and per-object timelines. */
import type { App } from "../../app";

export function registerEventRoutes(_app: App) {}
