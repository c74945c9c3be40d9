/**
 * The `generated_subtitles` hook through the API worker in workerd: the setting on asset creation, upload
 * `new_asset_settings` and live recordings; the `preparing` track and its events in the asset's own batch;
 * bad settings refused before anything is written; the real queue moving the track on when the asset is
 * ready (no engine ships, so `text_generation_unavailable`) or errored; and, with an engine handed to the
 * real consumer, the engine's file normalised and stored like any other text track.
 */
import { createExecutionContext, createMessageBatch, env, getQueueResult, SELF } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { transcodeConsumer } from "../../src/services/jobs/transcode-consumer";
import type { SpeechEngine } from "../../src/services/tracks/generated";
import type { Problem } from "../support/api-types";
import { expectProblem } from "../support/problem";
import { api, createAsset, createKey, type TestKey } from "./factories";
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

async function trackRow(id: string) {
  return env.DB.prepare("select * from asset_tracks where id = ?").bind(id).first<Record<string, unknown>>();
}

async function generatedTracks(key: TestKey, assetId: string) {
  // An asset lists its tracks (media, then added and generated ones) on the asset itself.
  const res = await api<{ tracks: Record<string, unknown>[] }>(key, "GET", `/v1/assets/${assetId}`);
  expect(res.status).toBe(200);
  return res.body.tracks.filter((t) => t.source === "generated");
}

/** A ready asset holding a generated track that nothing has queued yet (set in SQL, not by a publish). */
async function readyWithGenerated(key: TestKey, media = [{ type: "video" }, { type: "audio" }]) {
  const asset = await createAsset(key, { generated_subtitles: [{ language_code: "en" }] });
  await env.DB.prepare("update assets set status = 'ready', tracks = ?, current_run_id = 'job_x' where id = ?")
    .bind(JSON.stringify(media), asset.id)
    .run();
  const [track] = await generatedTracks(key, asset.id);
  return { assetId: asset.id, trackId: track.id as string };
}

/** The real transcode-jobs consumer on one `generated_track` message, with the engine given. */
async function generate(trackId: string, speech?: SpeechEngine) {
  const consumer = transcodeConsumer({
    dispatch: async () => {
      throw new Error("no asset jobs here");
    },
    speech,
  });
  const batch = createMessageBatch(TRANSCODE_QUEUE, [
    {
      id: `m-${Math.random()}`,
      timestamp: new Date(),
      attempts: 1,
      body: { kind: "generated_track", track_id: trackId },
    },
  ]);
  const ctx = createExecutionContext();
  await consumer(batch, env, ctx);
  return getQueueResult(batch, ctx);
}

describe("generated_subtitles on POST /v1/assets", { timeout: 60_000 }, () => {
  it("creates one preparing generated track per language, announced in the asset's own batch", async () => {
    const key = await createKey(["assets:write", "assets:read"]);
    const asset = await createAsset(key, {
      correlation_id: "corr-gen",
      generated_subtitles: [{ language_code: "en-us" }, { language_code: "fr", name: "Français (auto)" }],
    });
    const got = await generatedTracks(key, asset.id);
    expect(got).toHaveLength(2);
    expect(got.find((t) => t.language_code === "en-US")).toMatchObject({
      type: "text",
      text_type: "subtitles",
      status: "preparing",
      source: "generated",
      name: "American English (generated)",
      closed_captions: false,
      default: false,
      format: null,
      error: null,
      correlation_id: "corr-gen",
    });
    expect(got.find((t) => t.language_code === "fr")?.name).toBe("Français (auto)");
    for (const t of got) expect(await eventTypes(t.id as string)).toEqual(["track.created"]);
    // Not playable yet: the edge lists only ready tracks, and nothing was stored.
    expect(await env.MEDIA.get(`assets/${asset.id}/tracks/${got[0].id}.vtt`)).toBeNull();
  });

  it("refuses bad settings with a precise 400 and writes nothing", async () => {
    const key = await createKey();
    const before = await env.DB.prepare("select count(*) as n from assets").first<{ n: number }>();
    const cases: [unknown, string][] = [
      [[{ language_code: "en" }, { language_code: "EN" }], "generated_subtitles.1.language_code"],
      [[{ language_code: "not a tag" }], "generated_subtitles.0.language_code"],
      [[{ language_code: "en", model: "large" }], "generated_subtitles.0"],
      [
        Array.from({ length: 6 }, (_, i) => ({ language_code: ["en", "fr", "de", "es", "it", "pt"][i] })),
        "generated_subtitles",
      ],
      ["en", "generated_subtitles"],
    ];
    for (const [value, location] of cases) {
      const res = await api<Problem>(key, "POST", "/v1/assets", { generated_subtitles: value });
      expectProblem(res, 400, "validation_failed");
      expect(
        res.body.errors?.some((e) => e.location === `json.${location}` || e.location.startsWith(`json.${location}`)),
        JSON.stringify(res.body.errors),
      ).toBe(true);
    }
    const after = await env.DB.prepare("select count(*) as n from assets").first<{ n: number }>();
    expect(after?.n).toBe(before?.n);
  });

  it("ready asset → the real queue runs the hook; with no engine the track errors with text_generation_unavailable", async () => {
    const key = await createKey(["assets:write", "assets:read"]);
    const asset = await createAsset(key, { generated_subtitles: [{ language_code: "de" }] });
    const [track] = await generatedTracks(key, asset.id);
    const run = await seedJob(key, { assetId: asset.id });
    expect((await internal(run.jobId, run.token, "POST", "publish", publishBody("fast"))).status).toBe(200);
    await vi.waitUntil(async () => (await trackRow(track.id as string))?.status !== "preparing", {
      timeout: 10_000,
      interval: 50,
    });
    const res = await api(key, "GET", `${tracks(asset.id)}/${track.id}`);
    expect(res.body).toMatchObject({ status: "errored", source: "generated", ready_at: null });
    expect(res.body.error).toMatchObject({ code: "text_generation_unavailable" });
    expect(String((res.body.error as { message: string }).message)).toMatch(/no speech-to-text engine/);
    expect(await eventTypes(track.id as string)).toEqual(["track.created", "track.errored"]);
    // The asset itself is unaffected: still ready, and a repeated callback announces nothing twice.
    expect((await internal(run.jobId, run.token, "POST", "publish", publishBody("fast"))).status).toBe(200);
    expect((await api(key, "GET", `/v1/assets/${asset.id}`)).body.status).toBe("ready");
    expect(await eventTypes(track.id as string)).toEqual(["track.created", "track.errored"]);
  });

  it("an asset that errors takes its waiting generated tracks with it", async () => {
    const key = await createKey(["assets:write", "assets:read"]);
    const asset = await createAsset(key, { generated_subtitles: [{ language_code: "ja" }] });
    const [track] = await generatedTracks(key, asset.id);
    const run = await seedJob(key, { assetId: asset.id });
    const failed = await internal(run.jobId, run.token, "POST", "fail", {
      attempt: 1,
      code: "input_unreadable",
      message: "not a video",
      retryable: false,
    });
    expect(failed.status).toBe(200);
    const row = await trackRow(track.id as string);
    expect(row?.status).toBe("errored");
    expect(JSON.parse(row?.error as string)).toMatchObject({ code: "text_generation_asset_errored" });
    expect(await eventTypes(track.id as string)).toEqual(["track.created", "track.errored"]);
  });
});

describe("the generated_track consumer with an engine", { timeout: 60_000 }, () => {
  it("stores the engine's SRT as normalised WebVTT: ready, track.ready once, listed for playback", async () => {
    const key = await createKey(["assets:write", "assets:read"]);
    const { assetId, trackId } = await readyWithGenerated(key);
    const asked: unknown[] = [];
    const engine: SpeechEngine = {
      async transcribe(req) {
        asked.push({ assetId: req.assetId, runId: req.runId, languageCode: req.languageCode });
        return "1\r\n00:00:00,500 --> 00:00:02,000\r\nHello there\r\n\r\n2\r\n00:00:02,500 --> 00:00:04,000\r\nGeneral Kenobi\r\n";
      },
    };
    const result = await generate(trackId, engine);
    expect(result.explicitAcks).toHaveLength(1);
    expect(asked).toEqual([{ assetId, runId: "job_x", languageCode: "en" }]);
    const res = await api(key, "GET", `${tracks(assetId)}/${trackId}`);
    expect(res.body).toMatchObject({ status: "ready", source: "generated", format: "srt", cue_count: 2, error: null });
    const vtt = await env.MEDIA.get(`assets/${assetId}/tracks/${trackId}.vtt`);
    expect(await vtt?.text()).toBe(
      "WEBVTT\n\n00:00:00.500 --> 00:00:02.000\nHello there\n\n00:00:02.500 --> 00:00:04.000\nGeneral Kenobi\n",
    );
    // A redelivered message finds the track ready: the engine is not run again, nothing announced twice.
    await generate(trackId, engine);
    expect(asked).toHaveLength(1);
    expect(await eventTypes(trackId)).toEqual(["track.created", "track.ready"]);
  });

  it("an engine that throws or returns no subtitles, and an asset without audio, error the track precisely", async () => {
    const key = await createKey(["assets:write", "assets:read"]);
    const throws = await readyWithGenerated(key);
    await generate(throws.trackId, {
      transcribe: async () => {
        throw new Error("model crashed");
      },
    });
    expect(JSON.parse((await trackRow(throws.trackId))?.error as string)).toEqual({
      code: "text_generation_failed",
      message: "The speech-to-text engine failed: model crashed",
    });

    const garbage = await readyWithGenerated(key);
    await generate(garbage.trackId, { transcribe: async () => "this is not a subtitle file" });
    const err = JSON.parse((await trackRow(garbage.trackId))?.error as string);
    expect(err.code).toBe("text_generation_failed");
    expect(err.message).toMatch(/^The engine's subtitles were refused \(text_/);

    const silent = await readyWithGenerated(key, [{ type: "video" }]);
    let ran = false;
    await generate(silent.trackId, {
      transcribe: async () => {
        ran = true;
        return "";
      },
    });
    expect(ran).toBe(false);
    expect(JSON.parse((await trackRow(silent.trackId))?.error as string)).toMatchObject({
      code: "text_generation_no_audio",
    });
    for (const id of [throws.trackId, garbage.trackId, silent.trackId]) {
      expect(await eventTypes(id)).toEqual(["track.created", "track.errored"]);
    }
  });

  it("a dead-lettered generation errors the track once", async () => {
    const key = await createKey(["assets:write", "assets:read"]);
    const { trackId } = await readyWithGenerated(key);
    const dead = await runQueue(TRANSCODE_DLQ, [{ kind: "generated_track", track_id: trackId }]);
    expect(dead.explicitAcks).toHaveLength(1);
    expect(JSON.parse((await trackRow(trackId))?.error as string)).toMatchObject({ code: "text_generation_failed" });
    await runQueue(TRANSCODE_DLQ, [{ kind: "generated_track", track_id: trackId }]);
    expect(await eventTypes(trackId)).toEqual(["track.created", "track.errored"]);
  });

  it("a track deleted while the engine runs stores nothing", async () => {
    const key = await createKey(["assets:write", "assets:read"]);
    const { assetId, trackId } = await readyWithGenerated(key);
    await generate(trackId, {
      async transcribe() {
        expect((await api(key, "DELETE", `${tracks(assetId)}/${trackId}`)).status).toBe(204);
        return "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nlate\n";
      },
    });
    expect(await env.MEDIA.get(`assets/${assetId}/tracks/${trackId}.vtt`)).toBeNull();
    expect(await eventTypes(trackId)).toEqual(["track.created", "track.deleted"]);
  });
});

describe("generated_subtitles on uploads", { timeout: 60_000 }, () => {
  it("new_asset_settings.generated_subtitles gives the upload's asset its preparing track", async () => {
    const key = await createKey();
    const created = await api(key, "POST", "/v1/uploads", {
      new_asset_settings: { generated_subtitles: [{ language_code: "pt-br" }] },
    });
    expect(created.status).toBe(201);
    expect(created.body.new_asset_settings).toMatchObject({ generated_subtitles: [{ language_code: "pt-br" }] });
    const url = new URL(created.body.url as string);
    const put = await SELF.fetch(`http://keyframe.test${url.pathname}${url.search}`, {
      method: "PUT",
      headers: { "content-type": "video/mp4" },
      body: new Uint8Array(2048),
    });
    expect(put.status).toBe(200);
    const { asset_id } = (await put.json()) as { asset_id: string };
    const got = await generatedTracks(key, asset_id);
    expect(got).toMatchObject([
      { language_code: "pt-BR", status: "preparing", name: "Brazilian Portuguese (generated)" },
    ]);

    const bad = await api<Problem>(key, "POST", "/v1/uploads", {
      new_asset_settings: { generated_subtitles: [{ language_code: "" }] },
    });
    expectProblem(bad, 400, "validation_failed");
  });
});
