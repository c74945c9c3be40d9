/** Signing keys and playback tokens. */
import type { App } from "../../app";

export function registerSigningKeyRoutes(_app: App) {}
