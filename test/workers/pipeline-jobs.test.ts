import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { verifyJobToken } from "../../src/lib/job-token";
import type { JobDispatch } from "../../src/lib/transcoder-protocol";
import { reapJobs } from "../../src/services/jobs/reaper";
import { backoffSeconds } from "../../src/services/jobs/system";
import { transcodeConsumer } from "../../src/services/jobs/transcode-consumer";
import type { Asset } from "../support/api-types";
import { api, createKey } from "./factories";
import {
  assetRow,
  eventTypes,
  internal,
  jobRow,
  publishBody,
  runQueue,
  seedJob,
  TRANSCODE_DLQ,
  TRANSCODE_QUEUE,
} from "./pipeline-helpers";

const UNREACHABLE = { TRANSCODER_URL: "http://127.0.0.1:9", KEYFRAME_ENV: "development" } as Partial<Env>;
const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();

/** The consumer with a dispatch that records what it would send (no transcoder runs in workerd). */
async function consumeWithRecorder(bodies: unknown[], attempts = 1) {
  const sent: JobDispatch[] = [];
  const handler = transcodeConsumer({ dispatch: async (_env, payload) => void sent.push(payload) });
  const batch = createMessageBatch(
    TRANSCODE_QUEUE,
    bodies.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts, body })),
  );
  const ctx = createExecutionContext();
  await handler(batch, env, ctx);
  return { sent, result: await getQueueResult(batch, ctx) };
}

describe("transcode-jobs consumer", () => {
  it("claims the next attempt, dispatches once with a job-scoped token, and ignores redelivery", async () => {
    const key = await createKey();
    const s = await seedJob(key, { assetStatus: "queued", jobStatus: "queued", attempt: 0, dispatchedAt: null });
    const first = await consumeWithRecorder([{ kind: "transcode", job_id: s.jobId }]);
    expect(first.result.explicitAcks).toEqual(["m0"]);
    expect(first.sent).toHaveLength(1);
    const payload = first.sent[0];
    expect(payload).toMatchObject({ job_id: s.jobId, asset_id: s.assetId, attempt: 1, api_url: env.API_PUBLIC_URL });
    expect(payload.settings).toMatchObject({ max_resolution: "1080p", fast_path: true });
    expect(await verifyJobToken(env, payload.token)).toEqual({ jobId: s.jobId, attempt: 1 });
    expect(await jobRow(s.jobId)).toMatchObject({ status: "running", attempt: 1 });
    expect(await assetRow(s.assetId)).toMatchObject({ status: "processing" });

    // Redelivered (twice, even in one batch): running job → acked, nothing dispatched, no new events.
    const again = await consumeWithRecorder([
      { kind: "transcode", job_id: s.jobId },
      { kind: "transcode", job_id: s.jobId },
    ]);
    expect(again.sent).toHaveLength(0);
    expect(again.result.explicitAcks.sort()).toEqual(["m0", "m1"]);
    expect((await eventTypes(s.assetId)).filter((t) => t === "asset.processing")).toHaveLength(1);

    // The dispatched token drives the run to completion; a redelivery afterwards changes nothing.
    const done = await internal(s.jobId, payload.token, "POST", "publish", publishBody("complete"));
    expect(done.status).toBe(200);
    const late = await consumeWithRecorder([{ kind: "transcode", job_id: s.jobId }]);
    expect(late.sent).toHaveLength(0);
    expect(await jobRow(s.jobId)).toMatchObject({ status: "succeeded", attempt: 1 });
    const { results } = await env.DB.prepare("select count(*) as n from jobs where asset_id = ?").bind(s.assetId).all();
    expect(results[0].n).toBe(1);
    expect((await eventTypes(s.assetId)).filter((t) => t === "asset.ready")).toHaveLength(1);
  });

  it("a concurrent duplicate message dispatches at most once", async () => {
    const key = await createKey();
    const s = await seedJob(key, { assetStatus: "queued", jobStatus: "queued", attempt: 0 });
    const { sent } = await consumeWithRecorder([
      { kind: "transcode", job_id: s.jobId },
      { kind: "transcode", job_id: s.jobId },
      { kind: "transcode", job_id: s.jobId },
    ]);
    expect(sent).toHaveLength(1);
  });

  it("a refused connection retries the message with backoff instead of crashing", async () => {
    const key = await createKey();
    const s = await seedJob(key, { assetStatus: "queued", jobStatus: "queued", attempt: 0 });
    const result = await runQueue(TRANSCODE_QUEUE, [{ kind: "transcode", job_id: s.jobId }], UNREACHABLE, 3);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toHaveLength(1);
    // msg.retry({ delaySeconds }) is not reported by getQueueResult; the schedule itself:
    expect([1, 2, 3, 4, 5, 9].map(backoffSeconds)).toEqual([5, 10, 20, 40, 80, 300]);
    const job = await jobRow(s.jobId);
    expect(job).toMatchObject({ status: "queued", attempt: 1 });
    expect(JSON.parse(job?.error ?? "null").message).toMatch(/Dispatch failed: transcoder unreachable/);
    expect(await assetRow(s.assetId)).toMatchObject({ status: "processing" });
  });

  it("acks messages for deleted assets, finished jobs and garbage", async () => {
    const key = await createKey();
    const del = await seedJob(key, { assetStatus: "deleted", jobStatus: "queued", attempt: 0 });
    const ok = await seedJob(key, { jobStatus: "succeeded" });
    const { sent, result } = await consumeWithRecorder([
      { kind: "transcode", job_id: del.jobId },
      { kind: "transcode", job_id: ok.jobId },
      { kind: "transcode", job_id: "job_missing" },
      { nonsense: true },
    ]);
    expect(sent).toHaveLength(0);
    expect(result.explicitAcks.sort()).toEqual(["m0", "m1", "m2", "m3"]);
    expect((await jobRow(del.jobId))?.status).toBe("cancelled");
  });

  it("a queued job whose attempts are spent fails instead of dispatching", async () => {
    const key = await createKey();
    const s = await seedJob(key, { jobStatus: "queued", attempt: 5, maxAttempts: 5 });
    const { sent } = await consumeWithRecorder([{ kind: "transcode", job_id: s.jobId }]);
    expect(sent).toHaveLength(0);
    expect(await jobRow(s.jobId)).toMatchObject({ status: "failed" });
    expect(await assetRow(s.assetId)).toMatchObject({ status: "errored" });
  });
});

describe("dead-letter queue", () => {
  it("fails the job and errors the asset once, with asset.errored", async () => {
    const key = await createKey();
    const s = await seedJob(key, { jobStatus: "queued", attempt: 5 });
    for (let i = 0; i < 2; i++) {
      const result = await runQueue(TRANSCODE_DLQ, [{ kind: "transcode", job_id: s.jobId }]);
      expect(result.explicitAcks).toHaveLength(1);
    }
    expect(await jobRow(s.jobId)).toMatchObject({ status: "failed" });
    const view = await api<Asset>(key, "GET", `/v1/assets/${s.assetId}`);
    expect(view.body.status).toBe("errored");
    expect(view.body.error).toMatchObject({ code: "internal_error" });
    expect(view.body.error?.message).toMatch(/retries exhausted/);
    expect((await eventTypes(s.assetId)).filter((t) => t === "asset.errored")).toHaveLength(1);
  });

  it("leaves a live, heart-beating run alone", async () => {
    const key = await createKey();
    const s = await seedJob(key, { jobStatus: "running" });
    await runQueue(TRANSCODE_DLQ, [{ kind: "transcode", job_id: s.jobId }]);
    expect(await jobRow(s.jobId)).toMatchObject({ status: "running" });
  });
});

describe("reaper", () => {
  it("retries a stalled job, fails an exhausted one, re-enqueues a forgotten queued job", async () => {
    const key = await createKey();
    const stalled = await seedJob(key, { heartbeatAt: minutesAgo(3), dispatchedAt: minutesAgo(10) });
    const neverBeat = await seedJob(key, { heartbeatAt: null, dispatchedAt: minutesAgo(3) });
    const alive = await seedJob(key, { heartbeatAt: minutesAgo(0.5) });
    const exhausted = await seedJob(key, { attempt: 5, maxAttempts: 5, heartbeatAt: minutesAgo(5) });
    const forgotten = await seedJob(key, {
      assetStatus: "queued",
      jobStatus: "queued",
      attempt: 0,
      dispatchedAt: null,
      updatedAt: minutesAgo(6),
    });

    // The reaper's queue records what it sends: the real consumer would claim the retries at once
    // (max_batch_timeout = 0) and move them past the state this test inspects.
    const sent: unknown[] = [];
    const recordingQueue = {
      send: async (body: unknown) => void sent.push(body),
      sendBatch: async (messages: { body: unknown }[]) => void sent.push(...messages.map((m) => m.body)),
    } as unknown as Queue;
    const reapEnv = { ...env, ...UNREACHABLE, TRANSCODE_QUEUE: recordingQueue } as Env;
    const ctx = createExecutionContext();
    const result = await reapJobs(reapEnv, (p) => ctx.waitUntil(p));
    expect(result).toMatchObject({ retried: 2, failed: 1, requeued: 1 });
    expect(new Set(sent.map((m) => JSON.stringify(m)))).toEqual(
      new Set([stalled, neverBeat, forgotten].map((s) => JSON.stringify({ kind: "transcode", job_id: s.jobId }))),
    );

    for (const s of [stalled, neverBeat]) {
      expect(await jobRow(s.jobId)).toMatchObject({ status: "queued", attempt: 1 });
      // The stalled run's token is now refused: it cannot publish over the retry.
      const late = await internal(s.jobId, s.token, "POST", "publish", publishBody("fast"));
      expect(late.status).toBe(409);
      expect(
        (await internal(s.jobId, s.token, "POST", "progress", { attempt: 1, stage: "transcoding", percent: 1 })).body,
      ).toEqual({ cancel: true });
    }
    expect(await jobRow(alive.jobId)).toMatchObject({ status: "running" });
    expect(await jobRow(exhausted.jobId)).toMatchObject({ status: "failed" });
    expect(await assetRow(exhausted.assetId)).toMatchObject({ status: "errored" });
    expect((await eventTypes(exhausted.assetId)).filter((t) => t === "asset.errored")).toHaveLength(1);
    expect(((await jobRow(forgotten.jobId))?.updated_at ?? "") > minutesAgo(1)).toBe(true);

    // A second sweep right away has nothing left to do for these.
    const again = await reapJobs(reapEnv, (p) => ctx.waitUntil(p));
    expect(again).toMatchObject({ failed: 0, requeued: 0 });
    await getQueueResult(createMessageBatch(TRANSCODE_QUEUE, []), ctx);
  });
});

describe("URL ingest", () => {
  it("refuses loopback and metadata addresses: asset errored with input_url_forbidden", async () => {
    const key = await createKey();
    for (const url of [
      "http://127.0.0.1:8080/video.mp4",
      "http://169.254.169.254/latest/meta-data/",
      "http://[::1]/a.mp4",
      "http://localhost/a.mp4",
    ]) {
      const created = await api(key, "POST", "/v1/assets", { input: { url } });
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      // The real queue delivers this too; running it again here must be harmless.
      const result = await runQueue(TRANSCODE_QUEUE, [{ kind: "ingest_url", asset_id: id }]);
      expect(result.explicitAcks).toHaveLength(1);
      const view = await api(key, "GET", `/v1/assets/${id}`);
      expect(view.body.status, url).toBe("errored");
      expect(view.body.error).toMatchObject({ code: "input_url_forbidden" });
      await vi.waitUntil(async () => (await eventTypes(id)).includes("asset.errored"), {
        timeout: 10_000,
        interval: 50,
      });
      expect((await eventTypes(id)).filter((t) => t === "asset.errored")).toHaveLength(1);
      const { results } = await env.DB.prepare("select id from jobs where asset_id = ?").bind(id).all();
      expect(results).toHaveLength(0);
    }
  });

  it("a refused private URL is only allowed when ALLOW_PRIVATE_INGEST_URLS is 'true' (then fetch errors are retried)", async () => {
    const key = await createKey();
    const created = await api(key, "POST", "/v1/assets", { input: { url: "http://127.0.0.1:9/none.mp4" } });
    const id = created.body.id as string;
    // The real queue delivers within its 1 s batch window; allow for a loaded machine.
    await vi.waitUntil(async () => (await assetRow(id))?.status === "errored", { timeout: 10_000, interval: 50 });
    // Same URL, dev setting on: the connection is attempted; refused connections retry, then fail.
    await env.DB.prepare("update assets set status = 'waiting', error = null where id = ?").bind(id).run();
    const allow = { ALLOW_PRIVATE_INGEST_URLS: "true" } as Partial<Env>;
    const first = await runQueue(TRANSCODE_QUEUE, [{ kind: "ingest_url", asset_id: id }], allow, 1);
    expect(first.retryMessages).toHaveLength(1);
    expect((await assetRow(id))?.status).toBe("waiting");
    const last = await runQueue(TRANSCODE_QUEUE, [{ kind: "ingest_url", asset_id: id }], allow, 3);
    expect(last.explicitAcks).toHaveLength(1);
    const view = await api(key, "GET", `/v1/assets/${id}`);
    expect(view.body).toMatchObject({ status: "errored", error: { code: "input_fetch_failed" } });
  });
});
