/**
 * A folder where each accepted job is written down until it ends. A process that died mid-job leaves
 * its entries behind; the next start reports each as a retryable failure, so the API re-dispatches it
 * at once instead of waiting for the heartbeat reaper.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { type JobDispatch, JobDispatchSchema } from "../../src/lib/transcoder-protocol.js";
import { ApiClient } from "./api-client.js";
import type { Logger } from "./log.js";

function journalFile(dir: string, key: string): string {
  return path.join(dir, `${encodeURIComponent(key)}.json`);
}

export async function rememberJob(dir: string, key: string, dispatch: JobDispatch): Promise<void> {
  await mkdir(dir, { recursive: true });
  const file = journalFile(dir, key);
  await writeFile(`${file}.tmp`, JSON.stringify(dispatch), { mode: 0o600 });
  await rename(`${file}.tmp`, file);
}

export async function forgetJob(dir: string, key: string): Promise<void> {
  await rm(journalFile(dir, key), { force: true });
}

/**
 * Jobs a previous process accepted and never finished (it was killed): each is failed as retryable under
 * its own attempt, which the API turns into a new attempt right away. A job that did finish, or that the
 * API already moved on from, answers with an error that is only logged (the attempt check fences it off).
 */
export async function recoverJournal(dir: string, log: Logger): Promise<void> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith(".json"));
  } catch {
    return;
  }
  await Promise.all(
    names.map(async (name) => {
      const file = path.join(dir, name);
      try {
        const parsed = JobDispatchSchema.safeParse(JSON.parse(await readFile(file, "utf8")));
        if (!parsed.success) return;
        const dispatch = parsed.data;
        log.warn("job.orphaned", { job_id: dispatch.job_id, attempt: dispatch.attempt });
        await new ApiClient(dispatch, { retries: 2, retryDelayMs: 500 }).fail({
          code: "internal_error",
          retryable: true,
          message: "the transcoder restarted while running this job",
        });
      } catch (err) {
        log.warn("job.orphan_report_failed", { file: name, error: err });
      } finally {
        await rm(file, { force: true });
      }
    }),
  );
}
