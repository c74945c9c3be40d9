/** Webhook endpoints, deliveries, retries and replay. */
import type { App } from "../../app";

export function registerWebhookRoutes(_app: App) {}
