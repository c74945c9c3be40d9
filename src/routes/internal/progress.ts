/** POST /internal/jobs/{job_id}/progress: stage/percent and the heartbeat; replies whether to stop. */
import type { App } from "../../app";
import { JobProgressSchema, type ProgressReply } from "../../lib/transcoder-protocol";
import { recordProgress } from "../../services/jobs/callbacks/progress";
import { authorize, readJson } from "./shared";

export function registerProgress(app: App) {
  app.post("/internal/jobs/:job_id/progress", async (c) => {
    const call = await authorize(c);
    const reply: ProgressReply = await recordProgress(call, await readJson(c, JobProgressSchema));
    return c.json(reply, 200);
  });
}
