/**
 * The cron (every minute): each sweep is independent and idempotent; one failing never stops the others.
 */
import { log } from "../lib/log";

export type Sweep = (env: Env, ctx: ExecutionContext) => Promise<unknown>;

/** Runs every sweep (src/registry.ts lists them). */
export async function runSweeps(sweeps: Record<string, Sweep>, env: Env, ctx: ExecutionContext): Promise<void> {
  const results = await Promise.allSettled(
    Object.entries(sweeps).map(async ([name, sweep]) => {
      const started = Date.now();
      const result = await sweep(env, ctx);
      log.info("sweep_done", { sweep: name, ms: Date.now() - started, result });
    }),
  );
  for (const r of results) if (r.status === "rejected") log.error("sweep_failed", { error: String(r.reason) });
}
