/**
 * POST /v1/assets/{id}/reprocess: an errored asset runs the pipeline again from its stored source — a new
 * job whose message the queue really delivers (the dispatch is attempted: attempt 1 of the new job), the
 * events, and every refusal as problem+json: not errored / already reprocessing (409), source gone (410),
 * deleted (404), read-only key (403); Idempotency-Key replays like every POST.
 */
import { env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { expectProblem } from "../support/problem";
import { api, createKey } from "./factories";
import { assetRow, eventTypes, jobRow, seedJob } from "./pipeline-helpers";

const SOURCE = new Uint8Array([0, 0, 0, 24, 102, 116, 121, 112]);

async function erroredAsset(key: Awaited<ReturnType<typeof createKey>>, source: Uint8Array | null = SOURCE) {
  const s = await seedJob(key, {
    assetStatus: "errored",
    jobStatus: "failed",
    attempt: 5,
    source: source ?? undefined,
  });
  await env.DB.prepare("update assets set error = ? where id = ?")
    .bind(JSON.stringify({ code: "internal_error", message: "Processing failed after 5 attempts." }), s.assetId)
    .run();
  return s;
}

async function jobsOf(assetId: string) {
  return (
    await env.DB.prepare("select id, status, attempt from jobs where asset_id = ? order by created_at, id")
      .bind(assetId)
      .all()
  ).results as { id: string; status: string; attempt: number }[];
}

describe("POST /v1/assets/{id}/reprocess", () => {
  it("queues a new job from the stored source; the queue delivers it and the dispatch is attempted", async () => {
    const key = await createKey(["assets:write", "assets:read"]);
    const s = await erroredAsset(key);
    const res = await api(key, "POST", `/v1/assets/${s.assetId}/reprocess`);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ id: s.assetId, status: "queued" });
    expect(res.body.error ?? null).toBeNull();

    const jobs = await jobsOf(s.assetId);
    expect(jobs).toHaveLength(2);
    const fresh = jobs.find((j) => j.id !== s.jobId);
    if (!fresh) throw new Error("no new job");
    // The old job keeps its history; the new one counts its own attempts. The queue really delivers its
    // message; no transcoder listens in tests, so dispatch is attempted (attempt 1) and retried.
    expect(await jobRow(s.jobId)).toMatchObject({ status: "failed", attempt: 5 });
    await vi.waitUntil(async () => ((await jobRow(fresh.id))?.attempt ?? 0) >= 1, { timeout: 8000 });
    const types = await eventTypes(s.assetId);
    expect(types).toContain("asset.updated");
    const audit = await env.DB.prepare("select action from audit_log where resource_id = ?").bind(s.assetId).all();
    expect(audit.results.map((r) => r.action)).toContain("asset.reprocess");

    // Already reprocessing: refused, no second job.
    const again = await api(key, "POST", `/v1/assets/${s.assetId}/reprocess`);
    expectProblem(again, 409, "invalid_state");
    expect(again.body.detail).toMatch(/while it is '(queued|processing)'/);
    expect(await jobsOf(s.assetId)).toHaveLength(2);
  });

  it("the job settings follow the asset and the stored source", async () => {
    const key = await createKey();
    const s = await erroredAsset(key);
    await env.DB.prepare("update assets set max_resolution = '720p', mp4_support = 'standard' where id = ?")
      .bind(s.assetId)
      .run();
    expect((await api(key, "POST", `/v1/assets/${s.assetId}/reprocess`)).status).toBe(202);
    const fresh = (await jobsOf(s.assetId)).find((j) => j.id !== s.jobId);
    const row = await env.DB.prepare("select settings from jobs where id = ?")
      .bind(fresh?.id)
      .first<{ settings: string }>();
    expect(JSON.parse(row?.settings ?? "{}")).toMatchObject({
      max_resolution: "720p",
      mp4_support: "standard",
      fast_path: true,
      source_size_bytes: SOURCE.byteLength,
      source_content_type: "video/mp4",
    });
  });

  it("refuses: a ready asset (409), a gone source (410), a deleted asset (404), a read-only key (403)", async () => {
    const key = await createKey();
    const ready = await seedJob(key, { assetStatus: "ready", jobStatus: "succeeded", source: SOURCE });
    const r = await api(key, "POST", `/v1/assets/${ready.assetId}/reprocess`);
    expectProblem(r, 409, "invalid_state");
    expect(r.body.detail).toBe(`Cannot reprocess asset '${ready.assetId}' while it is 'ready'.`);

    const noSource = await erroredAsset(key, null);
    const gone = await api(key, "POST", `/v1/assets/${noSource.assetId}/reprocess`);
    expectProblem(gone, 410, "gone");
    expect(gone.body.detail).toMatch(/source is no longer stored/);
    expect(await assetRow(noSource.assetId)).toMatchObject({ status: "errored" });
    expect(await jobsOf(noSource.assetId)).toHaveLength(1);

    const deleted = await erroredAsset(key);
    expect((await api(key, "DELETE", `/v1/assets/${deleted.assetId}`)).status).toBe(204);
    expectProblem(await api(key, "POST", `/v1/assets/${deleted.assetId}/reprocess`), 404, "not_found");

    const reader = await createKey(["assets:read"], key.environmentId);
    const errored = await erroredAsset(key);
    expectProblem(await api(reader, "POST", `/v1/assets/${errored.assetId}/reprocess`), 403, "forbidden");
    const otherEnv = await createKey();
    expectProblem(await api(otherEnv, "POST", `/v1/assets/${errored.assetId}/reprocess`), 404, "not_found");
    expect(await assetRow(errored.assetId)).toMatchObject({ status: "errored" });
  });

  it("Idempotency-Key replays the first answer and makes one job", async () => {
    const key = await createKey();
    const s = await erroredAsset(key);
    const headers = { "idempotency-key": `reprocess-${s.assetId}` };
    const first = await api(key, "POST", `/v1/assets/${s.assetId}/reprocess`, undefined, headers);
    const second = await api(key, "POST", `/v1/assets/${s.assetId}/reprocess`, undefined, headers);
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(second.body.id).toBe(s.assetId);
    expect(await jobsOf(s.assetId)).toHaveLength(2);
  });
});
