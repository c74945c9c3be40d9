/** POST /internal/jobs/{job_id}/publish: phase `fast` (playable now) or `complete` (ladder landed). */
import type { App } from "../../app";
import { JobPublishSchema } from "../../lib/transcoder-protocol";
import { publishRun } from "../../services/jobs/callbacks/publish";
import { authorize, readJson } from "./shared";

export function registerPublish(app: App) {
  app.post("/internal/jobs/:job_id/publish", async (c) => {
    const call = await authorize(c);
    return c.json(await publishRun(call, await readJson(c, JobPublishSchema)), 200);
  });
}
