/** Webhook endpoint and delivery shapes at the API boundary. */
import { z } from "@hono/zod-openapi";
import { idPattern } from "../../lib/ids";
import { EventTypeFilterSchema } from "../events/envelope";

export const EndpointIdSchema = z
  .string()
  .regex(idPattern("webhookEndpoint"), "must be a webhook endpoint ID (we_…)")
  .openapi({ param: { name: "endpoint_id", in: "path" }, example: "we_0kzq3h1x2a00abcdefghjkmnpq" });

export const DeliveryIdSchema = z
  .string()
  .regex(idPattern("delivery"), "must be a webhook delivery ID (dl_…)")
  .openapi({ param: { name: "delivery_id", in: "path" }, example: "dl_0kzq3h1x2a00abcdefghjkmnpq" });

const UrlSchema = z.string().min(1).max(2048).openapi({
  description:
    "Where events are POSTed. https is required in production; private, loopback and link-local addresses are refused.",
  example: "https://example.com/webhooks/keyframe",
});
const EventTypesSchema = z
  .array(EventTypeFilterSchema)
  .max(50)
  .openapi({ description: "Event types to deliver (`asset.ready`, or `asset.*`). Empty or omitted: all." });
const DescriptionSchema = z.string().max(500).nullable();

export const CreateEndpointSchema = z
  .object({
    url: UrlSchema,
    event_types: EventTypesSchema.optional(),
    enabled: z.boolean().optional(),
    description: DescriptionSchema.optional(),
  })
  .strict()
  .openapi("CreateWebhookEndpointRequest");
export type CreateEndpointInput = z.infer<typeof CreateEndpointSchema>;

export const UpdateEndpointSchema = z
  .object({
    url: UrlSchema.optional(),
    event_types: EventTypesSchema.optional(),
    enabled: z.boolean().optional().openapi({ description: "Re-enabling clears `disabled_reason`." }),
    description: DescriptionSchema.optional(),
  })
  .strict()
  .refine((v) => Object.keys(v).length > 0, "send at least one field to update")
  .openapi("UpdateWebhookEndpointRequest");
export type UpdateEndpointInput = z.infer<typeof UpdateEndpointSchema>;

export const RotateSecretSchema = z
  .object({
    grace_period_seconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 3600)
      .default(24 * 3600)
      .openapi({ description: "How long the old secret keeps signing alongside the new one (default 24 h)." }),
  })
  .strict()
  .openapi("RotateWebhookSecretRequest");

export const EndpointSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    description: z.string().nullable(),
    event_types: z.array(z.string()),
    enabled: z.boolean(),
    disabled_reason: z.string().nullable(),
    previous_secret_expires_at: z
      .string()
      .nullable()
      .openapi({ description: "While set and in the future, the previous secret also signs deliveries." }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("WebhookEndpoint");
export type Endpoint = z.infer<typeof EndpointSchema>;

export const EndpointWithSecretSchema = EndpointSchema.extend({
  secret: z.string().openapi({ description: "`whsec_…`: shown only at creation and rotation." }),
}).openapi("WebhookEndpointWithSecret");

export const AttemptSchema = z
  .object({
    attempt: z.number().int(),
    status_code: z.number().int().nullable(),
    latency_ms: z.number().int().nullable(),
    response_excerpt: z.string().nullable().openapi({ description: "At most the first 1 KB of the response." }),
    error: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi("WebhookAttempt");

export const DELIVERY_STATUSES = ["pending", "succeeded", "retrying", "failed"] as const;

export const DeliverySchema = z
  .object({
    id: z.string(),
    endpoint_id: z.string(),
    event_id: z.string(),
    event_type: z.string(),
    status: z.enum(DELIVERY_STATUSES),
    attempts: z.number().int(),
    next_attempt_at: z.string().nullable(),
    last_status_code: z.number().int().nullable(),
    last_error: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    succeeded_at: z.string().nullable(),
    attempt_log: z.array(AttemptSchema),
  })
  .openapi("WebhookDelivery");
export type Delivery = z.infer<typeof DeliverySchema>;

export const RetryDeliverySchema = z
  .object({
    force: z.boolean().default(false).openapi({
      description:
        "Re-send a delivery that already succeeded (same `webhook-id`, so receivers can dedupe). Without it, that is 409 invalid_state.",
    }),
  })
  .strict()
  .openapi("RetryWebhookDeliveryRequest");

export const ReplaySchema = z
  .object({
    since: z
      .string()
      .datetime({ offset: true })
      .openapi({ description: "Replay deliveries created at or after this time." }),
    status: z.enum(["failed"]).default("failed"),
  })
  .strict()
  .openapi("ReplayWebhookDeliveriesRequest");

export const ReplayResultSchema = z
  .object({
    replayed: z.number().int(),
    has_more: z.boolean().openapi({ description: "More matched than one call replays (500); call again." }),
  })
  .openapi("ReplayWebhookDeliveriesResult");
