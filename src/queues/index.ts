/**
 * Queue entry: routes each batch to its consumer by queue name. Every consumer acks or retries each
 * message explicitly (delivery is at-least-once; consumers are idempotent).
 */
import { log } from "../lib/log";

export type QueueHandler = (batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext) => Promise<void>;

const handlers: Record<string, QueueHandler> = {};

/** Consumers register by queue-name suffix so environment-prefixed queue names still route. */
export function registerQueueHandler(suffix: string, handler: QueueHandler) {
  handlers[suffix] = handler;
}

export async function queue(batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext): Promise<void> {
  // Longest suffix first, so "transcode-jobs-dlq" wins over "transcode-jobs".
  const suffix = Object.keys(handlers)
    .sort((a, b) => b.length - a.length)
    .find((s) => batch.queue.endsWith(s));
  if (!suffix) {
    log.error("queue_unrouted", { queue: batch.queue, messages: batch.messages.length });
    batch.retryAll({ delaySeconds: 60 });
    return;
  }
  await handlers[suffix](batch, env, ctx);
}
