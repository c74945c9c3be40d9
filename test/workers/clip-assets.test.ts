/**
 * Clip assets and chapters at the API: `POST /v1/assets { input: { asset_id, start_time, end_time } }`
 * checks its source and range precisely, records `source_asset_id`, copies the original into the clip's
 * own source (the real transcode-jobs consumer) and queues a job whose settings carry the range in the
 * original's seconds (a clip of a clip adds its parent's offset). Chapters are validated, sorted and
 * bounded by the duration.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newId } from "../../src/lib/ids";
import type { Asset, Problem } from "../support/api-types";
import { expectProblem } from "../support/problem";
import { api, createKey, type TestKey } from "./factories";
import { assetRow, consumeTranscodeMessage, eventTypes, jobSettingsOf } from "./pipeline-helpers";

const ORIGINAL = new TextEncoder().encode("not really an mp4, but bytes the copy must keep exactly");

/** A ready asset of `seconds` with a stored original, as the pipeline leaves one. */
async function seedReady(key: TestKey, seconds = 10, opts: { status?: string; sourceKey?: string | null } = {}) {
  const id = newId("asset");
  const sourceKey = opts.sourceKey === undefined ? `sources/${id}/source` : opts.sourceKey;
  await env.DB.prepare(
    "insert into assets (id, environment_id, status, source_key, duration_ms, ready_at) values (?, ?, ?, ?, ?, ?)",
  )
    .bind(id, key.environmentId, opts.status ?? "ready", sourceKey, seconds * 1000, new Date().toISOString())
    .run();
  if (sourceKey) await env.MEDIA.put(sourceKey, ORIGINAL, { httpMetadata: { contentType: "video/mp4" } });
  return id;
}

describe("clip assets", () => {
  it("makes a clip: source_asset_id, range, its own copy of the original, a job with the range", async () => {
    const key = await createKey(["*"]);
    const source = await seedReady(key, 10);
    const res = await api<Asset>(key, "POST", "/v1/assets", {
      input: { asset_id: source, start_time: 2.5, end_time: 6 },
      playback_policy: "public",
      title: "highlight",
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const clip = res.body;
    expect(clip).toMatchObject({
      status: "waiting",
      source_asset_id: source,
      clip: { start_time: 2.5, end_time: 6 },
      title: "highlight",
      chapters: [],
    });
    expect(clip.playback_ids).toHaveLength(1);
    const created = await env.DB.prepare("select data from events where subject_id = ? and type = 'asset.created'")
      .bind(clip.id)
      .first<{ data: string }>();
    expect(JSON.parse(created?.data ?? "{}")).toMatchObject({ asset_id: clip.id, source_asset_id: source });

    expect((await consumeTranscodeMessage({ kind: "clip_source", asset_id: clip.id })).explicitAcks).toEqual(["m0"]);
    const copied = await env.MEDIA.get(`sources/${clip.id}/source`);
    expect(new Uint8Array(await (copied as R2ObjectBody).arrayBuffer())).toEqual(ORIGINAL);
    expect(copied?.httpMetadata?.contentType).toBe("video/mp4");
    expect(await assetRow(clip.id)).toMatchObject({ status: "queued", source_key: `sources/${clip.id}/source` });
    expect(await jobSettingsOf(clip.id)).toMatchObject({
      clip: { start_time: 2.5, end_time: 6 },
      source_size_bytes: ORIGINAL.byteLength,
    });
    // A redelivered message finds the clip queued and changes nothing.
    expect((await consumeTranscodeMessage({ kind: "clip_source", asset_id: clip.id })).explicitAcks).toEqual(["m0"]);
    const jobs = await env.DB.prepare("select count(*) as n from jobs where asset_id = ?").bind(clip.id).first();
    expect(jobs?.n).toBe(1);
    // The source asset is untouched, and its own original is still there.
    expect(await assetRow(source)).toMatchObject({ status: "ready", source_asset_id: null });
    expect(await env.MEDIA.head(`sources/${source}/source`)).not.toBeNull();
  });

  it("a clip of a clip cuts the original at the summed offset; end_time defaults to the duration", async () => {
    const key = await createKey(["*"]);
    const source = await seedReady(key, 20);
    const first = await api(key, "POST", "/v1/assets", { input: { asset_id: source, start_time: 5, end_time: 15 } });
    expect(first.status).toBe(201);
    const firstId = first.body.id as string;
    await consumeTranscodeMessage({ kind: "clip_source", asset_id: firstId });
    // The pipeline would leave the first clip ready with its own (10 s) duration.
    await env.DB.prepare("update assets set status = 'ready', duration_ms = 10000 where id = ?").bind(firstId).run();

    const second = await api(key, "POST", "/v1/assets", { input: { asset_id: firstId, start_time: 2 } });
    expect(second.status, JSON.stringify(second.body)).toBe(201);
    expect(second.body).toMatchObject({ source_asset_id: firstId, clip: { start_time: 2, end_time: 10 } });
    await consumeTranscodeMessage({ kind: "clip_source", asset_id: second.body.id });
    expect(await jobSettingsOf(second.body.id as string)).toMatchObject({ clip: { start_time: 7, end_time: 15 } });
  });

  it("refuses bad ranges and unusable sources precisely, writing nothing", async () => {
    const key = await createKey(["*"]);
    const source = await seedReady(key, 10);
    const before = (await env.DB.prepare("select count(*) as n from assets").first())?.n;
    const cases: [unknown, number, string, string][] = [
      [{ asset_id: source, start_time: -1, end_time: 2 }, 400, "validation_failed", "json.input.start_time"],
      [{ asset_id: source, start_time: 4, end_time: 4 }, 400, "validation_failed", "json.input.end_time"],
      [{ asset_id: source, start_time: 5, end_time: 3 }, 400, "validation_failed", "json.input.end_time"],
      [{ asset_id: source, start_time: 2, end_time: 10.5 }, 400, "validation_failed", "json.input.end_time"],
      [{ asset_id: source, start_time: 10 }, 400, "validation_failed", "json.input.start_time"],
      [{ asset_id: source, start_time: "1" }, 400, "validation_failed", "json.input.start_time"],
      [{ asset_id: "as_nope" }, 400, "validation_failed", "json.input.asset_id"],
      [{ asset_id: source, url: "https://example.com/a.mp4" }, 400, "validation_failed", "json.input.asset_id"],
      [{ url: "https://example.com/a.mp4", start_time: 1 }, 400, "validation_failed", "json.input.start_time"],
      [{}, 400, "validation_failed", "json.input"],
      [{ asset_id: newId("asset"), start_time: 1, end_time: 2 }, 404, "not_found", "json.input.asset_id"],
    ];
    for (const [input, status, code, location] of cases) {
      const res = await api(key, "POST", "/v1/assets", { input });
      expectProblem(res, status, code, JSON.stringify(input));
      expect(
        (res.body.errors as Problem["errors"]).map((e) => e.location),
        JSON.stringify(input),
      ).toContain(location);
    }

    // Not ready: each non-ready status is a 409 naming it.
    for (const status of ["waiting", "processing", "errored"]) {
      const pending = await seedReady(key, 10, { status });
      const res = await api(key, "POST", "/v1/assets", { input: { asset_id: pending, start_time: 0, end_time: 1 } });
      expectProblem(res, 409, "invalid_state", status);
      expect(res.body.detail).toContain(`'${status}'`);
    }
    // A live recording has no stored original.
    const recording = await seedReady(key, 10, { sourceKey: null });
    expectProblem(
      await api(key, "POST", "/v1/assets", { input: { asset_id: recording, end_time: 1 } }),
      409,
      "invalid_state",
    );
    // Another environment's asset does not exist for this key.
    const other = await createKey(["*"]);
    const foreign = await seedReady(other, 10);
    expectProblem(
      await api(key, "POST", "/v1/assets", { input: { asset_id: foreign, start_time: 0, end_time: 1 } }),
      404,
      "not_found",
    );
    // Deleted sources are gone too.
    const deleted = await seedReady(key, 10, { status: "deleted" });
    expectProblem(
      await api(key, "POST", "/v1/assets", { input: { asset_id: deleted, end_time: 1 } }),
      404,
      "not_found",
    );

    const after = (await env.DB.prepare("select count(*) as n from assets").first())?.n;
    // Only the six seeded sources were added: no refused request left a half-written clip behind.
    expect(after).toBe((before as number) + 6);
    const clips = await env.DB.prepare(
      "select count(*) as n from assets where source_asset_id is not null and environment_id = ?",
    )
      .bind(key.environmentId)
      .first();
    expect(clips?.n).toBe(0);
  });

  it("is idempotent like any asset create", async () => {
    const key = await createKey(["*"]);
    const source = await seedReady(key, 10);
    const body = { input: { asset_id: source, start_time: 1, end_time: 3 } };
    const headers = { "idempotency-key": "clip-1" };
    const a = await api(key, "POST", "/v1/assets", body, headers);
    const b = await api(key, "POST", "/v1/assets", body, headers);
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.body.id).toBe(a.body.id);
    const changed = await api(key, "POST", "/v1/assets", { input: { ...body.input, end_time: 4 } }, headers);
    expectProblem(changed, 422, "idempotency_key_reused");
    const n = await env.DB.prepare("select count(*) as n from assets where source_asset_id = ?").bind(source).first();
    expect(n?.n).toBe(1);
  });

  it("errors the clip (source_unavailable) when its source is deleted before the copy", async () => {
    const key = await createKey(["*"]);
    const source = await seedReady(key, 10);
    // The original goes before the clip is made: the test runtime's real transcode-jobs consumer also gets the
    // clip_source message, and must find nothing to copy whether it runs before or after the manual one below.
    await env.MEDIA.delete(`sources/${source}/source`);
    const clip = await api(key, "POST", "/v1/assets", { input: { asset_id: source, end_time: 2 } });
    expect(clip.status).toBe(201);
    expect((await api(key, "DELETE", `/v1/assets/${source}`)).status).toBe(204);
    await consumeTranscodeMessage({ kind: "clip_source", asset_id: clip.body.id });
    const got = await api(key, "GET", `/v1/assets/${clip.body.id}`);
    expect(got.body).toMatchObject({ status: "errored", error: { code: "source_unavailable" } });
    expect(await eventTypes(clip.body.id as string)).toContain("asset.errored");
  });
});

describe("chapters", () => {
  it("stores chapters sorted on create and PATCH, bounded by the duration; [] removes them", async () => {
    const key = await createKey(["*"]);
    const created = await api(key, "POST", "/v1/assets", {
      chapters: [
        { start_time: 30, title: "Demo" },
        { start_time: 0, title: " Intro " },
      ],
    });
    expect(created.status).toBe(201);
    expect(created.body.chapters).toEqual([
      { start_time: 0, title: "Intro" },
      { start_time: 30, title: "Demo" },
    ]);

    const ready = await seedReady(key, 60);
    const patched = await api(key, "PATCH", `/v1/assets/${ready}`, {
      chapters: [
        { start_time: 45.5, title: "Outro" },
        { start_time: 0, title: "Start" },
      ],
    });
    expect(patched.status).toBe(200);
    expect(patched.body.chapters).toEqual([
      { start_time: 0, title: "Start" },
      { start_time: 45.5, title: "Outro" },
    ]);
    const updated = await env.DB.prepare("select data from events where subject_id = ? and type = 'asset.updated'")
      .bind(ready)
      .first<{ data: string }>();
    expect(JSON.parse(updated?.data ?? "{}").changed).toEqual(["chapters"]);

    const bad: [unknown, string][] = [
      [[{ start_time: 60, title: "past the end" }], "json.chapters"],
      [[{ start_time: -1, title: "x" }], "json.chapters.0.start_time"],
      [[{ start_time: 1, title: "" }], "json.chapters.0.title"],
      [[{ start_time: 1, title: "two\nlines" }], "json.chapters.0.title"],
      [[{ start_time: 1, title: "a --> b" }], "json.chapters.0.title"],
      [[{ start_time: 1, title: "x".repeat(257) }], "json.chapters.0.title"],
      [
        [
          { start_time: 1, title: "a" },
          { start_time: 1, title: "b" },
        ],
        "json.chapters.1.start_time",
      ],
      [[{ start_time: 1, title: "a", extra: 1 }], "json.chapters.0"],
    ];
    for (const [chapters, location] of bad) {
      const res = await api(key, "PATCH", `/v1/assets/${ready}`, { chapters });
      expectProblem(res, 400, "validation_failed", JSON.stringify(chapters));
      expect(
        (res.body.errors as Problem["errors"]).map((e) => e.location),
        JSON.stringify(chapters),
      ).toContain(location);
    }
    // A clip's chapters are checked against the clip's own length.
    const lateClip = await api(key, "POST", "/v1/assets", {
      input: { asset_id: ready, start_time: 10, end_time: 20 },
      chapters: [{ start_time: 10, title: "too late" }],
    });
    expectProblem(lateClip, 400, "validation_failed");

    const cleared = await api(key, "PATCH", `/v1/assets/${ready}`, { chapters: [] });
    expect(cleared.body.chapters).toEqual([]);
  });
});
