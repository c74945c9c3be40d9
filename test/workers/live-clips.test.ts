/**
 * Clips of a live stream's recording at the API, while it records and after: the range is checked against
 * what the LiveStream DO has recorded so far (422 `range_not_recorded` with the recorded duration), the
 * clip's source is the recorded segments covering [start − one segment, end] (+ one), copied back to back
 * by the real transcode-jobs consumer, and the job's range is shifted to that source's first segment.
 * Media bytes are synthetic MPEG-TS framing (the DO sniffs, it does not decode); real ffmpeg output is
 * broadcast and clipped in test/node/e2e-live-clips.test.ts.
 */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import type { Asset, CreatedLiveStream, LiveStream as LiveStreamResource, Problem } from "../support/api-types";
import { expectProblem } from "../support/problem";
import { api, createKey, type TestKey } from "./factories";
import { playlist, tsSegment } from "./live-helpers";
import { assetRow, consumeTranscodeMessage, jobSettingsOf } from "./pipeline-helpers";

vi.setConfig({ testTimeout: 30_000 });

/** The first `n` segments, 2 s each, as the encoder lists them. */
function listed(n: number): [string, number][] {
  return Array.from({ length: n }, (_, i) => [`index${i}.ts`, 2]);
}

async function put(url: string, body: BodyInit) {
  const res = await SELF.fetch(url, { method: "PUT", body });
  if (res.status !== 201 && res.status !== 204) throw new Error(`PUT ${url}: ${res.status} ${await res.text()}`);
}

/** A stream broadcasting `n` listed 2 s segments (segment i filled with byte 10 + i); returns its recording. */
async function broadcast(key: TestKey, n: number, ended = false) {
  const res = await api<CreatedLiveStream>(key, "POST", "/v1/live-streams", { playback_policy: "public" });
  expect(res.status).toBe(201);
  const base = `http://keyframe.test${new URL(res.body.ingest.hls_url!).pathname.replace(/\/index\.m3u8$/, "")}`;
  for (let i = 0; i < n; i++) {
    await put(`${base}/index${i}.ts`, tsSegment(4, 10 + i));
    await put(`${base}/index.m3u8`, playlist(listed(i + 1), ended && i === n - 1));
  }
  const view = (await api<LiveStreamResource>(key, "GET", `/v1/live-streams/${res.body.id}`)).body;
  const recording = ended ? view.recent_asset_ids[0] : view.active_asset_id;
  if (!recording) throw new Error("the broadcast has no recording");
  return { streamId: res.body.id, recording, base };
}

/** The fill bytes of the segments a copied source holds, in order (one per 188-byte packet run). */
async function segmentsIn(key: string): Promise<number[]> {
  const obj = await env.MEDIA.get(key);
  if (!obj) throw new Error(`${key} is not stored`);
  const bytes = new Uint8Array(await obj.arrayBuffer());
  const fills: number[] = [];
  for (let at = 0; at < bytes.length; at += 188 * 4) fills.push(bytes[at + 100]);
  return fills;
}

describe("clips of a live recording", () => {
  it("cuts while it records: the recorded segments around the range, the range shifted to them", async () => {
    const key = await createKey(["*"]);
    const { recording } = await broadcast(key, 5);
    expect((await assetRow(recording))?.status).toBe("processing");

    const res = await api<Asset>(key, "POST", "/v1/assets", {
      input: { asset_id: recording, start_time: 6.5, end_time: 7.5 },
      playback_policy: "public",
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({
      status: "waiting",
      source_asset_id: recording,
      clip: { start_time: 6.5, end_time: 7.5 },
    });
    // The stored clip never shows the plan (R2 keys) to the API.
    expect(JSON.stringify(res.body)).not.toContain("runs/");

    expect((await consumeTranscodeMessage({ kind: "clip_source", asset_id: res.body.id })).explicitAcks).toEqual([
      "m0",
    ]);
    const sourceKey = `sources/${res.body.id}/source`;
    // 6.5 lies in segment 3 (6–8 s): segments 2 (one before) to 4 (one after), back to back.
    expect(await segmentsIn(sourceKey)).toEqual([12, 13, 14]);
    expect((await env.MEDIA.head(sourceKey))?.httpMetadata?.contentType).toBe("video/mp2t");
    expect(await assetRow(res.body.id)).toMatchObject({ status: "queued", source_key: sourceKey });
    // That source starts at 4 s of the recording.
    expect(await jobSettingsOf(res.body.id)).toMatchObject({
      clip: { start_time: 2.5, end_time: 3.5 },
      source_size_bytes: 3 * 188 * 4,
      source_content_type: "video/mp2t",
    });
    // The recording itself carries on untouched.
    expect((await assetRow(recording))?.status).toBe("processing");

    // From the start, with end_time defaulting to what is recorded so far (10 s).
    const whole = await api<Asset>(key, "POST", "/v1/assets", { input: { asset_id: recording } });
    expect(whole.status, JSON.stringify(whole.body)).toBe(201);
    expect(whole.body.clip).toEqual({ start_time: 0, end_time: 10 });
    await consumeTranscodeMessage({ kind: "clip_source", asset_id: whole.body.id });
    expect(await segmentsIn(`sources/${whole.body.id}/source`)).toEqual([10, 11, 12, 13, 14]);
    expect(await jobSettingsOf(whole.body.id)).toMatchObject({ clip: { start_time: 0, end_time: 10 } });
  });

  it("refuses a range past what is recorded so far with 422 and the recorded duration, writing nothing", async () => {
    const key = await createKey(["*"]);
    const { recording, base } = await broadcast(key, 3);
    const before = (await env.DB.prepare("select count(*) as n from assets").first())?.n;
    const cases: [unknown, number, string, string][] = [
      [{ asset_id: recording, start_time: 4, end_time: 8 }, 422, "range_not_recorded", "json.input.end_time"],
      [{ asset_id: recording, start_time: 6, end_time: 7 }, 422, "range_not_recorded", "json.input.start_time"],
      [{ asset_id: recording, start_time: 7 }, 422, "range_not_recorded", "json.input.start_time"],
      [{ asset_id: recording, start_time: -1, end_time: 2 }, 400, "validation_failed", "json.input.start_time"],
      [{ asset_id: recording, start_time: 3, end_time: 3 }, 400, "validation_failed", "json.input.end_time"],
      [{ asset_id: recording, start_time: 5, end_time: 2 }, 400, "validation_failed", "json.input.end_time"],
    ];
    for (const [input, status, code, location] of cases) {
      const res = await api(key, "POST", "/v1/assets", { input });
      const problem = expectProblem(res, status, code, JSON.stringify(input));
      expect(
        problem.errors.map((e: Problem["errors"][number]) => e.location),
        JSON.stringify(input),
      ).toContain(location);
      if (status === 422) {
        expect(problem.detail).toContain("has recorded so far (6 s)");
        expect(problem.detail).toContain(recording);
      }
    }
    const after = await env.DB.prepare("select count(*) as n from assets").first();
    expect(after?.n).toBe(before);

    // The same range is fine once it has been recorded: one more segment makes 8 s.
    await put(`${base}/index3.ts`, tsSegment(4, 13));
    await put(`${base}/index.m3u8`, playlist(listed(4)));
    const later = await api<Asset>(key, "POST", "/v1/assets", {
      input: { asset_id: recording, start_time: 6, end_time: 7 },
    });
    expect(later.status, JSON.stringify(later.body)).toBe(201);
    expect(later.body.clip).toEqual({ start_time: 6, end_time: 7 });
  });

  it("a finished recording is clipped from its VOD playlist; past its end is a 400 as for any asset", async () => {
    const key = await createKey(["*"]);
    const { recording } = await broadcast(key, 4, true);
    expect((await assetRow(recording))?.status).toBe("ready");
    const res = await api<Asset>(key, "POST", "/v1/assets", {
      input: { asset_id: recording, start_time: 2, end_time: 3 },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    await consumeTranscodeMessage({ kind: "clip_source", asset_id: res.body.id });
    // 2 s is where segment 1 starts: segment 0 (one before), 1, and 2 (one after).
    expect(await segmentsIn(`sources/${res.body.id}/source`)).toEqual([10, 11, 12]);
    expect(await jobSettingsOf(res.body.id)).toMatchObject({ clip: { start_time: 2, end_time: 3 } });

    const late = await api(key, "POST", "/v1/assets", { input: { asset_id: recording, start_time: 7, end_time: 9 } });
    const problem = expectProblem(late, 400, "validation_failed");
    expect(problem.detail).toContain("duration 8 s");
  });

  it("errors the clip (source_unavailable) when the recorded segments are gone before the copy", async () => {
    const key = await createKey(["*"]);
    const { recording } = await broadcast(key, 3);
    // Gone from R2 first (the DO still lists them): the queue's own delivery of `clip_source` races nothing.
    const listed = await env.MEDIA.list({ prefix: `assets/${recording}/` });
    await env.MEDIA.delete(listed.objects.map((o) => o.key));
    const clip = await api<Asset>(key, "POST", "/v1/assets", { input: { asset_id: recording, end_time: 2 } });
    expect(clip.status).toBe(201);
    await consumeTranscodeMessage({ kind: "clip_source", asset_id: clip.body.id });
    const got = await api<Asset>(key, "GET", `/v1/assets/${clip.body.id}`);
    expect(got.body).toMatchObject({ status: "errored", error: { code: "source_unavailable" } });
    expect(await env.MEDIA.head(`sources/${clip.body.id}/source`)).toBeNull();
  });
});
