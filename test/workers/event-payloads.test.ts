/**
 * Event payloads carry the object, for every event family (upload, asset, playback_id, track,
 * live_stream): each change is made through the API (the transcoder's internal callbacks and the HLS
 * ingest for the pipeline and live milestones), the webhook is received by the Node receiver, which
 * verifies it with the `standardwebhooks` library, and its `data` must deep-equal the resource as
 * `GET` returned it right after the change (for deletes: right before), plus the type's ids. Every
 * delivered body is validated against the OpenAPI document's `webhooks` schema for its type, the
 * event feed (`GET /v1/events/{id}` and the list) must return the same envelope, and no secret (API
 * key, endpoint secret, upload URL token, stream key) may appear in any body.
 */
import { createExecutionContext, createMessageBatch, env, getQueueResult, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it, vi } from "vitest";
import type { JobDispatch, JobPublish } from "../../src/lib/transcoder-protocol";
import { transcodeConsumer } from "../../src/services/jobs/transcode-consumer";
import { expireUploads } from "../../src/services/uploads/expire";
import type { Asset, Event, LiveStream, Page, TimelineEntry } from "../support/api-types";
import { webhookPayloadValidator } from "../support/openapi-validator";
import { configureHook, hookName, hookUrl, received, waitFor } from "../support/webhook-receiver-client";
import { api, createKey, type TestKey } from "./factories";
import { playlist, tsSegment } from "./live-helpers";
import { internal, publishBody, TRANSCODE_QUEUE } from "./pipeline-helpers";

type Json = Record<string, unknown>;
/** The timeline's events, in order. */
type Timeline = { data: TimelineEntry[] };
const eventsOf = (t: Timeline) => t.data.flatMap((e) => (e.kind === "event" ? [e.event] : []));

// Many requests and deliveries per test: generous bounds for a loaded machine.
vi.setConfig({ testTimeout: 90_000 });

let validate: (type: string, payload: unknown) => string[];

beforeAll(async () => {
  const res = await SELF.fetch("http://keyframe.test/v1/openapi.json");
  validate = webhookPayloadValidator((await res.json()) as Json);
});

/** An environment with a key for everything, a read-only key, and a webhook endpoint the receiver verifies. */
async function setup() {
  const key = await createKey(["*"]);
  const reader = await createKey(["assets:read", "live:read"], key.environmentId);
  const name = hookName("payload");
  const ep = await api(key, "POST", "/v1/webhook-endpoints", { url: hookUrl(name) });
  expect(ep.status).toBe(201);
  await configureHook(name, { secrets: [ep.body.secret as string] });
  const secrets = [key.secret, reader.secret, ep.body.secret as string];
  return { key, reader, name, secret: ep.body.secret as string, secrets };
}
type Setup = Awaited<ReturnType<typeof setup>>;

interface Expected {
  type: string;
  /** The resource as GET returned it right after the change (before it, for deletes). */
  resource: Json;
  /** The ids (and facts) the type carries beside the resource. */
  ids: Json;
}

/** GET that must answer 200; `T` is the resource expected (an `Expected.resource` by default). */
async function get<T = Json>(key: TestKey, path: string): Promise<T> {
  const res = await api<T>(key, "GET", path);
  expect(res.status, `GET ${path}: ${JSON.stringify(res.body)}`).toBe(200);
  return res.body;
}

/**
 * Waits for every expected event to be delivered and acknowledged, then checks each one: signature,
 * `data`, the document's schema, the feed, and that no secret is in the body.
 */
async function checkDeliveries(s: Setup, expected: Expected[]) {
  const find = (reqs: Awaited<ReturnType<typeof received>>, e: Expected) =>
    reqs.find((r) => {
      if (r.responded === null || r.responded < 200 || r.responded > 299) return false;
      const body = JSON.parse(r.body);
      return body.type === e.type && body.data.id === e.resource.id;
    });
  const reqs = await waitFor(
    async () => {
      const all = await received(s.name);
      return expected.every((e) => find(all, e)) ? all : null;
    },
    60_000,
    `deliveries of ${expected.map((e) => e.type).join(", ")}`,
  ).catch(async (err: Error) => {
    const got = (await received(s.name)).map((r) => {
      const b = JSON.parse(r.body);
      return `${b.type} ${b.data?.id} ${r.responded}`;
    });
    const missing = expected.map((e) => `${e.type} ${e.resource.id}`).filter((x) => !got.some((g) => g.startsWith(x)));
    throw new Error(`${err.message}\nmissing: ${missing.join("; ")}\nreceived: ${got.join("; ")}`);
  });
  for (const e of expected) {
    const req = find(reqs, e)!;
    const what = `${e.type} ${e.resource.id}`;
    expect(req.verified[s.secret], `${what}: standardwebhooks verification`).toBe(true);
    const body = JSON.parse(req.body);
    expect(req.headers["webhook-id"]).toBe(body.id);
    expect(body.data, what).toEqual({ ...e.ids, ...e.resource });
    expect(validate(e.type, body), `${what}: the OpenAPI webhooks schema`).toEqual([]);
    for (const secret of s.secrets) expect(req.body, `${what}: a secret in the body`).not.toContain(secret);
    const fed = await get(s.key, `/v1/events/${body.id}`);
    expect(fed, `${what}: GET /v1/events/{id}`).toEqual(body);
  }
  // The list feed returns the same envelopes.
  const listed = new Map<string, Event>();
  let after: string | undefined;
  for (;;) {
    const page = await get<Page<Event>>(s.key, `/v1/events?limit=100${after ? `&after=${after}` : ""}`);
    for (const ev of page.data) listed.set(ev.id, ev);
    if (!page.next_cursor) break;
    after = page.next_cursor;
  }
  for (const e of expected) {
    const body = JSON.parse(find(reqs, e)!.body);
    expect(listed.get(body.id), `${e.type}: GET /v1/events`).toEqual(body);
  }
  return reqs;
}

/** The transcode-jobs consumer with a dispatch that records what it would send (no transcoder in workerd). */
async function claim(jobId: string): Promise<JobDispatch> {
  const sent: JobDispatch[] = [];
  const handler = transcodeConsumer({ dispatch: async (_env, payload) => void sent.push(payload) });
  const batch = createMessageBatch(TRANSCODE_QUEUE, [
    { id: "m0", timestamp: new Date(), attempts: 1, body: { kind: "transcode", job_id: jobId } },
  ]);
  const ctx = createExecutionContext();
  await handler(batch, env, ctx);
  const result = await getQueueResult(batch, ctx);
  expect(sent, JSON.stringify(result)).toHaveLength(1);
  return sent[0];
}

/**
 * A queued job for an asset created through the API, as a completed upload leaves one (source in R2,
 * asset `queued`); inserted directly so no queue message races the test.
 */
async function queueJob(key: TestKey, assetId: string): Promise<string> {
  const jobId = `job_${assetId.slice(3)}`;
  const sourceKey = `sources/${assetId}/source`;
  await env.MEDIA.put(sourceKey, new Uint8Array(64), { httpMetadata: { contentType: "video/mp4" } });
  await env.DB.prepare("update assets set status = 'queued', source_key = ? where id = ?")
    .bind(sourceKey, assetId)
    .run();
  await env.DB.prepare(
    `insert into jobs (id, environment_id, asset_id, status, attempt, max_attempts, settings)
     values (?, ?, ?, 'queued', 0, 5, ?)`,
  )
    .bind(
      jobId,
      key.environmentId,
      assetId,
      JSON.stringify({ max_resolution: "1080p", fast_path: true, source_size_bytes: 64 }),
    )
    .run();
  return jobId;
}

const DOWNLOAD: JobPublish["static_renditions"] = {
  status: "ready",
  files: [{ name: "highest.mp4", ext: "mp4", width: 1280, height: 720, bitrate: 1_300_000, filesize: 999 }],
};

describe("event payloads carry the object", () => {
  it("the upload family: created, cancelled, expired, completed (and the asset and playback ID it creates)", async () => {
    const s = await setup();
    const expected: Expected[] = [];

    const created = await api(s.key, "POST", "/v1/uploads", { new_asset_settings: { playback_policy: "public" } });
    expect(created.status).toBe(201);
    const up = created.body.id as string;
    const token = new URL(created.body.url as string).searchParams.get("token") as string;
    s.secrets.push(token);
    // Events show the upload as a key without uploads:write sees it: without its URLs.
    const asRead = await get(s.reader, `/v1/uploads/${up}`);
    expect(asRead.url).toBeUndefined();
    expect({ ...asRead, url: created.body.url, tus_url: created.body.tus_url }).toEqual(created.body);
    expected.push({ type: "upload.created", resource: asRead, ids: { upload_id: up } });

    const toCancel = await api(s.key, "POST", "/v1/uploads", {});
    s.secrets.push(new URL(toCancel.body.url as string).searchParams.get("token") as string);
    expect((await api(s.key, "DELETE", `/v1/uploads/${toCancel.body.id}`)).status).toBe(204);
    expected.push({
      type: "upload.cancelled",
      resource: await get(s.reader, `/v1/uploads/${toCancel.body.id}`),
      ids: { upload_id: toCancel.body.id },
    });

    const toExpire = await api(s.key, "POST", "/v1/uploads", {});
    s.secrets.push(new URL(toExpire.body.url as string).searchParams.get("token") as string);
    await env.DB.prepare("update uploads set expires_at = ? where id = ?")
      .bind(new Date(Date.now() - 1000).toISOString(), toExpire.body.id)
      .run();
    const exec = createExecutionContext();
    expect((await expireUploads(env, exec)).expired).toBeGreaterThanOrEqual(1);
    const expired = await get(s.reader, `/v1/uploads/${toExpire.body.id}`);
    expect(expired.status).toBe("expired");
    expected.push({
      type: "upload.expired",
      resource: expired,
      ids: { upload_id: expired.id, bytes_received: 0, expires_at: expired.expires_at },
    });

    const bytes = new Uint8Array(4096).fill(7);
    const put = await SELF.fetch(created.body.url as string, {
      method: "PUT",
      headers: { "content-type": "video/mp4" },
      body: bytes,
    });
    expect(put.status).toBe(200);
    const { asset_id: assetId } = (await put.json()) as { asset_id: string };
    const completed = await get(s.reader, `/v1/uploads/${up}`);
    expected.push({
      type: "upload.completed",
      resource: completed,
      ids: { upload_id: up, asset_id: assetId, size: bytes.byteLength },
    });
    const asset = await get<Asset>(s.key, `/v1/assets/${assetId}`);
    const pb = asset.playback_ids[0].id;
    expected.push({
      type: "playback_id.created",
      resource: await get(s.key, `/v1/assets/${assetId}/playback-ids/${pb}`),
      ids: { playback_id: pb, asset_id: assetId },
    });

    await checkDeliveries(s, expected);

    // The completed upload's job is really queued, and the queue consumer may already have claimed it
    // (asset.processing) when the GET above ran: then only what the claim changes (status, progress,
    // updated_at) differs from the `queued` asset that asset.created announced.
    const createdAsset = await waitFor(async () => {
      const req = (await received(s.name)).find(
        (r) => r.responded === 200 && JSON.parse(r.body).type === "asset.created",
      );
      return req ? (JSON.parse(req.body) as Omit<Event, "data"> & { data: Asset }) : null;
    });
    expect(validate("asset.created", createdAsset)).toEqual([]);
    const claimed = asset.status !== "queued";
    const announced = claimed
      ? { ...asset, status: "queued", progress: null, updated_at: createdAsset.data.updated_at }
      : asset;
    expect(createdAsset.data).toEqual({ asset_id: assetId, upload_id: up, ...(announced as Json) });
    if (claimed) expect(createdAsset.data.updated_at <= asset.updated_at).toBe(true);
  });

  it("the asset, playback ID and track families: API changes and the pipeline's milestones", async () => {
    const s = await setup();
    const expected: Expected[] = [];

    const created = await api(s.key, "POST", "/v1/assets", {
      title: "Talk",
      playback_policy: "public",
      mp4_support: "standard",
      passthrough: "p-1",
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const at = `/v1/assets/${id}`;
    expect(await get(s.key, at)).toEqual(created.body);
    expected.push({
      type: "asset.created",
      resource: created.body,
      ids: { asset_id: id, status: "waiting", passthrough: "p-1" },
    });
    const pb0 = (created.body.playback_ids as Json[])[0].id as string;
    expected.push({
      type: "playback_id.created",
      resource: await get(s.key, `${at}/playback-ids/${pb0}`),
      ids: { playback_id: pb0, asset_id: id },
    });

    const patched = await api(s.key, "PATCH", at, { title: "Talk 2", metadata: { k: "v" } });
    expect(patched.status).toBe(200);
    expected.push({
      type: "asset.updated",
      resource: await get(s.key, at),
      ids: { asset_id: id, changed: ["title", "metadata"] },
    });

    // The pipeline: a queued job claimed by the real consumer, then the transcoder's callbacks.
    const jobId = await queueJob(s.key, id);
    const dispatched = await claim(jobId);
    expected.push({ type: "asset.processing", resource: await get(s.key, at), ids: { asset_id: id, job_id: jobId } });
    const fast = await internal(jobId, dispatched.token, "POST", "publish", publishBody("fast"));
    expect(fast.status, JSON.stringify(fast.body)).toBe(200);
    const ready = await get(s.key, at);
    expect(ready).toMatchObject({ status: "ready", renditions_status: "preparing" });
    expected.push({ type: "asset.ready", resource: ready, ids: { asset_id: id, job_id: jobId } });
    const mp4 = new Uint8Array(2048).fill(1);
    expect((await internal(jobId, dispatched.token, "PUT", "outputs/downloads/highest.mp4", mp4)).status).toBe(201);
    const complete = await internal(jobId, dispatched.token, "POST", "publish", {
      ...publishBody("complete"),
      static_renditions: DOWNLOAD,
    });
    expect(complete.status, JSON.stringify(complete.body)).toBe(200);
    const done = await get<Asset>(s.key, at);
    expect(done).toMatchObject({ renditions_status: "complete", static_renditions: { status: "ready" } });
    expected.push({ type: "asset.renditions_ready", resource: done, ids: { asset_id: id, job_id: jobId } });
    expected.push({
      type: "asset.static_renditions.ready",
      resource: done,
      ids: { asset_id: id, job_id: jobId, files: done.static_renditions.files },
    });

    // Tracks: inline (created + ready in one batch: both carry the stored track), then deleted.
    const track = await api(s.key, "POST", `${at}/tracks`, {
      type: "text",
      language_code: "en",
      text_type: "subtitles",
      content: "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nHello\n",
    });
    expect(track.status, JSON.stringify(track.body)).toBe(201);
    const trackPath = `${at}/tracks/${track.body.id}`;
    const storedTrack = await get(s.key, trackPath);
    expect(storedTrack.status).toBe("ready");
    const trackIds = { track_id: track.body.id, asset_id: id, type: "text", text_type: "subtitles" };
    expected.push({ type: "track.created", resource: storedTrack, ids: trackIds });
    expected.push({ type: "track.ready", resource: storedTrack, ids: { ...trackIds, cue_count: 1 } });
    expect((await api(s.key, "DELETE", trackPath)).status).toBe(204);
    expected.push({ type: "track.deleted", resource: storedTrack, ids: trackIds });

    // Playback IDs: created with an allow-list, deleted (data: its last state).
    const pbRes = await api(s.key, "POST", `${at}/playback-ids`, {
      policy: "signed",
      allowed_origins: ["*.Example.com"],
    });
    expect(pbRes.status, JSON.stringify(pbRes.body)).toBe(201);
    const pb = await get(s.key, `${at}/playback-ids/${pbRes.body.id}`);
    expect(pb.allowed_origins).toEqual(["*.example.com"]);
    expected.push({ type: "playback_id.created", resource: pb, ids: { playback_id: pb.id, asset_id: id } });
    expect((await api(s.key, "DELETE", `${at}/playback-ids/${pb.id}`)).status).toBe(204);
    expected.push({ type: "playback_id.deleted", resource: pb, ids: { playback_id: pb.id, asset_id: id } });

    // Deleted: data is the asset as GET showed it just before.
    const last = await get(s.key, at);
    expect((await api(s.key, "DELETE", at)).status).toBe(204);
    expected.push({ type: "asset.deleted", resource: last, ids: { asset_id: id } });

    // A second asset whose job fails: asset.errored.
    const other = await api(s.key, "POST", "/v1/assets", { playback_policy: "signed" });
    const otherJob = await queueJob(s.key, other.body.id as string);
    const run = await claim(otherJob);
    const failed = await internal(otherJob, run.token, "POST", "fail", {
      attempt: run.attempt,
      code: "input_unreadable",
      message: "not a readable media file",
      retryable: false,
    });
    expect(failed.status, JSON.stringify(failed.body)).toBe(200);
    const errored = await get(s.key, `/v1/assets/${other.body.id}`);
    expect(errored.status).toBe("errored");
    expected.push({
      type: "asset.errored",
      resource: errored,
      ids: { asset_id: errored.id, job_id: otherJob, status: "errored", error: errored.error },
    });

    await checkDeliveries(s, expected);
  });

  it("the live stream family: settings verbs, the ingest's milestones, and no stream key anywhere", async () => {
    const s = await setup();
    const expected: Expected[] = [];

    const created = await api(s.key, "POST", "/v1/live-streams", {
      latency_mode: "low",
      playback_policy: "public",
      passthrough: "live-1",
      recording: { mode: "automatic", new_asset_settings: { playback_policy: "public", title: "Rec" } },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const at = `/v1/live-streams/${id}`;
    s.secrets.push(created.body.stream_key as string);
    const view = await get<LiveStream>(s.key, at);
    expect(view.stream_key).toBeUndefined();
    expect(view.ingest.hls_url).toBeNull();
    const ids = { live_stream_id: id, passthrough: "live-1" };
    expected.push({ type: "live_stream.created", resource: view, ids: { ...ids, status: "idle" } });
    const pb0 = (created.body.playback_ids as Json[])[0].id as string;
    expected.push({
      type: "playback_id.created",
      resource: await get(s.key, `${at}/playback-ids/${pb0}`),
      ids: { playback_id: pb0, live_stream_id: id },
    });

    expect((await api(s.key, "PATCH", at, { reconnect_window: 30, dvr_window: 60 })).status).toBe(200);
    expected.push({
      type: "live_stream.updated",
      resource: await get(s.key, at),
      ids: { ...ids, changed: ["reconnect_window", "dvr_window"] },
    });
    expect((await api(s.key, "PUT", `${at}/disable`)).status).toBe(200);
    expected.push({ type: "live_stream.disabled", resource: await get(s.key, at), ids });
    expect((await api(s.key, "PUT", `${at}/enable`)).status).toBe(200);
    expected.push({ type: "live_stream.enabled", resource: await get(s.key, at), ids });
    const reset = await api(s.key, "POST", `${at}/reset-stream-key`);
    expect(reset.status).toBe(200);
    const streamKey = reset.body.stream_key as string;
    s.secrets.push(streamKey);
    expected.push({ type: "live_stream.stream_key_reset", resource: await get(s.key, at), ids });

    const pbRes = await api(s.key, "POST", `${at}/playback-ids`, { policy: "signed" });
    expect(pbRes.status).toBe(201);
    const pb = await get(s.key, `${at}/playback-ids/${pbRes.body.id}`);
    expected.push({ type: "playback_id.created", resource: pb, ids: { playback_id: pb.id, live_stream_id: id } });
    expect((await api(s.key, "DELETE", `${at}/playback-ids/${pb.id}`)).status).toBe(204);
    expected.push({ type: "playback_id.deleted", resource: pb, ids: { playback_id: pb.id, live_stream_id: id } });

    // The encoder pushes a segment and its playlist: connected + active (one batch: both carry the
    // stream as it is after it) and the recording asset is created.
    const base = `http://keyframe.test/live/${streamKey}`;
    const ingest = (path: string, body: BodyInit) => SELF.fetch(`${base}/${path}`, { method: "PUT", body });
    expect((await ingest("index0.ts", tsSegment())).status).toBe(201);
    expect((await ingest("index.m3u8", playlist([["index0.ts", 2]]))).status).toBe(201);
    const active = await get(s.key, at);
    expect(active).toMatchObject({ status: "active", connection: "connected" });
    const sessionEvents = eventsOf(await get<Timeline>(s.key, `${at}/events`));
    const sessionId = sessionEvents.find((e) => e.type === "live_stream.active")?.data.session_id;
    expect(sessionId).toBeTruthy();
    expected.push({
      type: "live_stream.connected",
      resource: active,
      ids: { ...ids, session_id: sessionId, reconnect: false },
    });
    expected.push({ type: "live_stream.active", resource: active, ids: { ...ids, session_id: sessionId } });
    const recordingId = active.active_asset_id as string;
    const recording = await get(s.key, `/v1/assets/${recordingId}`);
    expect(recording.status).toBe("processing");
    expected.push({
      type: "asset.created",
      resource: recording,
      ids: { asset_id: recordingId, status: "processing", live_stream_id: id, passthrough: null },
    });

    // ENDLIST: disconnected + idle, and the recording is ready.
    expect((await ingest("index1.ts", tsSegment())).status).toBe(201);
    const ended = playlist(
      [
        ["index0.ts", 2],
        ["index1.ts", 1.5],
      ],
      true,
    );
    expect((await ingest("index.m3u8", ended)).status).toBe(201);
    const idle = await get(s.key, at);
    expect(idle).toMatchObject({ status: "idle", connection: "disconnected", recent_asset_ids: [recordingId] });
    expected.push({ type: "live_stream.disconnected", resource: idle, ids: { ...ids, session_id: sessionId } });
    const idleEvent = eventsOf(await get<Timeline>(s.key, `${at}/events`)).find((e) => e.type === "live_stream.idle");
    expected.push({
      type: "live_stream.idle",
      resource: idle,
      ids: { ...ids, session_id: sessionId, reason: idleEvent?.data.reason },
    });
    expect(typeof idleEvent?.data.reason).toBe("string");
    const recorded = await get(s.key, `/v1/assets/${recordingId}`);
    expect(recorded).toMatchObject({ status: "ready", duration: 3.5 });
    expected.push({
      type: "asset.ready",
      resource: recorded,
      ids: { asset_id: recordingId, status: "ready", live_stream_id: id, duration: 3.5 },
    });

    const last = await get(s.key, at);
    expect((await api(s.key, "DELETE", at)).status).toBe(204);
    expected.push({ type: "live_stream.deleted", resource: last, ids });

    await checkDeliveries(s, expected);
  });

  it("the validator refuses a payload that does not match the document", () => {
    const good = {
      id: "evt_x",
      type: "track.deleted",
      created_at: "2026-11-30T00:00:00.000Z",
      environment_id: "env_x",
      api_version: "2026-11-01",
      correlation_id: null,
      data: { track_id: "tr_x" },
    };
    // `data` without the track's fields (as events carried before they carried the object) is refused.
    expect(validate("track.deleted", good).join("\n")).toMatch(/must have required property 'status'/);
    expect(validate("asset.exploded", good)).toEqual(["the document has no webhook 'asset.exploded'"]);
  });
});
