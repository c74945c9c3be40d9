/**
 * Watermarks at the API (issue 16): `watermark` on POST /v1/assets is validated (precise 400s, a private or
 * non-http URL refused at create), stored with its defaults, shown on the asset, inherited by a clip, and
 * handed to the transcoder in the job settings; on-demand renders from the (unwatermarked) source are refused.
 * The burning itself is tested with real ffmpeg in test/node/transcoder/watermark.test.ts.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newId } from "../../src/lib/ids";
import { loadRenderable } from "../../src/services/thumbnails/render";
import { expectProblem } from "../support/problem";
import { api, createKey, type TestKey } from "./factories";
import { consumeTranscodeMessage } from "./pipeline-helpers";

const WM = { url: "https://images.example.com/logo.png" };

async function seedReady(key: TestKey, watermark: unknown) {
  const id = newId("asset");
  await env.DB.prepare(
    "insert into assets (id, environment_id, status, source_key, duration_ms, ready_at, current_run_id, watermark) values (?, ?, 'ready', ?, 10000, ?, 'job_x', ?)",
  )
    .bind(id, key.environmentId, `sources/${id}/source`, new Date().toISOString(), JSON.stringify(watermark))
    .run();
  await env.MEDIA.put(`sources/${id}/source`, new Uint8Array([1, 2, 3]));
  return id;
}

describe("watermark on asset creation", () => {
  it("stores the watermark with its defaults and shows it on the asset", async () => {
    const key = await createKey(["*"]);
    const res = await api(key, "POST", "/v1/assets", {
      input: { url: "https://media.example.com/a.mp4" },
      watermark: { ...WM, position: "top-left", width: 120, opacity: 0.5 },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.watermark).toEqual({
      url: WM.url,
      position: "top-left",
      margin_x: "3%",
      margin_y: "3%",
      width: 120,
      opacity: 0.5,
    });
    const got = await api(key, "GET", `/v1/assets/${res.body.id}`);
    expect(got.body.watermark).toEqual(res.body.watermark);
    const plain = await api(key, "POST", "/v1/assets", { input: { url: "https://media.example.com/b.mp4" } });
    expect(plain.body.watermark).toBeNull();
  });

  it("answers bad watermark settings with a precise 400 and creates nothing", async () => {
    const key = await createKey(["*"]);
    const before = await env.DB.prepare("select count(*) as n from assets where environment_id = ?")
      .bind(key.environmentId)
      .first<{ n: number }>();
    const cases: [unknown, string][] = [
      [{ ...WM, position: "middle" }, "watermark.position"],
      [{ ...WM, width: "150%" }, "watermark.width"],
      [{ ...WM, width: 0 }, "watermark.width"],
      [{ ...WM, width: "wide" }, "watermark.width"],
      [{ ...WM, margin_x: -4 }, "watermark.margin_x"],
      [{ ...WM, opacity: 2 }, "watermark.opacity"],
      [{ url: "not a url" }, "watermark.url"],
      [{ ...WM, extra: true }, "watermark"],
      [{ position: "center" }, "watermark.url"],
    ];
    for (const [watermark, location] of cases) {
      const res = await api(key, "POST", "/v1/assets", {
        input: { url: "https://media.example.com/a.mp4" },
        watermark,
      });
      expectProblem(res, 400, "validation_failed", JSON.stringify(watermark));
      const where = (res.body.errors as { location: string }[]).map((e) => e.location).join(" ");
      expect(where, JSON.stringify(watermark)).toContain(location);
    }
    for (const url of ["ftp://images.example.com/logo.png", "http://127.0.0.1/logo.png", "http://localhost/x.png"]) {
      const res = await api(key, "POST", "/v1/assets", {
        input: { url: "https://media.example.com/a.mp4" },
        watermark: { url },
      });
      expectProblem(res, 400, "validation_failed", url);
      expect((res.body.errors as { location: string }[]).map((e) => e.location)).toContain("json.watermark.url");
    }
    const after = await env.DB.prepare("select count(*) as n from assets where environment_id = ?")
      .bind(key.environmentId)
      .first<{ n: number }>();
    expect(after?.n).toBe(before?.n);
  });

  it("a clip inherits its source's watermark and its job carries it to the transcoder", async () => {
    const key = await createKey(["*"]);
    const stored = { ...WM, position: "center", margin_x: 0, margin_y: 0, width: "20%", opacity: 1 };
    const source = await seedReady(key, stored);
    const res = await api(key, "POST", "/v1/assets", { input: { asset_id: source, start_time: 1, end_time: 4 } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.watermark).toEqual(stored);
    expect((await consumeTranscodeMessage({ kind: "clip_source", asset_id: res.body.id })).explicitAcks).toEqual([
      "m0",
    ]);
    const job = await env.DB.prepare("select settings from jobs where asset_id = ?")
      .bind(res.body.id)
      .first<{ settings: string }>();
    expect(JSON.parse(job?.settings ?? "{}").watermark).toEqual({ ...stored, allow_private: false });
  });

  it("refuses on-demand renders from the unwatermarked source", async () => {
    const key = await createKey(["*"]);
    const marked = await seedReady(key, {
      ...WM,
      position: "center",
      margin_x: 0,
      margin_y: 0,
      width: "20%",
      opacity: 1,
    });
    await expect(loadRenderable(env, marked)).rejects.toMatchObject({ code: "not_found" });
    await expect(loadRenderable(env, marked)).rejects.toThrow(/watermarked/);
  });
});
