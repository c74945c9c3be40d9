/** Registers the webhook delivery consumers (main queue and its DLQ) and the outbox/retry/GC sweeps. */
import { registerSweep } from "../cron";
import { registerQueueHandler } from "../queues";
import { handleWebhookBatch, handleWebhookDlqBatch } from "./deliver";
import { sweepIdempotencyRecords, sweepLostDeliveries, sweepOutbox } from "./sweep";

registerQueueHandler("webhook-deliveries", handleWebhookBatch);
registerQueueHandler("webhook-deliveries-dlq", (batch, env) => handleWebhookDlqBatch(batch, env));
registerSweep("events.outbox", (env) => sweepOutbox(env));
registerSweep("webhooks.lost_deliveries", (env) => sweepLostDeliveries(env));
registerSweep("idempotency.gc", (env) => sweepIdempotencyRecords(env));
