/**
 * Messages on the webhook-deliveries queue. `event` fans an event out to matching endpoints;
 * `delivery` makes one attempt. `expected_attempts` is the delivery's attempt count when the message
 * was sent: the consumer claims the attempt only if the row still has that count, so duplicate or
 * stale messages (sweep re-sends, manual retries racing a scheduled one) never double-send.
 */
import { z } from "zod";

export const WebhookMessageSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("event"), event_id: z.string() }),
  z.object({ kind: z.literal("delivery"), delivery_id: z.string(), expected_attempts: z.number().int().optional() }),
]);
export type WebhookMessage = z.infer<typeof WebhookMessageSchema>;

export interface DeliveryToSend {
  deliveryId: string;
  expectedAttempts: number;
  delaySeconds?: number;
}

/** Sends delivery messages, 100 per batch (the Queues limit). */
export async function enqueueDeliveries(env: Env, items: DeliveryToSend[]): Promise<void> {
  for (let i = 0; i < items.length; i += 100) {
    await env.WEBHOOK_QUEUE.sendBatch(
      items.slice(i, i + 100).map((d) => ({
        body: { kind: "delivery", delivery_id: d.deliveryId, expected_attempts: d.expectedAttempts },
        ...(d.delaySeconds && d.delaySeconds > 0 ? { delaySeconds: d.delaySeconds } : {}),
      })),
    );
  }
}
