/** tus 1.0 resumable uploads. */
import type { App } from "../../app";

export function registerTusRoutes(_app: App) {}
