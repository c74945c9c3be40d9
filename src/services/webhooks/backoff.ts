/**
 * The webhook retry schedule: how long to wait before each attempt of a delivery chain, with jitter,
 * and how a receiver's `Retry-After` stretches it. Queues cap a message delay at 12 h, which bounds
 * every wait here.
 */

/** Seconds before attempt n (index 0 = the first attempt): immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. */
export const DEFAULT_RETRY_SCHEDULE: readonly number[] = [0, 5, 300, 1800, 7200, 18000, 36000, 36000];
export const MAX_QUEUE_DELAY_SECONDS = 43_200;
export const DEFAULT_TIMEOUT_MS = 15_000;

/** `WEBHOOK_RETRY_SCHEDULE` ("0,5,300") overrides the default; anything malformed falls back to it. */
export function retrySchedule(env: Pick<Env, "WEBHOOK_RETRY_SCHEDULE">): readonly number[] {
  const raw = env.WEBHOOK_RETRY_SCHEDULE?.trim();
  if (!raw) return DEFAULT_RETRY_SCHEDULE;
  const parts = raw.split(",").map((p) => Number(p.trim()));
  if (parts.length === 0 || parts.some((n) => !Number.isFinite(n) || n < 0)) return DEFAULT_RETRY_SCHEDULE;
  return parts.map((n) => Math.min(Math.floor(n), MAX_QUEUE_DELAY_SECONDS));
}

export function deliveryTimeoutMs(env: Pick<Env, "WEBHOOK_TIMEOUT_MS">): number {
  const n = Number(env.WEBHOOK_TIMEOUT_MS);
  return Number.isFinite(n) && n > 0 ? Math.min(n, 60_000) : DEFAULT_TIMEOUT_MS;
}

/** Up to +10 % jitter, so endpoints that failed together are not retried in lockstep. */
export function withJitter(seconds: number, random: () => number = Math.random): number {
  if (seconds <= 0) return 0;
  return Math.min(MAX_QUEUE_DELAY_SECONDS, Math.round(seconds + seconds * 0.1 * random()));
}

/** `Retry-After` as seconds from now: delta-seconds or an HTTP date; null when absent or unparseable. */
export function parseRetryAfter(value: string | null | undefined, nowMs = Date.now()): number | null {
  if (!value) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Math.min(Number(v), MAX_QUEUE_DELAY_SECONDS);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return null;
  return Math.min(Math.max(0, Math.ceil((at - nowMs) / 1000)), MAX_QUEUE_DELAY_SECONDS);
}

/**
 * The wait before the next attempt after `attemptsInChain` failed ones, or null when the schedule is
 * exhausted. A `Retry-After` is honoured as a floor: never sooner than the receiver asked, never sooner
 * than the schedule says.
 */
export function nextDelaySeconds(
  schedule: readonly number[],
  attemptsInChain: number,
  retryAfterSeconds: number | null,
  random: () => number = Math.random,
): number | null {
  if (attemptsInChain >= schedule.length) return null;
  const scheduled = withJitter(schedule[attemptsInChain], random);
  return Math.min(MAX_QUEUE_DELAY_SECONDS, Math.max(scheduled, retryAfterSeconds ?? 0));
}
