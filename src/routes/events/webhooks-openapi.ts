/**
 * The OpenAPI document's top-level `webhooks` (3.1): one entry per event type, each the request a
 * webhook endpoint receives — the event envelope with `data` typed as the resource its `GET` returns
 * (services/events/catalog.ts), signed with Standard Webhooks headers (src/webhooks/signer.ts).
 */
import { z } from "@hono/zod-openapi";
import type { App } from "../../app";
import { EVENT_DOCS } from "../../services/events/catalog";

const SignatureHeaders = z.object({
  "webhook-id": z.string().openapi({
    description: "The event ID (`evt_…`), the same on every retry and replay of this event: dedupe on it.",
    example: "evt_0kzq3h1x2a00abcdefghjkmnpq",
  }),
  "webhook-timestamp": z.string().openapi({
    description: "Unix seconds when this attempt was signed. Refuse values far from your clock (replays).",
    example: "1764540000",
  }),
  "webhook-signature": z.string().openapi({
    description:
      "Standard Webhooks signature(s): space-separated `v1,<base64 HMAC-SHA256(secret, '{webhook-id}.{webhook-timestamp}.{body}')>`, " +
      "one per live endpoint secret (two during a secret rotation's grace period). Verify with any Standard Webhooks library.",
    example: "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
  }),
});

export function registerWebhookDocs(app: App) {
  for (const doc of EVENT_DOCS) {
    app.openAPIRegistry.registerWebhook({
      method: "post",
      path: doc.type,
      operationId: doc.operationId,
      tags: ["Events"],
      summary: doc.summary,
      description: doc.description,
      security: [],
      request: {
        headers: SignatureHeaders,
        body: { required: true, content: { "application/json": { schema: doc.schema } } },
      },
      responses: {
        200: {
          description:
            "Any 2xx acknowledges the event. Anything else, a redirect or no answer in time is retried with backoff, then marked failed.",
        },
      },
    });
  }
}
