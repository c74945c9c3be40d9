/** Webhook endpoints, deliveries, retries and replay. */
import type { App } from "../../app";
import { registerCreateEndpoint } from "./create-endpoint";
import { registerDeleteEndpoint } from "./delete-endpoint";
import { registerGetEndpoint } from "./get-endpoint";
import { registerListDeliveries } from "./list-deliveries";
import { registerListEndpoints } from "./list-endpoints";
import { registerReplay } from "./replay";
import { registerRetryDelivery } from "./retry-delivery";
import { registerRotateSecret } from "./rotate-secret";
import { registerUpdateEndpoint } from "./update-endpoint";

export function registerWebhookRoutes(app: App) {
  registerCreateEndpoint(app);
  registerListEndpoints(app);
  registerGetEndpoint(app);
  registerUpdateEndpoint(app);
  registerDeleteEndpoint(app);
  registerRotateSecret(app);
  registerListDeliveries(app);
  registerRetryDelivery(app);
  registerReplay(app);
}
