/** Transcoder callbacks (job-scoped token): source, outputs, progress, publish, fail. */
import type { App } from "../../app";

export function registerInternalRoutes(_app: App) {}
