import { env, SELF } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { systemContext } from "../../src/services/jobs/system";
import { completeUpload } from "../../src/services/uploads/complete";
import type { Problem } from "../support/api-types";
import { api, createKey, type TestKey } from "./factories";
import { eventTypes, jobRow } from "./pipeline-helpers";

const CLIP = new Uint8Array(Array.from({ length: 4096 }, (_, i) => (i * 7) % 256));

async function newUpload(key: TestKey, body: Record<string, unknown> = {}) {
  const res = await api(key, "POST", "/v1/uploads", body);
  expect(res.status).toBe(201);
  const url = new URL(res.body.url as string);
  return { id: res.body.id as string, path: `${url.pathname}${url.search}` };
}

function put(path: string, body: BodyInit | null, headers: Record<string, string> = {}) {
  return SELF.fetch(`http://keyframe.test${path}`, {
    method: "PUT",
    headers: { "content-type": "video/mp4", ...headers },
    body,
  });
}

async function uploadRow(id: string) {
  return env.DB.prepare("select * from uploads where id = ?").bind(id).first<Record<string, unknown>>();
}

async function assetsForUpload(id: string) {
  return (await env.DB.prepare("select * from assets where upload_id = ?").bind(id).all()).results;
}

describe("PUT /uploads/{id}", () => {
  it("streams the file into R2, creates the asset and its job, and the job is dispatched", async () => {
    const key = await createKey();
    const up = await newUpload(key, { new_asset_settings: { playback_policy: "public", title: "clip" } });
    const res = await put(up.path, CLIP);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { upload_id: string; asset_id: string };
    expect(body.upload_id).toBe(up.id);
    expect(body.asset_id).toMatch(/^as_/);

    const stored = await env.MEDIA.get(`sources/${up.id}/source`);
    expect(new Uint8Array(await stored!.arrayBuffer())).toEqual(CLIP);
    expect(stored!.httpMetadata?.contentType).toBe("video/mp4");

    const upload = await api(key, "GET", `/v1/uploads/${up.id}`);
    expect(upload.body).toMatchObject({
      status: "completed",
      asset_id: body.asset_id,
      size: CLIP.byteLength,
      url: null,
    });
    const asset = await api(key, "GET", `/v1/assets/${body.asset_id}`);
    expect(["queued", "processing"]).toContain(asset.body.status);
    expect(asset.body).toMatchObject({ title: "clip", upload_id: up.id });
    expect(await eventTypes(up.id)).toContain("upload.completed");

    const { results: jobs } = await env.DB.prepare("select * from jobs where asset_id = ?").bind(body.asset_id).all();
    expect(jobs).toHaveLength(1);
    expect(JSON.parse(jobs[0].settings as string)).toMatchObject({
      source_size_bytes: CLIP.byteLength,
      fast_path: true,
    });

    // The queue really delivers the job message; no transcoder listens in tests, so the dispatch is
    // refused, the attempt is put back in the queue and the message retried (not crashed, not lost).
    await vi.waitUntil(async () => ((await jobRow(jobs[0].id as string))?.attempt ?? 0) >= 1, { timeout: 8000 });
    const job = await jobRow(jobs[0].id as string);
    expect(job?.status).toBe("queued");
    expect(JSON.parse(job?.error ?? "null").message).toMatch(/Dispatch failed/);
    expect((await api(key, "GET", `/v1/assets/${body.asset_id}`)).body).toMatchObject({
      status: "processing",
      progress: { stage: "retrying", percent: 0 },
    });

    // A second PUT after completion is a conflict and never creates a second asset.
    const again = await put(up.path, CLIP);
    expect(again.status).toBe(409);
    expect((await again.json<Problem>()).code).toBe("conflict");
    expect(await assetsForUpload(up.id)).toHaveLength(1);
  });

  it("refuses a PUT while another transfer holds the upload, but takes over a claim left by a dead transfer", async () => {
    const key = await createKey();
    const up = await newUpload(key);
    // Another transfer is streaming right now.
    await env.DB.prepare("update uploads set status = 'uploading', claimed_by = 'put', updated_at = ? where id = ?")
      .bind(new Date().toISOString(), up.id)
      .run();
    const busy = await put(up.path, CLIP);
    expect(busy.status).toBe(409);
    expect((await busy.json<Problem>()).code).toBe("conflict");
    // Its isolate died 31 minutes ago without recording a byte: the client's retry succeeds.
    await env.DB.prepare("update uploads set updated_at = ? where id = ?")
      .bind(new Date(Date.now() - 31 * 60_000).toISOString(), up.id)
      .run();
    const retried = await put(up.path, CLIP);
    expect(retried.status).toBe(200);
    expect(await assetsForUpload(up.id)).toHaveLength(1);
    expect((await uploadRow(up.id))?.status).toBe("completed");
  });

  it("refuses a bad token, an unknown upload, expired and cancelled uploads", async () => {
    const key = await createKey();
    const up = await newUpload(key);
    const bad = await put(up.path.replace(/token=[^&]+/, "token=nope"), CLIP);
    expect(bad.status).toBe(401);
    expect(bad.headers.get("content-type")).toContain("application/problem+json");
    expect((await bad.json<Problem>()).code).toBe("unauthenticated");
    const missing = await put(`/uploads/${up.id}`, CLIP);
    expect(missing.status).toBe(401);
    expect((await put("/uploads/up_nope?token=x", CLIP)).status).toBe(404);

    await env.DB.prepare("update uploads set expires_at = ? where id = ?")
      .bind(new Date(Date.now() - 1000).toISOString(), up.id)
      .run();
    const expired = await put(up.path, CLIP);
    expect(expired.status).toBe(410);
    expect((await expired.json<Problem>()).code).toBe("gone");

    const up2 = await newUpload(key);
    expect((await api(key, "DELETE", `/v1/uploads/${up2.id}`)).status).toBeLessThan(300);
    const cancelled = await put(up2.path, CLIP);
    expect(cancelled.status).toBe(409);
    expect(await assetsForUpload(up2.id)).toHaveLength(0);
  });

  it("enforces size, content type, Content-Length and refuses empty bodies, leaving the upload open", async () => {
    const key = await createKey();
    const up = await newUpload(key, { max_size_bytes: 1000, allowed_content_types: ["video/*"] });

    const tooLarge = await put(up.path, CLIP);
    expect(tooLarge.status).toBe(413);
    expect((await tooLarge.json<Problem>()).code).toBe("payload_too_large");

    const wrongType = await put(up.path, CLIP.slice(0, 500), { "content-type": "application/pdf" });
    expect(wrongType.status).toBe(415);
    expect((await wrongType.json<Problem>()).code).toBe("unsupported_media_type");

    const empty = await put(up.path, new Uint8Array(0));
    expect(empty.status).toBe(400);
    expect((await empty.json<Problem>()).detail).toMatch(/empty/);

    const chunked = await SELF.fetch(`http://keyframe.test${up.path}`, {
      method: "PUT",
      headers: { "content-type": "video/mp4" },
      body: new ReadableStream({
        start(c) {
          c.enqueue(CLIP.slice(0, 10));
          c.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    expect(chunked.status).toBe(411);
    expect((await chunked.json<Problem>()).code).toBe("length_required");

    expect(await env.MEDIA.head(`sources/${up.id}/source`)).toBeNull();
    expect((await uploadRow(up.id))?.status).toBe("waiting");
    expect(await assetsForUpload(up.id)).toHaveLength(0);

    // Still usable with a conforming file ("video/quicktime; charset" parameters are ignored).
    const ok = await put(up.path, CLIP.slice(0, 1000), { "content-type": "video/quicktime; foo=bar" });
    expect(ok.status).toBe(200);
  });

  it("answers CORS preflight and errors for the upload's cors_origin", async () => {
    const key = await createKey();
    const origin = "https://app.example.com";
    const up = await newUpload(key, { cors_origin: origin, max_size_bytes: 10 });
    const pre = await SELF.fetch(`http://keyframe.test${up.path}`, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "PUT", "access-control-request-headers": "content-type" },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe(origin);
    expect(pre.headers.get("access-control-allow-methods")).toContain("PUT");
    expect(pre.headers.get("access-control-allow-headers")).toContain("content-type");

    const other = await SELF.fetch(`http://keyframe.test${up.path}`, {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "PUT" },
    });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();

    const err = await put(up.path, CLIP, { origin });
    expect(err.status).toBe(413);
    expect(err.headers.get("access-control-allow-origin")).toBe(origin);
    const ok = await put(up.path, CLIP.slice(0, 10), { origin });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("access-control-allow-origin")).toBe(origin);
  });

  it("completing an upload cancelled mid-transfer creates nothing (the batch is rolled back)", async () => {
    const key = await createKey();
    const up = await newUpload(key);
    await api(key, "DELETE", `/v1/uploads/${up.id}`);
    const ctx = systemContext(env, key.environmentId, () => undefined);
    await expect(
      completeUpload(ctx, { uploadId: up.id, sourceKey: `sources/${up.id}/source`, size: 10, contentType: null }),
    ).rejects.toMatchObject({ code: "invalid_state" });
    expect(await assetsForUpload(up.id)).toHaveLength(0);
    expect((await uploadRow(up.id))?.status).toBe("cancelled");
    expect(await eventTypes(up.id)).not.toContain("upload.completed");
  });
});
