/** The retry schedule, jitter and Retry-After parsing (pure functions of the delivery consumer). */
import { describe, expect, it } from "vitest";
import {
  DEFAULT_RETRY_SCHEDULE,
  MAX_QUEUE_DELAY_SECONDS,
  nextDelaySeconds,
  parseRetryAfter,
  retrySchedule,
} from "../../src/services/webhooks/backoff";

describe("webhook backoff", () => {
  it("follows immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h with up to 10 % jitter, then gives up", () => {
    expect(DEFAULT_RETRY_SCHEDULE).toEqual([0, 5, 300, 1800, 7200, 18000, 36000, 36000]);
    const lo = () => 0;
    const hi = () => 0.999;
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => nextDelaySeconds(DEFAULT_RETRY_SCHEDULE, n, null, lo))).toEqual([
      5, 300, 1800, 7200, 18000, 36000, 36000,
    ]);
    expect(nextDelaySeconds(DEFAULT_RETRY_SCHEDULE, 3, null, hi)).toBe(1980);
    expect(nextDelaySeconds(DEFAULT_RETRY_SCHEDULE, 8, null)).toBeNull();
    for (let n = 1; n < 8; n++)
      expect(nextDelaySeconds(DEFAULT_RETRY_SCHEDULE, n, null, hi)).toBeLessThanOrEqual(MAX_QUEUE_DELAY_SECONDS);
  });

  it("honours Retry-After as a floor, in seconds or as an HTTP date, capped at 12 h", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("120", now)).toBe(120);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:01:00 GMT", now)).toBe(60);
    expect(parseRetryAfter("Wed, 31 Dec 2025 23:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("999999999", now)).toBe(MAX_QUEUE_DELAY_SECONDS);
    expect(parseRetryAfter("soon", now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
    expect(nextDelaySeconds(DEFAULT_RETRY_SCHEDULE, 1, 600, () => 0)).toBe(600);
    expect(nextDelaySeconds(DEFAULT_RETRY_SCHEDULE, 2, 10, () => 0)).toBe(300);
  });

  it("reads WEBHOOK_RETRY_SCHEDULE, falling back to the default when malformed", () => {
    expect(retrySchedule({ WEBHOOK_RETRY_SCHEDULE: "0, 1,2" })).toEqual([0, 1, 2]);
    expect(retrySchedule({ WEBHOOK_RETRY_SCHEDULE: "" })).toBe(DEFAULT_RETRY_SCHEDULE);
    expect(retrySchedule({ WEBHOOK_RETRY_SCHEDULE: "0,x" })).toBe(DEFAULT_RETRY_SCHEDULE);
    expect(retrySchedule({ WEBHOOK_RETRY_SCHEDULE: "0,99999999" })).toEqual([0, MAX_QUEUE_DELAY_SECONDS]);
  });
});
