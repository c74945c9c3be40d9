/** POST /internal/jobs/{job_id}/fail: retryable failures go back to the queue; the rest error the asset. */
import type { App } from "../../app";
import { JobFailureSchema } from "../../lib/transcoder-protocol";
import { failRun } from "../../services/jobs/callbacks/fail";
import { authorize, readJson } from "./shared";

export function registerFail(app: App) {
  app.post("/internal/jobs/:job_id/fail", async (c) => {
    const call = await authorize(c);
    return c.json(await failRun(call, await readJson(c, JobFailureSchema)), 200);
  });
}
