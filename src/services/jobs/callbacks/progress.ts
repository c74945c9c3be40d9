/** POST /internal/jobs/{job_id}/progress: stage/percent and the heartbeat; replies whether to stop. */
import { and, eq, or } from "drizzle-orm";
import { schema } from "../../../db/client";
import { nowIso } from "../../../lib/time";
import type { JobProgress } from "../../../lib/transcoder-protocol";
import { d1Batch } from "../system";
import { type JobCall, requireBodyAttempt } from "./authorize";

const j = schema.jobs;
const a = schema.assets;

export async function recordProgress(call: JobCall, input: JobProgress): Promise<{ cancel: boolean }> {
  requireBodyAttempt(call, input.attempt);
  const { ctx, job } = call;
  if (job.status !== "running") return { cancel: true };
  const at = nowIso();
  const progress = { stage: input.stage, percent: Math.round(input.percent * 10) / 10 };
  await d1Batch(ctx.env, [
    ctx.db
      .update(j)
      .set({ stage: input.stage, percent: Math.round(input.percent), lastHeartbeatAt: at, updatedAt: at })
      .where(and(eq(j.id, job.id), eq(j.status, "running"), eq(j.attempt, call.attempt))),
    // Progress shows while processing, and while the ladder is still landing after a fast publish.
    ctx.db
      .update(a)
      .set({ progress, updatedAt: at })
      .where(
        and(
          eq(a.id, job.assetId),
          or(
            eq(a.status, "processing"),
            and(eq(a.status, "ready"), eq(a.currentRunId, job.id), eq(a.renditionsStatus, "preparing")),
          ),
        ),
      ),
  ]);
  return { cancel: false };
}
