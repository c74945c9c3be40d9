/**
 * The server's jobs, in two lanes: up to `concurrency` jobs at a time do their download, probe and
 * fast path (the rest wait here, in memory), and up to `ladderConcurrency` ladders encode at once. A
 * job waiting for a ladder slot has left the fast lane, so the next upload's fast path never waits
 * behind a ladder. Accepted jobs are journaled (./job-journal.ts) until they end.
 */

import os from "node:os";
import type { JobDispatch } from "../../src/lib/transcoder-protocol.js";
import { ApiClient } from "./api-client.js";
import { createLane, createPriorityGovernor } from "./concurrency.js";
import { forgetJob, rememberJob } from "./job-journal.js";
import type { Logger } from "./log.js";
import { type JobOutcome, type RunJobOptions, ShutdownError } from "./runner.js";

export type JobRunner = (dispatch: JobDispatch, options: RunJobOptions) => Promise<JobOutcome | unknown>;

interface QueuedJob {
  key: string;
  dispatch: JobDispatch;
  controller: AbortController;
}

export interface JobQueueOptions {
  concurrency: number;
  ladderConcurrency: number;
  runner: JobRunner;
  jobOptions?: Omit<RunJobOptions, "signal" | "logger">;
  journal?: string;
  log: Logger;
}

export function createJobQueue(options: JobQueueOptions) {
  const { concurrency, runner, journal, log } = options;
  const ladderLane = createLane(options.ladderConcurrency);
  const priority = createPriorityGovernor((pid, nice) => os.setPriority(pid, nice));
  const running = new Map<string, QueuedJob>();
  const queue: QueuedJob[] = [];
  const finished: Promise<unknown>[] = [];
  let inFastLane = 0;
  let closing = false;

  const pump = () => {
    while (!closing && inFastLane < concurrency && queue.length > 0) {
      const job = queue.shift() as QueuedJob;
      running.set(job.key, job);
      inFastLane++;
      let leftFastLane = false;
      const leaveFastLane = () => {
        if (leftFastLane) return;
        leftFastLane = true;
        inFastLane--;
        pump();
      };
      const done = Promise.resolve()
        .then(() =>
          runner(job.dispatch, {
            ...options.jobOptions,
            signal: job.controller.signal,
            logger: log,
            ladderLane,
            priority,
            onFastPhaseDone: leaveFastLane,
          }),
        )
        .catch((err) =>
          log.error("job.crashed", { job_id: job.dispatch.job_id, attempt: job.dispatch.attempt, error: err }),
        )
        .finally(async () => {
          running.delete(job.key);
          finished.splice(finished.indexOf(done), 1);
          if (journal) await forgetJob(journal, job.key);
          leaveFastLane();
        });
      finished.push(done);
    }
  };

  return {
    /** Queues the dispatch unless this job attempt is already here; says which. */
    async accept(dispatch: JobDispatch): Promise<{ duplicate: boolean; state: "running" | "queued" }> {
      const key = `${dispatch.job_id}#${dispatch.attempt}`;
      const known = running.has(key) || queue.some((j) => j.key === key);
      if (!known) {
        if (journal) await rememberJob(journal, key, dispatch);
        queue.push({ key, dispatch, controller: new AbortController() });
        log.info("job.accepted", {
          job_id: dispatch.job_id,
          asset_id: dispatch.asset_id,
          attempt: dispatch.attempt,
          correlation_id: dispatch.correlation_id ?? null,
          queued: queue.length,
          running: running.size,
        });
        pump();
      } else {
        log.info("job.duplicate", { job_id: dispatch.job_id, attempt: dispatch.attempt });
      }
      return { duplicate: known, state: running.has(key) ? "running" : "queued" };
    },

    stats: () => ({
      running: running.size,
      queued: queue.length,
      concurrency,
      fast_lane: { running: inFastLane, concurrency },
      ladder_lane: ladderLane.stats(),
    }),

    /** Stops intake. Queued jobs never started: tell the API so it re-dispatches now rather than after a heartbeat timeout. */
    async dropQueued(): Promise<void> {
      closing = true;
      const dropped = queue.splice(0);
      await Promise.all(
        dropped.map(async (job) => {
          log.warn("job.dropped", { job_id: job.dispatch.job_id, attempt: job.dispatch.attempt });
          if (journal) await forgetJob(journal, job.key);
          await new ApiClient(job.dispatch, { retries: 1, retryDelayMs: 200 })
            .fail({
              code: "internal_error",
              retryable: true,
              message: "the transcoder shut down before the job started",
            })
            .catch((err) => log.error("job.fail_report_failed", { job_id: job.dispatch.job_id, error: err }));
        }),
      );
    },

    /** Settles when every running job has. */
    idle: () => Promise.allSettled([...finished]),

    abortAll(): void {
      for (const job of running.values()) job.controller.abort(new ShutdownError("the transcoder is shutting down"));
    },
  };
}

export type JobQueue = ReturnType<typeof createJobQueue>;
