/**
 * Queue entry: routes each batch to its consumer by queue name. Every consumer acks or retries each
 * message explicitly (delivery is at-least-once; consumers are idempotent).
 */
import { cachedApiConfigProblems } from "../lib/config";
import { log } from "../lib/log";

export type QueueHandler = (batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext) => Promise<void>;

const MISCONFIGURED_RETRY_S = 600;

/**
 * Hands a batch to its consumer (src/registry.ts lists them by queue-name suffix, so environment-prefixed
 * queue names still route).
 */
export async function routeQueue(
  handlers: Record<string, QueueHandler>,
  batch: MessageBatch<unknown>,
  env: Env,
  ctx: ExecutionContext,
): Promise<void> {
  // Longest suffix first, so "transcode-jobs-dlq" wins over "transcode-jobs".
  const suffix = Object.keys(handlers)
    .sort((a, b) => b.length - a.length)
    .find((s) => batch.queue.endsWith(s));
  if (!suffix) {
    log.error("queue_unrouted", { queue: batch.queue, messages: batch.messages.length });
    batch.retryAll({ delaySeconds: 60 });
    return;
  }
  // A misconfigured deployment dispatches nothing (src/lib/config.ts): the jobs wait for the fix rather than
  // burning their attempts against a transcoder that cannot exist.
  const problems = suffix === "transcode-jobs" ? cachedApiConfigProblems(env) : [];
  if (problems.length > 0) {
    log.error("queue_held_misconfigured", { queue: batch.queue, messages: batch.messages.length, problems });
    batch.retryAll({ delaySeconds: MISCONFIGURED_RETRY_S });
    return;
  }
  await handlers[suffix](batch, env, ctx);
}
