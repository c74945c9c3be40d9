/**
 * Runs `fn` over items with at most `limit` in flight. After the first failure no new item
 * starts; the call settles only when the ones in flight have, then rethrows that first failure
 * (so the caller's cleanup never races work that is still running).
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let firstError: { error: unknown } | undefined;
  const worker = async () => {
    while (!firstError && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index], index);
      } catch (error) {
        firstError ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (firstError) throw firstError.error;
  return results;
}

export interface Lane {
  /** Waits for a slot (FIFO); the returned release frees it (calling it twice is harmless). */
  acquire(signal?: AbortSignal): Promise<() => void>;
  stats(): { running: number; waiting: number; concurrency: number };
}

/** A FIFO semaphore: at most `limit` holders; an aborted waiter leaves the line with the signal's reason. */
export function createLane(limit: number): Lane {
  let running = 0;
  const waiters: { grant: () => void; signal?: AbortSignal; onAbort: () => void }[] = [];
  const makeRelease = () => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      running--;
      const next = waiters.shift();
      if (next) {
        next.signal?.removeEventListener("abort", next.onAbort);
        running++;
        next.grant();
      }
    };
  };
  return {
    acquire(signal) {
      if (signal?.aborted) return Promise.reject(signal.reason);
      if (running < limit) {
        running++;
        return Promise.resolve(makeRelease());
      }
      return new Promise((resolve, reject) => {
        const waiter = {
          grant: () => resolve(makeRelease()),
          signal,
          onAbort: () => {
            waiters.splice(waiters.indexOf(waiter), 1);
            reject(signal?.reason);
          },
        };
        signal?.addEventListener("abort", waiter.onAbort, { once: true });
        waiters.push(waiter);
      });
    },
    stats: () => ({ running, waiting: waiters.length, concurrency: limit }),
  };
}

/**
 * Who gets the CPU: ladders run niced (below fast paths, uploads and heartbeats) only while some job is
 * in its fast phase, and at normal priority otherwise — a ladder niced for its whole run loses the CPU
 * to everything else on a shared machine and ends well behind the same ffmpeg command run bare.
 */
export interface PriorityGovernor {
  /** A fast phase began; the returned function ends it (calling it twice is harmless). */
  urgent(): () => void;
  /** A ladder process (its nice value while urgent work runs) to govern until the returned function is called. */
  ladder(pid: number, niceness: number): () => void;
  /**
   * Bulk transfers (a source's bytes past what its first segment needs, segments after a rendition's first)
   * wait here while any fast phase runs, so the bytes that make an upload playable move first. Resolves when
   * no fast phase runs (true), or after `maxWaitMs` or when `signal` aborts (false): a bulk transfer is late,
   * never starved.
   */
  calm(maxWaitMs: number, signal?: AbortSignal): Promise<boolean>;
}

/** The longest a bulk transfer waits for the fast phases to end before it goes ahead anyway. */
export const BULK_MAX_WAIT_MS = 5_000;

export function createPriorityGovernor(setPriority: (pid: number, nice: number) => void): PriorityGovernor {
  let urgent = 0;
  const ladders = new Map<number, number>();
  const calmWaiters = new Set<() => void>();
  const apply = () => {
    for (const [pid, niceness] of ladders) {
      try {
        setPriority(pid, urgent > 0 ? niceness : 0);
      } catch {
        // Gone, or not allowed to raise priority again (no CAP_SYS_NICE): it stays where it is.
      }
    }
  };
  const governor: PriorityGovernor = {
    urgent() {
      urgent++;
      apply();
      let ended = false;
      return () => {
        if (ended) return;
        ended = true;
        urgent--;
        apply();
        if (urgent === 0) for (const wake of [...calmWaiters]) wake();
      };
    },
    ladder(pid, niceness) {
      ladders.set(pid, niceness);
      apply();
      return () => {
        ladders.delete(pid);
      };
    },
    calm(maxWaitMs, signal) {
      if (urgent === 0) return Promise.resolve(true);
      if (signal?.aborted) return Promise.resolve(false);
      return new Promise<boolean>((resolve) => {
        const settle = (calmed: boolean) => {
          calmWaiters.delete(onCalm);
          clearTimeout(timer);
          signal?.removeEventListener("abort", onGiveUp);
          resolve(calmed);
        };
        const onCalm = () => settle(true);
        const onGiveUp = () => settle(false);
        const timer = setTimeout(onGiveUp, maxWaitMs);
        signal?.addEventListener("abort", onGiveUp, { once: true });
        calmWaiters.add(onCalm);
      });
    },
  };
  return governor;
}
