/**
 * Eager dispatch (src/services/jobs/start.ts, startJobEagerly): the request that creates a job also starts it,
 * with the transcode-jobs message kept as the safety net. Whichever of the two claims the attempt first
 * dispatches; the other acks. A dispatch that fails puts the attempt back and leaves a delayed retry message.
 * The test runtime sets EAGER_DISPATCH=false (tests drive the consumer by hand), so these tests pass their own env.
 */
import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { JobDispatch } from "../../src/lib/transcoder-protocol";
import { systemContext } from "../../src/services/context";
import { eagerDispatch, startJobEagerly } from "../../src/services/jobs/start";
import { transcodeConsumer } from "../../src/services/jobs/transcode-consumer";
import { completeUpload } from "../../src/services/uploads/complete";
import { api, createKey } from "./factories";
import { assetRow, jobRow, seedJob, TRANSCODE_QUEUE } from "./pipeline-helpers";

function recorder() {
  const sent: JobDispatch[] = [];
  return { sent, dispatch: async (_env: Env, payload: JobDispatch) => void sent.push(payload) };
}

/** env whose transcode queue only records its sends (the runtime's real consumer would race the test). */
function recordingQueue(base: Env) {
  const sends: { body: unknown; delaySeconds?: number }[] = [];
  const queue = {
    send: async (body: unknown, opts?: { delaySeconds?: number }) => {
      sends.push({ body, delaySeconds: opts?.delaySeconds });
    },
  };
  return { sends, env: { ...base, TRANSCODE_QUEUE: queue as unknown as Queue } as Env };
}

async function consumeMessage(jobId: string, dispatch: ReturnType<typeof recorder>["dispatch"]) {
  const batch = createMessageBatch(TRANSCODE_QUEUE, [
    { id: "m0", timestamp: new Date(), attempts: 1, body: { kind: "transcode", job_id: jobId } },
  ]);
  const ctx = createExecutionContext();
  await transcodeConsumer({ dispatch })(batch, env, ctx);
  return getQueueResult(batch, ctx);
}

describe("eager dispatch", () => {
  it('is on unless EAGER_DISPATCH is "false"', () => {
    expect(eagerDispatch({ EAGER_DISPATCH: "true" })).toBe(true);
    expect(eagerDispatch({ EAGER_DISPATCH: "" })).toBe(true);
    expect(eagerDispatch({ EAGER_DISPATCH: "false" })).toBe(false);
    expect(eagerDispatch(env)).toBe(false);
  });

  it("starts the job at once; the queue message that follows finds it running and dispatches nothing", async () => {
    const key = await createKey();
    const s = await seedJob(key, { assetStatus: "queued", jobStatus: "queued", attempt: 0, dispatchedAt: null });
    const eager = recorder();
    expect(await startJobEagerly(env, s.jobId, { waitUntil: () => {}, dispatch: eager.dispatch })).toMatchObject({
      action: "ack",
      reason: "dispatched",
    });
    expect(eager.sent.map((p) => [p.job_id, p.attempt])).toEqual([[s.jobId, 1]]);
    expect(await jobRow(s.jobId)).toMatchObject({ status: "running", attempt: 1 });
    expect(await assetRow(s.assetId)).toMatchObject({ status: "processing" });

    const late = recorder();
    const result = await consumeMessage(s.jobId, late.dispatch);
    expect(result.explicitAcks).toEqual(["m0"]);
    expect(late.sent).toHaveLength(0);
    expect(await jobRow(s.jobId)).toMatchObject({ status: "running", attempt: 1 });
  });

  it("does nothing when the queue message got there first", async () => {
    const key = await createKey();
    const s = await seedJob(key, { assetStatus: "queued", jobStatus: "queued", attempt: 0, dispatchedAt: null });
    const first = recorder();
    await consumeMessage(s.jobId, first.dispatch);
    const eager = recorder();
    expect(await startJobEagerly(env, s.jobId, { waitUntil: () => {}, dispatch: eager.dispatch })).toMatchObject({
      action: "ack",
      reason: "job already running",
    });
    expect([first.sent.length, eager.sent.length]).toEqual([1, 0]);
  });

  it("a failed dispatch puts the attempt back and enqueues a delayed retry", async () => {
    const key = await createKey();
    const s = await seedJob(key, { assetStatus: "queued", jobStatus: "queued", attempt: 0, dispatchedAt: null });
    const q = recordingQueue(env);
    const outcome = await startJobEagerly(q.env, s.jobId, {
      waitUntil: () => {},
      dispatch: async () => {
        throw new Error("container did not start");
      },
    });
    expect(outcome).toMatchObject({ action: "retry", delaySeconds: 5 });
    expect(q.sends).toEqual([{ body: { kind: "transcode", job_id: s.jobId }, delaySeconds: 5 }]);
    const job = await jobRow(s.jobId);
    expect(job).toMatchObject({ status: "queued", attempt: 1 });
    expect(JSON.parse(job?.error ?? "null").message).toMatch(/Dispatch failed: container did not start/);

    // The retry (or the original message) takes the next attempt.
    const retry = recorder();
    expect((await consumeMessage(s.jobId, retry.dispatch)).explicitAcks).toEqual(["m0"]);
    expect(retry.sent.map((p) => p.attempt)).toEqual([2]);
  });

  it("upload completion starts the job it creates, in waitUntil, after sending its message", async () => {
    const key = await createKey();
    const upload = await api<{ id: string }>(key, "POST", "/v1/uploads", {
      new_asset_settings: { playback_policy: "public" },
    });
    expect(upload.status).toBe(201);
    const sourceKey = `uploads/${upload.body.id}/source`;
    await env.MEDIA.put(sourceKey, new Uint8Array(16));
    const q = recordingQueue({ ...env, EAGER_DISPATCH: "true" });
    const pending: Promise<unknown>[] = [];
    const ctx = systemContext(q.env, key.environmentId, (p) => pending.push(p));
    const { jobId } = await completeUpload(ctx, { uploadId: upload.body.id, sourceKey, size: 16, contentType: null });
    expect(q.sends[0]).toEqual({ body: { kind: "transcode", job_id: jobId }, delaySeconds: undefined });
    expect(pending.length).toBeGreaterThan(0);
    await Promise.all(pending);
    // The test runtime's transcoder URL refuses connections: the eager start claimed attempt 1, its dispatch
    // failed, and it left the job queued with a delayed retry message behind the first one.
    const job = await jobRow(jobId as string);
    expect(job).toMatchObject({ status: "queued", attempt: 1 });
    expect(JSON.parse(job?.error ?? "null").message).toMatch(/Dispatch failed: transcoder unreachable/);
    expect(q.sends.slice(1)).toEqual([{ body: { kind: "transcode", job_id: jobId }, delaySeconds: 5 }]);
  });
});
