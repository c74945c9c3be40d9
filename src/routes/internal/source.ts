/** GET /internal/jobs/{job_id}/source: the job's source bytes, with single-range support. */
import type { App } from "../../app";
import { readSource } from "../../services/jobs/callbacks/source";
import { authorize } from "./shared";

export function registerSource(app: App) {
  app.get("/internal/jobs/:job_id/source", async (c) => readSource(await authorize(c), c.req.header("range")));
}
