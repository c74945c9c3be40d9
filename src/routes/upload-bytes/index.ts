/** One-shot PUT of a file to an upload's one-time URL. */
import type { App } from "../../app";

export function registerUploadByteRoutes(_app: App) {}
