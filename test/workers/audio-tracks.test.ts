/**
 * Dubbed audio tracks through the API worker in workerd: validation, states and events, the consumer's hand-over
 * to the transcoder (a fake dispatch that records the payload; the e2e test drives the real transcoder), the
 * track-scoped token on the real callbacks, the watchdog and dead letters, delete, scopes and environments.
 */
import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { AUDIO_TRACK_ATTEMPTS, type AudioTrackDispatch } from "../../src/lib/audio-tracks";
import { newId } from "../../src/lib/ids";
import { signJobToken } from "../../src/lib/job-token";
import { transcodeConsumer } from "../../src/services/jobs/transcode-consumer";
import type { Asset, Problem } from "../support/api-types";
import { expectProblem } from "../support/problem";
import { api, createKey, type TestKey } from "./factories";
import {
  eventTypes,
  internal,
  publishBody,
  runQueue,
  seedJob,
  TRANSCODE_DLQ,
  TRANSCODE_QUEUE,
} from "./pipeline-helpers";

const tracks = (assetId: string) => `/v1/assets/${assetId}/tracks`;
const receiver = (env as unknown as { WEBHOOK_RECEIVER_URL: string }).WEBHOOK_RECEIVER_URL;
const DUB_URL = `${receiver}/_echo?body=${Buffer.from("not really audio").toString("base64url")}`;
const ALLOW = { ALLOW_PRIVATE_INGEST_URLS: "true" } as Partial<Env>;
const READY_BODY = {
  duration: 10.005,
  segments: 2,
  codecs: "mp4a.40.2",
  channels: 2,
  bandwidth: 140000,
  average_bandwidth: 131000,
  source_codec: "mp3",
};

async function trackRow(id: string) {
  return env.DB.prepare("select * from asset_tracks where id = ?").bind(id).first<Record<string, unknown>>();
}

/** A ready asset with video whose current run is a finished job (what the pipeline leaves). */
async function readyAsset(key: TestKey, media: { type: string }[] = [{ type: "video" }, { type: "audio" }]) {
  const seeded = await seedJob(key, { assetStatus: "ready", jobStatus: "succeeded" });
  await env.DB.prepare("update assets set current_run_id = ?, duration_ms = 10000, tracks = ? where id = ?")
    .bind(seeded.jobId, JSON.stringify(media.map((m) => ({ codec: "x", ...m }))), seeded.assetId)
    .run();
  return seeded;
}

/** Creates a track; the real queue then refuses the loopback URL (the production policy) — re-arm it for the test. */
async function createDub(key: TestKey, assetId: string, body: Record<string, unknown> = {}) {
  const res = await api(key, "POST", tracks(assetId), { type: "audio", url: DUB_URL, language_code: "fr", ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const id = res.body.id as string;
  await vi.waitUntil(async () => (await trackRow(id))?.status !== "preparing", { timeout: 10_000, interval: 50 });
  return { res, id };
}
const rearm = (id: string) =>
  env.DB.prepare("update asset_tracks set status = 'preparing', error = null where id = ?").bind(id).run();

/** The real consumer with a fake transcoder hand-over that records what it was given. */
async function consume(trackId: string, opts: { fail?: boolean; attempts?: number } = {}) {
  const dispatched: AudioTrackDispatch[] = [];
  const consumer = transcodeConsumer({
    dispatch: async () => {
      throw new Error("no asset jobs here");
    },
    audioDispatch: async (_env, payload) => {
      if (opts.fail) throw new Error("transcoder answered 503");
      dispatched.push(payload);
    },
  });
  const batch = createMessageBatch(TRANSCODE_QUEUE, [
    {
      id: `m-${Math.random()}`,
      timestamp: new Date(),
      attempts: opts.attempts ?? 1,
      body: { kind: "audio_track", track_id: trackId },
    },
  ]);
  const ctx = createExecutionContext();
  await consumer(batch, { ...env, ...ALLOW } as Env, ctx);
  return { dispatched, result: await getQueueResult(batch, ctx) };
}

describe("POST /v1/assets/{id}/tracks {type: audio}", { timeout: 60_000 }, () => {
  it("preparing → handed to the transcoder with a track-scoped token → ready via the callback, events once each", async () => {
    const key = await createKey(["assets:write", "assets:read"]);
    const asset = await readyAsset(key);
    const { res, id } = await createDub(key, asset.assetId, { name: "Français (doublage)", default: true });
    expect(res.body).toMatchObject({
      asset_id: asset.assetId,
      type: "audio",
      text_type: null,
      status: "preparing",
      language_code: "fr",
      name: "Français (doublage)",
      default: true,
      source: "url",
      duration: null,
      max_channels: null,
      error: null,
    });
    // The real queue refused the loopback URL under the production policy, precisely.
    expect((await api(key, "GET", `${tracks(asset.assetId)}/${id}`)).body).toMatchObject({
      status: "errored",
      error: { code: "audio_url_forbidden" },
    });
    await rearm(id);

    const { dispatched, result } = await consume(id);
    expect(dispatched).toHaveLength(1);
    const d = dispatched[0];
    expect(d).toMatchObject({
      track_id: id,
      job_id: asset.jobId,
      asset_id: asset.assetId,
      attempt: asset.attempt,
      url: DUB_URL,
      allow_private: true,
      duration: 10,
    });
    // Handed over: the message is retried (after AUDIO_TRACK_WATCHDOG_SECONDS), as the watchdog.
    expect(result.retryMessages).toHaveLength(1);
    expect(result.explicitAcks).toHaveLength(0);
    expect((await trackRow(id))?.details).toContain('"dispatches":1');

    // The track token writes under its own folder of the finished run, and nowhere else.
    const put = (path: string) => internal(asset.jobId, d.token, "PUT", `outputs/${path}`, "#EXTM3U\n");
    expect((await put(`${id}/index.m3u8`)).status).toBe(201);
    const stored = await env.MEDIA.get(`assets/${asset.assetId}/runs/${asset.jobId}/${id}/index.m3u8`);
    expect(await stored?.text()).toBe("#EXTM3U\n");
    expectProblem(await put("master.m3u8"), 403, "forbidden");
    expectProblem(await put(`tr_${"0".repeat(26)}/index.m3u8`), 403, "forbidden");
    for (const sub of ["progress", "publish", "fail"]) {
      expectProblem(await internal(asset.jobId, d.token, "POST", sub, { attempt: 1 }), 403, "forbidden");
    }
    // The job's own token cannot report for a track.
    expectProblem(
      await internal(asset.jobId, asset.token, "POST", `tracks/${id}/ready`, { attempt: 1, ...READY_BODY }),
      403,
      "forbidden",
    );
    expectProblem(
      await internal(asset.jobId, d.token, "POST", `tracks/${id}/ready`, { attempt: 1, duration: -1 }),
      400,
      "validation_failed",
    );

    const ready = await internal(asset.jobId, d.token, "POST", `tracks/${id}/ready`, { attempt: 1, ...READY_BODY });
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: "ready" });
    const got = await api(key, "GET", `${tracks(asset.assetId)}/${id}`);
    expect(got.body).toMatchObject({ status: "ready", duration: 10.005, max_channels: 2, error: null });
    expect(got.body.ready_at).toEqual(expect.any(String));
    // A repeated callback and a redelivered message change nothing and announce nothing.
    expect(
      (await internal(asset.jobId, d.token, "POST", `tracks/${id}/ready`, { attempt: 1, ...READY_BODY })).body,
    ).toEqual({
      status: "ready",
    });
    expect((await consume(id)).dispatched).toHaveLength(0);
    expect(await eventTypes(id)).toEqual(["track.created", "track.errored", "track.ready"]);
    const ev = await env.DB.prepare("select data from events where subject_id = ? and type = 'track.ready'")
      .bind(id)
      .first<{ data: string }>();
    expect(JSON.parse(ev?.data ?? "{}")).toMatchObject({ track_id: id, type: "audio", duration: 10.005 });

    // Listed on the asset with its type.
    const view = await api<Asset>(key, "GET", `/v1/assets/${asset.assetId}`);
    expect(view.body.tracks.filter((t) => t.type === "audio" && "id" in t && t.id === id)).toHaveLength(1);
  });

  it("the transcoder's precise failure reaches the track once; a hand-over failure retries, then errors", async () => {
    const key = await createKey();
    const asset = await readyAsset(key);
    const { id } = await createDub(key, asset.assetId);
    await rearm(id);
    const { dispatched } = await consume(id);
    const token = dispatched[0].token;
    const fail = (code: string) =>
      internal(asset.jobId, token, "POST", `tracks/${id}/fail`, {
        attempt: 1,
        code,
        message: "the file has no audio stream",
      });
    expectProblem(await fail("audio_is_bad"), 400, "validation_failed");
    expect((await fail("audio_no_stream")).body).toEqual({ status: "errored" });
    expect((await fail("audio_no_stream")).body).toEqual({ status: "errored" });
    expect((await api(key, "GET", `${tracks(asset.assetId)}/${id}`)).body).toMatchObject({
      status: "errored",
      error: { code: "audio_no_stream", message: "the file has no audio stream" },
    });
    expect((await eventTypes(id)).filter((t) => t === "track.errored")).toHaveLength(2); // policy, then this one

    const other = await createDub(key, asset.assetId);
    await rearm(other.id);
    const first = await consume(other.id, { fail: true });
    expect(first.result.retryMessages).toHaveLength(1);
    expect((await trackRow(other.id))?.status).toBe("preparing");
    await consume(other.id, { fail: true, attempts: AUDIO_TRACK_ATTEMPTS });
    expect((await api(key, "GET", `${tracks(asset.assetId)}/${other.id}`)).body).toMatchObject({
      status: "errored",
      error: { code: "internal_error" },
    });
  });

  it("watchdog: a track the transcoder lost is dispatched again, then errored; the DLQ errors one still preparing", async () => {
    const key = await createKey();
    const asset = await readyAsset(key);
    const { id } = await createDub(key, asset.assetId);
    await rearm(id);
    for (let n = 1; n <= AUDIO_TRACK_ATTEMPTS; n++) expect((await consume(id)).dispatched).toHaveLength(1);
    expect((await consume(id)).dispatched).toHaveLength(0);
    expect((await trackRow(id))?.status).toBe("errored");
    expect(JSON.parse(String((await trackRow(id))?.error)).code).toBe("internal_error");

    const dead = await createDub(key, asset.assetId);
    await rearm(dead.id);
    await runQueue(TRANSCODE_DLQ, [{ kind: "audio_track", track_id: dead.id }]);
    expect((await api(key, "GET", `${tracks(asset.assetId)}/${dead.id}`)).body).toMatchObject({
      status: "errored",
      error: { code: "internal_error" },
    });
  });

  it("refuses bad requests and unfit assets precisely, writing nothing", async () => {
    const key = await createKey();
    const asset = await readyAsset(key);
    const base = { type: "audio", url: "https://example.com/dub.m4a", language_code: "fr" };
    const bad = async (body: unknown, location: string) => {
      const res = await api<Problem>(key, "POST", tracks(asset.assetId), body);
      expectProblem(res, 400, "validation_failed", location);
      expect((res.body.errors ?? []).map((e) => e.location)).toContain(location);
    };
    await bad({ ...base, url: undefined }, "json.url");
    await bad({ ...base, url: "not a url" }, "json.url");
    await bad({ ...base, language_code: "french!" }, "json.language_code");
    await bad({ ...base, default: "yes" }, "json.default");
    await bad({ ...base, type: "video" }, "json.type");
    await bad({ ...base, content: "WEBVTT" }, "json");
    await bad({ ...base, text_type: "subtitles" }, "json");
    const count = async () =>
      (
        await env.DB.prepare("select count(*) as n from asset_tracks where asset_id = ?")
          .bind(asset.assetId)
          .first<{ n: number }>()
      )?.n;
    expect(await count()).toBe(0);

    const audioOnly = await readyAsset(key, [{ type: "audio" }]);
    expectProblem(await api(key, "POST", tracks(audioOnly.assetId), base), 409, "invalid_state");
    const processing = await seedJob(key, { assetStatus: "processing" });
    expectProblem(await api(key, "POST", tracks(processing.assetId), base), 409, "invalid_state");
    await env.DB.prepare("update assets set status = 'errored' where id = ?").bind(asset.assetId).run();
    expectProblem(await api(key, "POST", tracks(asset.assetId), base), 409, "invalid_state");
    expect(await count()).toBe(0);
    expectProblem(await api(key, "POST", tracks(`as_${"0".repeat(26)}`), base), 404, "not_found");
  });

  it("one default audio track per asset (a text default is untouched); DELETE removes it and its files", async () => {
    const key = await createKey();
    const asset = await readyAsset(key);
    const text = await api(key, "POST", tracks(asset.assetId), {
      type: "text",
      text_type: "subtitles",
      language_code: "en",
      content: "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHi\n",
      default: true,
    });
    const a = await createDub(key, asset.assetId, { default: true });
    const b = await createDub(key, asset.assetId, { default: true, language_code: "de" });
    const view = async (id: string) => (await api(key, "GET", `${tracks(asset.assetId)}/${id}`)).body;
    expect((await view(a.id)).default).toBe(false);
    expect((await view(b.id)).default).toBe(true);
    expect((await view(text.body.id as string)).default).toBe(true);
    expect((await view(b.id)).name).toBe("German");

    await rearm(b.id);
    const { dispatched } = await consume(b.id);
    const prefix = `assets/${asset.assetId}/runs/${asset.jobId}/${b.id}/`;
    for (const f of ["index.m3u8", "init.mp4", "seg_00000.m4s"]) {
      expect((await internal(asset.jobId, dispatched[0].token, "PUT", `outputs/${b.id}/${f}`, "x")).status).toBe(201);
    }
    expect((await env.MEDIA.list({ prefix })).objects).toHaveLength(3);
    const path = `${tracks(asset.assetId)}/${b.id}`;
    expect((await api(key, "DELETE", path)).status).toBe(204);
    expectProblem(await api(key, "GET", path), 404, "not_found");
    await vi.waitUntil(async () => (await env.MEDIA.list({ prefix })).objects.length === 0, { timeout: 5_000 });
    expect(await eventTypes(b.id)).toEqual(["track.created", "track.errored", "track.deleted"]);
    // A render that finishes after the delete stores nothing that stays.
    await internal(asset.jobId, dispatched[0].token, "PUT", `outputs/${b.id}/index.m3u8`, "x");
    const late = await internal(asset.jobId, dispatched[0].token, "POST", `tracks/${b.id}/ready`, {
      attempt: 1,
      ...READY_BODY,
    });
    expect(late.body).toEqual({ status: "deleted" });
    await vi.waitUntil(async () => (await env.MEDIA.list({ prefix })).objects.length === 0, { timeout: 5_000 });
  });

  it("scopes and environments: write needs assets:write, read needs assets:read; other environments see nothing", async () => {
    const owner = await createKey();
    const asset = await readyAsset(owner);
    const { id } = await createDub(owner, asset.assetId);
    const path = `${tracks(asset.assetId)}/${id}`;
    const body = { type: "audio", url: "https://example.com/a.m4a", language_code: "es" };
    const reader = await createKey(["assets:read"], owner.environmentId);
    expectProblem(await api(reader, "POST", tracks(asset.assetId), body), 403, "forbidden");
    expectProblem(await api(reader, "DELETE", path), 403, "forbidden");
    expect((await api(reader, "GET", path)).body.type).toBe("audio");
    expectProblem(await api(null, "POST", tracks(asset.assetId), body), 401, "unauthenticated");
    const stranger = await createKey();
    expectProblem(await api(stranger, "POST", tracks(asset.assetId), body), 404, "not_found");
    expectProblem(await api(stranger, "GET", path), 404, "not_found");
    expectProblem(await api(stranger, "DELETE", path), 404, "not_found");
  });
});

describe("dubbed audio tracks across runs", { timeout: 60_000 }, () => {
  it("a new run of the asset (a reprocess) renders its ready dubs again for that run instead of dropping them", async () => {
    const key = await createKey(["assets:write", "assets:read"]);
    const asset = await readyAsset(key);
    const { id } = await createDub(key, asset.assetId);
    const errored = (await createDub(key, asset.assetId, { language_code: "de" })).id;
    // Rendered for the first run, as the transcoder's callback leaves it.
    await env.DB.prepare("update asset_tracks set status = 'ready', error = null, details = ? where id = ?")
      .bind(JSON.stringify({ run_id: asset.jobId, dispatches: 1, duration: 10 }), id)
      .run();

    // A second run of the asset completes (what a reprocess's job does).
    const jobId = newId("job");
    await env.DB.prepare(
      `insert into jobs (id, environment_id, asset_id, status, attempt, max_attempts, settings, dispatched_at,
         last_heartbeat_at, updated_at) values (?, ?, ?, 'running', 1, 5, '{}', ?, ?, ?)`,
    )
      .bind(jobId, key.environmentId, asset.assetId, ...Array(3).fill(new Date().toISOString()))
      .run();
    const token = await signJobToken(env, { jobId, attempt: 1 });
    expect((await internal(jobId, token, "POST", "publish", publishBody("complete"))).status).toBe(200);

    const row = await trackRow(id);
    expect(row?.ready_at).toBeNull();
    expect(JSON.parse(row?.details as string)).toEqual({ run_id: jobId, dispatches: 0 });
    // Queued again: the real queue may already have refused the loopback URL (the production policy).
    if (row?.status !== "preparing") expect(row?.error).toContain("audio_url_forbidden");
    await rearm(id);
    // An errored dub stays errored (its URL was refused; recreating it is the caller's call).
    expect(JSON.parse((await trackRow(errored))?.details as string).run_id).toBe(asset.jobId);
    // It is rendered against the new run.
    const { dispatched } = await consume(id);
    expect(dispatched.map((d) => d.job_id)).toEqual([jobId]);
    // A repeated `complete` callback finds it on this run already: nothing is queued twice.
    expect((await internal(jobId, token, "POST", "publish", publishBody("complete"))).status).toBe(200);
    expect(JSON.parse((await trackRow(id))?.details as string)).toMatchObject({ run_id: jobId, dispatches: 1 });
  });
});
