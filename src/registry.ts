/**
 * Everything the worker runs that is not an HTTP request, listed in one place: the queue consumers (by
 * queue-name suffix, so environment-prefixed queue names still route) and the cron sweeps. Adding a
 * consumer or a sweep means adding a line here; nothing registers itself by being imported.
 */

import type { Sweep } from "./cron";
import type { QueueHandler } from "./queues";
import { reapJobs } from "./services/jobs/reaper";
import { transcodeConsumer, transcodeDlqConsumer } from "./services/jobs/transcode-consumer";
import { runPendingDeletions } from "./services/media/pending-deletions";
import { expireUploads } from "./services/uploads/expire";
import { handleWebhookBatch, handleWebhookDlqBatch } from "./services/webhooks/deliver";
import { sweepIdempotencyRecords, sweepLostDeliveries, sweepOutbox } from "./services/webhooks/sweep";

export const queueConsumers: Record<string, QueueHandler> = {
  "transcode-jobs": transcodeConsumer(),
  "transcode-jobs-dlq": transcodeDlqConsumer,
  "webhook-deliveries": handleWebhookBatch,
  "webhook-deliveries-dlq": (batch, env) => handleWebhookDlqBatch(batch, env),
};

/** The cron (every minute) runs each of these; each is independent and idempotent. */
export const sweeps: Record<string, Sweep> = {
  "media.pending_deletions": (env) => runPendingDeletions(env),
  "pipeline-reaper": (env, ctx) => reapJobs(env, (p) => ctx.waitUntil(p)),
  "uploads.expire": expireUploads,
  "events.outbox": (env) => sweepOutbox(env),
  "webhooks.lost_deliveries": (env) => sweepLostDeliveries(env),
  "idempotency.gc": (env) => sweepIdempotencyRecords(env),
};
