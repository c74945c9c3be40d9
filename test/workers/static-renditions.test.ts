/**
 * MP4 downloads (static renditions) in the API: the `mp4_support` setting on assets and on uploads'
 * new_asset_settings, its validation, the job settings it produces, and the `complete` publish that
 * records the download (once, even when repeated) and shows it on the asset view.
 */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { JobPublish, StaticRenditionName } from "../../src/lib/transcoder-protocol";
import type { Asset, Event, Page, PlaybackTokens, Problem } from "../support/api-types";
import { expectProblem } from "../support/problem";
import { api, createAsset, createKey, type TestKey } from "./factories";
import { assetRow, eventTypes, internal, jobRow, publishBody, type Seeded, seedJob } from "./pipeline-helpers";

const MP4 = new Uint8Array(Array.from({ length: 2048 }, (_, i) => (i * 13) % 256));

/** A running job on an mp4_support=standard asset with a playback ID, as the pipeline leaves it. */
async function seedStandardJob(key: TestKey): Promise<Seeded & { playbackId: string }> {
  const s = await seedJob(key);
  await env.DB.prepare("update assets set mp4_support = 'standard', static_renditions = ?, title = 'Talk' where id = ?")
    .bind(JSON.stringify({ status: "preparing", files: [] }), s.assetId)
    .run();
  const playbackId = `pb_${s.assetId.slice(3)}`;
  await env.DB.prepare("insert into playback_ids (id, environment_id, asset_id, policy) values (?, ?, ?, 'public')")
    .bind(playbackId, key.environmentId, s.assetId)
    .run();
  return { ...s, playbackId };
}

function completeWith(report: JobPublish["static_renditions"]): JobPublish {
  return { ...publishBody("complete"), static_renditions: report };
}

const READY_REPORT: JobPublish["static_renditions"] = {
  status: "ready",
  files: [{ name: "highest.mp4", ext: "mp4", width: 1280, height: 720, bitrate: 1_300_000, filesize: 999 }],
};

describe("mp4_support on create", () => {
  it("defaults to none (static_renditions disabled, no download URL field)", async () => {
    const key = await createKey();
    const asset = await createAsset(key, { playback_policy: "public" });
    expect(asset).toMatchObject({ mp4_support: "none", static_renditions: { status: "disabled", files: [] } });
    const urls = asset.playback_ids[0].urls;
    expect(urls).not.toHaveProperty("download");
  });

  it("stores standard and shows the download as preparing", async () => {
    const key = await createKey();
    const asset = await createAsset(key, { playback_policy: "signed", mp4_support: "standard" });
    expect(asset).toMatchObject({ mp4_support: "standard", static_renditions: { status: "preparing", files: [] } });
    expect(asset.playback_ids[0].urls.download).toBeNull();
    const got = await api(key, "GET", `/v1/assets/${asset.id}`);
    expect(got.body).toMatchObject({ mp4_support: "standard", static_renditions: { status: "preparing" } });
    expect((await assetRow(asset.id))?.mp4_support).toBe("standard");
  });

  it("refuses invalid values with a 400 problem naming the field", async () => {
    const key = await createKey();
    for (const value of ["capped-1080p", "", 1, null, true]) {
      const res = await api(key, "POST", "/v1/assets", { mp4_support: value });
      expectProblem(res, 400, "validation_failed", JSON.stringify(value));
      expect((res.body.errors as Problem["errors"]).map((e) => e.location)).toContain("json.mp4_support");
    }
    const upload = await api(key, "POST", "/v1/uploads", { new_asset_settings: { mp4_support: "high" } });
    expectProblem(upload, 400, "validation_failed");
    expect((upload.body.errors as Problem["errors"]).map((e) => e.location)).toContain(
      "json.new_asset_settings.mp4_support",
    );
    // Nothing was half-written.
    const count = await env.DB.prepare("select count(*) as n from assets where environment_id = ?")
      .bind(key.environmentId)
      .first<{ n: number }>();
    expect(count?.n).toBe(0);
  });

  it("carries new_asset_settings.mp4_support from an upload to the asset and its job settings", async () => {
    const key = await createKey();
    const created = await api(key, "POST", "/v1/uploads", {
      new_asset_settings: { playback_policy: "public", mp4_support: "standard" },
    });
    expect(created.status).toBe(201);
    expect(created.body.new_asset_settings).toMatchObject({ mp4_support: "standard" });
    const url = new URL(created.body.url as string);
    const put = await SELF.fetch(`http://keyframe.test${url.pathname}${url.search}`, {
      method: "PUT",
      headers: { "content-type": "video/mp4" },
      body: MP4,
    });
    expect(put.status).toBe(200);
    const { asset_id } = (await put.json()) as { asset_id: string };
    const asset = await api(key, "GET", `/v1/assets/${asset_id}`);
    expect(asset.body).toMatchObject({ mp4_support: "standard", static_renditions: { status: "preparing" } });
    const job = await env.DB.prepare("select settings from jobs where asset_id = ?")
      .bind(asset_id)
      .first<{ settings: string }>();
    expect(JSON.parse(job!.settings)).toMatchObject({ mp4_support: "standard" });
  });
});

describe("complete publish with downloads", () => {
  it("records the files, shows them with a download URL, and emits the event once across repeats", async () => {
    const key = await createKey();
    const s = await seedStandardJob(key);
    const put = await internal(s.jobId, s.token, "PUT", "outputs/downloads/highest.mp4", MP4);
    expect(put.status).toBe(201);
    expect(put.body).toMatchObject({ content_type: "video/mp4", size: MP4.byteLength });

    expect((await internal(s.jobId, s.token, "POST", "publish", publishBody("fast"))).status).toBe(200);
    const preparing = await api(key, "GET", `/v1/assets/${s.assetId}`);
    expect(preparing.body).toMatchObject({ status: "ready", static_renditions: { status: "preparing", files: [] } });

    for (let i = 0; i < 2; i++) {
      const res = await internal(s.jobId, s.token, "POST", "publish", completeWith(READY_REPORT));
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    const view = await api<Asset>(key, "GET", `/v1/assets/${s.assetId}`);
    expect(view.body.static_renditions).toEqual({
      status: "ready",
      // filesize is what R2 holds, not what the transcoder claimed.
      files: [{ name: "highest.mp4", ext: "mp4", width: 1280, height: 720, bitrate: 1_300_000, filesize: 2048 }],
    });
    expect(view.body.playback_ids[0].urls.download).toBe(
      `${env.EDGE_PUBLIC_URL.replace(/\/$/, "")}/${s.playbackId}/downloads/highest.mp4`,
    );
    const types = await eventTypes(s.assetId);
    expect(types.filter((t) => t === "asset.static_renditions.ready")).toHaveLength(1);
    expect(types.filter((t) => t === "asset.renditions_ready")).toHaveLength(1);
    expect(types).not.toContain("asset.static_renditions.errored");
    const ev = await env.DB.prepare("select data from events where subject_id = ? and type = ?")
      .bind(s.assetId, "asset.static_renditions.ready")
      .first<{ data: string }>();
    expect(JSON.parse(ev!.data)).toMatchObject({
      asset_id: s.assetId,
      job_id: s.jobId,
      status: "ready",
      files: [{ name: "highest.mp4", filesize: 2048 }],
    });
    const events = await api<Page<Event>>(key, "GET", `/v1/events?limit=100`);
    expect(events.body.data.some((e) => e.type === "asset.static_renditions.ready")).toBe(true);
    expect((await jobRow(s.jobId))?.status).toBe("succeeded");
  });

  it("an errored download leaves the asset ready and playable; the event says errored", async () => {
    const key = await createKey();
    const s = await seedStandardJob(key);
    const res = await internal(
      s.jobId,
      s.token,
      "POST",
      "publish",
      completeWith({ status: "errored", files: [], error: "ffmpeg failed" }),
    );
    expect(res.status).toBe(200);
    const view = await api<Asset>(key, "GET", `/v1/assets/${s.assetId}`);
    expect(view.body).toMatchObject({
      status: "ready",
      renditions_status: "complete",
      static_renditions: { status: "errored", files: [] },
    });
    expect(view.body.playback_ids[0].urls.download).toBeNull();
    const types = await eventTypes(s.assetId);
    expect(types).toContain("asset.static_renditions.errored");
    expect(types).not.toContain("asset.static_renditions.ready");
  });

  it("a reported file that is not in storage, or no report at all, is errored", async () => {
    const key = await createKey();
    const missing = await seedStandardJob(key);
    expect((await internal(missing.jobId, missing.token, "POST", "publish", completeWith(READY_REPORT))).status).toBe(
      200,
    );
    expect((await assetRow(missing.assetId))?.static_renditions).toContain('"status":"errored"');

    const silent = await seedStandardJob(key);
    expect((await internal(silent.jobId, silent.token, "POST", "publish", publishBody("complete"))).status).toBe(200);
    const view = await api(key, "GET", `/v1/assets/${silent.assetId}`);
    expect(view.body).toMatchObject({ status: "ready", static_renditions: { status: "errored" } });
  });

  it("an mp4_support=none asset ignores a download report", async () => {
    const key = await createKey();
    const s = await seedJob(key);
    expect((await internal(s.jobId, s.token, "POST", "publish", completeWith(READY_REPORT))).status).toBe(200);
    const view = await api(key, "GET", `/v1/assets/${s.assetId}`);
    expect(view.body).toMatchObject({ mp4_support: "none", static_renditions: { status: "disabled", files: [] } });
    expect(await eventTypes(s.assetId)).not.toContain("asset.static_renditions.ready");
  });

  it("rejects a malformed download report with a 400 problem", async () => {
    const key = await createKey();
    const s = await seedStandardJob(key);
    const res = await internal(
      s.jobId,
      s.token,
      "POST",
      "publish",
      // Not a StaticRenditionName: the name is what the route must refuse.
      completeWith({
        status: "ready",
        files: [{ name: "../x.mp4" as StaticRenditionName, ext: "mp4", bitrate: 1, filesize: 1 }],
      }),
    );
    expectProblem(res, 400, "validation_failed");
    expect((await assetRow(s.assetId))?.status).toBe("processing");
  });
});

describe("minted tokens", () => {
  it("include an aud d token and a download URL once the download is ready", async () => {
    const key = await createKey();
    const s = await seedStandardJob(key);
    await internal(s.jobId, s.token, "PUT", "outputs/downloads/highest.mp4", MP4);
    await internal(s.jobId, s.token, "POST", "publish", completeWith(READY_REPORT));
    const res = await api<PlaybackTokens>(key, "POST", `/v1/playback-ids/${s.playbackId}/tokens`, {});
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const download = res.body.download;
    const payload = JSON.parse(atob(download.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    expect(payload).toMatchObject({ sub: s.playbackId, aud: "d" });
    expect(res.body.urls.download).toMatch(
      new RegExp(`/${s.playbackId}/downloads/highest\\.mp4\\?token=${download.replace(/\./g, "\\.")}$`),
    );
  });
});
