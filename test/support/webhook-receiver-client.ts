/**
 * Worker-side helpers for the Node webhook receiver (test/support/webhook-receiver.ts): configure a
 * path, read back what it received, and wait for asynchronous delivery to settle.
 */
import { env } from "cloudflare:test";
import type { ReceivedRequest, ReceiverMode } from "./webhook-receiver";

declare global {
  namespace Cloudflare {
    interface Env {
      WEBHOOK_RECEIVER_URL: string;
    }
  }
}

let n = 0;
/** A fresh receiver path name, so tests never see each other's requests. */
export function hookName(prefix = "h"): string {
  n++;
  return `${prefix}-${Date.now().toString(36)}-${n}-${Math.random().toString(36).slice(2, 8)}`;
}

export function hookUrl(name: string): string {
  return `${env.WEBHOOK_RECEIVER_URL}/hooks/${name}`;
}

export async function configureHook(
  name: string,
  cfg: { mode?: ReceiverMode; retry_after?: string | number; secrets?: string[] },
): Promise<void> {
  const res = await fetch(`${env.WEBHOOK_RECEIVER_URL}/_control/${name}`, { method: "PUT", body: JSON.stringify(cfg) });
  if (res.status !== 204) throw new Error(`receiver control failed: ${res.status}`);
}

export async function received(name: string): Promise<ReceivedRequest[]> {
  const res = await fetch(`${env.WEBHOOK_RECEIVER_URL}/_control/${name}/requests`);
  return (await res.json()) as ReceivedRequest[];
}

/** Polls `check` until it returns a truthy value (returned) or the timeout passes (throws). */
export async function waitFor<T>(
  check: () => Promise<T | null | undefined | false>,
  timeoutMs = 15_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}
