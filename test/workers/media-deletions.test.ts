/**
 * Deleted media cannot survive (issue 10, finding 8): deletions are recorded in `pending_deletions` with the
 * state change and finished by the cron; a failed deletion is retried by the next run; an upload that
 * completed in a race keeps its bytes.
 */
import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { OUTPUT_GRACE_MS, runPendingDeletions } from "../../src/services/media/pending-deletions";
import { api, createAsset, createKey } from "./factories";

async function objectsUnder(prefix: string): Promise<string[]> {
  return (await env.MEDIA.list({ prefix })).objects.map((o) => o.key);
}

async function pending(resourceId: string) {
  return (
    await env.DB.prepare("select prefix, attempts, last_error from pending_deletions where resource_id = ?")
      .bind(resourceId)
      .all<{ prefix: string; attempts: number; last_error: string | null }>()
  ).results;
}

/** Moves an owner's pending rows past the output grace window (and due), as if OUTPUT_GRACE_MS had passed. */
async function pastGrace(resourceId: string) {
  await env.DB.prepare(
    "update pending_deletions set created_at = '2000-01-01T00:00:00.000Z', next_attempt_at = '2000-01-01T00:00:00.000Z' where resource_id = ?",
  )
    .bind(resourceId)
    .run();
}

/** The real cron entry point, as wrangler's trigger calls it. */
async function runCron(overrides: Partial<Env> = {}) {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: "* * * * *" }), { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
}

/** An R2 binding whose deletes fail, as R2 does under an outage. */
function failingMedia(): R2Bucket {
  return new Proxy(env.MEDIA, {
    get(target, prop) {
      if (prop === "delete") {
        return async () => {
          await null; // rejected after a turn, as a real binding call would be
          throw new Error("R2 is down");
        };
      }
      const v = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

async function seedAssetMedia(assetId: string) {
  for (const k of ["runs/job_1/master.m3u8", "runs/job_1/720p/seg_0.m4s", "poster.jpg", "thumbs/w320.jpg"]) {
    await env.MEDIA.put(`assets/${assetId}/${k}`, "x");
  }
  await env.MEDIA.put(`sources/${assetId}/source`, "src");
}

describe("pending media deletions", () => {
  it("after DELETE and a cron run, R2 holds nothing under the asset's prefixes and nothing stays pending", async () => {
    const key = await createKey(["*"]);
    const asset = await createAsset(key, { title: "gone" });
    await seedAssetMedia(asset.id);
    // Another asset's media must survive.
    const keep = await createAsset(key, { title: "kept" });
    await seedAssetMedia(keep.id);
    const del = await api(key, "DELETE", `/v1/assets/${asset.id}`);
    expect(del.status).toBe(204);
    await runCron();
    expect(await objectsUnder(`assets/${asset.id}/`)).toEqual([]);
    expect(await objectsUnder(`sources/${asset.id}/`)).toEqual([]);
    expect((await objectsUnder(`assets/${keep.id}/`)).length).toBe(4);
    // The asset's prefixes stay pending through the output grace window, due again when it ends.
    const rows = await env.DB.prepare("select created_at, next_attempt_at from pending_deletions where resource_id = ?")
      .bind(asset.id)
      .all<{ created_at: string; next_attempt_at: string }>();
    expect(rows.results.length).toBeGreaterThan(0);
    for (const r of rows.results) {
      expect(Date.parse(r.next_attempt_at) - Date.parse(r.created_at)).toBe(OUTPUT_GRACE_MS);
    }
    // A transcoder output authorised before the delete lands after the first sweep (the output callback
    // does not read D1 again after writing): the second sweep, once the window has passed, removes it.
    await env.MEDIA.put(`assets/${asset.id}/runs/job_1/720p/seg_1.m4s`, "late");
    await runCron();
    expect(await objectsUnder(`assets/${asset.id}/`)).toEqual([`assets/${asset.id}/runs/job_1/720p/seg_1.m4s`]);
    await pastGrace(asset.id);
    await runCron();
    expect(await objectsUnder(`assets/${asset.id}/`)).toEqual([]);
    expect(await pending(asset.id)).toEqual([]);
  });

  it("a failed deletion stays recorded and the next cron run finishes it", async () => {
    const key = await createKey(["*"]);
    const asset = await createAsset(key, { title: "flaky r2" });
    // Delete with R2 failing: the request succeeds, the bytes stay, the deletion stays pending.
    await env.DB.prepare("update assets set status = 'deleted', deleted_at = ? where id = ?")
      .bind(new Date().toISOString(), asset.id)
      .run();
    await seedAssetMedia(asset.id);
    await env.DB.prepare(
      "insert into pending_deletions (id, environment_id, resource_type, resource_id, prefix) values (?, ?, 'asset', ?, ?)",
    )
      .bind(`del_${asset.id.slice(3)}`, key.environmentId, asset.id, `assets/${asset.id}/`)
      .run();
    // Only this sweep sees the failing bucket (other sweeps' own R2 calls are not under test here).
    expect(await runPendingDeletions({ ...env, MEDIA: failingMedia() })).toMatchObject({ failed: 1 });
    expect((await objectsUnder(`assets/${asset.id}/`)).length).toBe(4);
    const [row] = await pending(asset.id);
    expect(row.attempts).toBe(1);
    expect(row.last_error).toContain("R2 is down");
    // Backoff: not due yet, so a run now leaves it; once due, the next run finishes it.
    await runCron();
    expect((await objectsUnder(`assets/${asset.id}/`)).length).toBe(4);
    await pastGrace(asset.id);
    await runCron();
    expect(await objectsUnder(`assets/${asset.id}/`)).toEqual([]);
    expect(await pending(asset.id)).toEqual([]);
    // Idempotent: running again with nothing pending is a no-op.
    expect(await runPendingDeletions(env)).toMatchObject({ failed: 0 });
  });

  it("a cancelled upload's stored bytes are removed", async () => {
    const key = await createKey(["*"]);
    const up = await api(key, "POST", "/v1/uploads", {});
    expect(up.status).toBe(201);
    const id = up.body.id as string;
    await env.MEDIA.put(`sources/${id}/source`, "partial put");
    expect((await api(key, "DELETE", `/v1/uploads/${id}`)).status).toBe(204);
    await runCron();
    expect(await objectsUnder(`sources/${id}/`)).toEqual([]);
    expect(await pending(id)).toEqual([]);
  });

  it("never deletes bytes whose owner is alive again (an upload that completed into an asset)", async () => {
    const key = await createKey(["*"]);
    const asset = await createAsset(key, { title: "alive" });
    await seedAssetMedia(asset.id);
    await env.DB.prepare(
      "insert into pending_deletions (id, environment_id, resource_type, resource_id, prefix) values (?, ?, 'asset', ?, ?)",
    )
      .bind(`del_${asset.id.slice(3)}`, key.environmentId, asset.id, `assets/${asset.id}/`)
      .run();
    await runCron();
    expect((await objectsUnder(`assets/${asset.id}/`)).length).toBe(4);
    expect(await pending(asset.id)).toEqual([]);
  });
});
