/**
 * Text tracks through the API worker in workerd: inline and URL sources, every refusal as precise
 * problem+json (or a precise `error` on the track for URL sources), events exactly once, scopes.
 */
import { env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import type { Asset, Page, Problem } from "../support/api-types";
import { expectProblem } from "../support/problem";
import { api, createAsset, createKey } from "./factories";
import { eventTypes, runQueue, TRANSCODE_DLQ, TRANSCODE_QUEUE } from "./pipeline-helpers";

const SRT =
  "\uFEFF1\r\n00:00:01,000 --> 00:00:02,500\r\nHello\r\n\r\n2\r\n00:00:02,000 --> 00:00:04,000\r\nOverlap\r\n";
const tracks = (assetId: string) => `/v1/assets/${assetId}/tracks`;
const receiver = (env as unknown as { WEBHOOK_RECEIVER_URL: string }).WEBHOOK_RECEIVER_URL;
const echoUrl = (body: string | Uint8Array, extra = "") =>
  `${receiver}/_echo?body=${Buffer.from(body).toString("base64url")}${extra}`;
const ALLOW = { ALLOW_PRIVATE_INGEST_URLS: "true" } as Partial<Env>;

async function trackRow(id: string) {
  return env.DB.prepare("select * from asset_tracks where id = ?").bind(id).first<Record<string, unknown>>();
}

describe("POST /v1/assets/{id}/tracks (inline content)", () => {
  it("normalises an SRT to WebVTT, stores it, is ready at once, announces created + ready once each", async () => {
    const key = await createKey(["assets:write", "assets:read"]);
    const asset = await createAsset(key, { correlation_id: "corr-tr" });
    const res = await api(key, "POST", tracks(asset.id), {
      type: "text",
      text_type: "captions",
      language_code: "en-us",
      content: SRT,
      default: true,
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      asset_id: asset.id,
      type: "text",
      text_type: "captions",
      status: "ready",
      language_code: "en-US",
      name: "American English",
      closed_captions: true,
      default: true,
      source: "inline",
      format: "srt",
      cue_count: 2,
      dropped_cues: 0,
      error: null,
      correlation_id: "corr-tr",
    });
    const id = res.body.id as string;
    expect(id).toMatch(/^tr_[0-9a-z]{26}$/);
    const obj = await env.MEDIA.get(`assets/${asset.id}/tracks/${id}.vtt`);
    expect(await obj?.text()).toBe(
      "WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nHello\n\n00:00:02.000 --> 00:00:04.000\nOverlap\n",
    );
    expect(await eventTypes(id)).toEqual(["track.created", "track.ready"]);
    const got = await api(key, "GET", `${tracks(asset.id)}/${id}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(res.body);
    // Listed on the asset itself, after the media tracks.
    const view = await api<Asset>(key, "GET", `/v1/assets/${asset.id}`);
    expect(view.body.tracks.filter((t) => t.type === "text" && "id" in t).map((t) => ("id" in t ? t.id : ""))).toEqual([
      id,
    ]);
    const list = await api<Page<Asset>>(key, "GET", "/v1/assets?limit=5");
    const listed = list.body.data.find((a) => a.id === asset.id);
    expect(listed?.tracks.map((t) => ("id" in t ? t.id : undefined))).toEqual([id]);
  });

  it("one default per asset: a new default clears the old one", async () => {
    const key = await createKey();
    const asset = await createAsset(key);
    const body = { type: "text", text_type: "subtitles", content: SRT, default: true };
    const a = await api(key, "POST", tracks(asset.id), { ...body, language_code: "fr", name: "Français" });
    const b = await api(key, "POST", tracks(asset.id), { ...body, language_code: "de" });
    expect(a.body).toMatchObject({ name: "Français", closed_captions: false, default: true });
    expect((await api(key, "GET", `${tracks(asset.id)}/${a.body.id}`)).body.default).toBe(false);
    expect((await api(key, "GET", `${tracks(asset.id)}/${b.body.id}`)).body.default).toBe(true);
  });

  it("refuses bad files with the code, cue and line — and writes nothing", async () => {
    const key = await createKey();
    const asset = await createAsset(key);
    const post = (content: string) =>
      api(key, "POST", tracks(asset.id), { type: "text", text_type: "subtitles", language_code: "en", content });
    const cases: [string, string][] = [
      [
        "1\n00:00:01,000 --> 00:00:02,000\nA\n\n2\n00:00:03,000 --> 00:00:03,9x0\nB\n",
        "text_timestamp_invalid (cue 2, line 6)",
      ],
      ["1\n00:00:05,000 --> 00:00:04,000\nA\n", "text_timing_invalid (cue 1, line 2)"],
      ["just some prose\n", "text_format_unknown (line 1)"],
      ["", "text_empty"],
      ["1\n00:00:01,000 --> 00:00:02,000\n\n", "text_empty"],
    ];
    for (const [content, expected] of cases) {
      const res = await post(content);
      const [first] = expectProblem(res, 400, "validation_failed", expected).errors;
      expect(first.location).toBe("json.content");
      expect(first.message.startsWith(expected), first.message).toBe(true);
    }
    const { results } = await env.DB.prepare("select id from asset_tracks where asset_id = ?").bind(asset.id).all();
    expect(results).toHaveLength(0);
  });

  it("refuses bad requests precisely", async () => {
    const key = await createKey();
    const asset = await createAsset(key);
    const base = { type: "text", text_type: "subtitles", language_code: "en", content: SRT };
    const bad = async (body: unknown, location: string) => {
      const res = await api(key, "POST", tracks(asset.id), body);
      expect(expectProblem(res, 400, "validation_failed", location).errors.map((e) => e.location)).toContain(location);
    };
    await bad({ ...base, language_code: "english!" }, "json.language_code");
    await bad({ ...base, language_code: "x" }, "json.language_code");
    await bad({ ...base, type: "video" }, "json.type");
    await bad({ ...base, text_type: "chapters" }, "json.text_type");
    await bad({ ...base, url: "https://example.com/a.srt" }, "json.url");
    await bad({ type: "text", text_type: "subtitles", language_code: "en" }, "json.url");
    await bad({ ...base, content: undefined, url: "not a url" }, "json.url");
    await bad({ ...base, extra: 1 }, "json");
    expectProblem(await api(key, "POST", tracks(asset.id), "{"), 400, "malformed_json");
    expectProblem(await api(key, "POST", tracks(`as_${"0".repeat(26)}`), base), 404, "not_found");
    expectProblem(await api(key, "GET", `${tracks(asset.id)}/tr_${"0".repeat(26)}`), 404, "not_found");
    expectProblem(await api(key, "GET", `${tracks(asset.id)}/nope`), 400, "validation_failed");
    // An errored asset takes no tracks.
    await env.DB.prepare("update assets set status = 'errored' where id = ?").bind(asset.id).run();
    expectProblem(await api(key, "POST", tracks(asset.id), base), 409, "invalid_state");
  });

  it("scopes: write needs assets:write, read needs assets:read; other environments see nothing", async () => {
    const owner = await createKey();
    const asset = await createAsset(owner);
    const body = { type: "text", text_type: "subtitles", language_code: "en", content: SRT };
    const created = await api(owner, "POST", tracks(asset.id), body);
    const path = `${tracks(asset.id)}/${created.body.id}`;
    const reader = await createKey(["assets:read"], owner.environmentId);
    expectProblem(await api(reader, "POST", tracks(asset.id), body), 403, "forbidden");
    expectProblem(await api(reader, "DELETE", path), 403, "forbidden");
    expect((await api(reader, "GET", path)).status).toBe(200);
    const writerOnly = await createKey(["playback:write"], owner.environmentId);
    expectProblem(await api(writerOnly, "GET", path), 403, "forbidden");
    expectProblem(await api(null, "GET", path), 401, "unauthenticated");
    const stranger = await createKey();
    expectProblem(await api(stranger, "GET", path), 404, "not_found");
    expectProblem(await api(stranger, "DELETE", path), 404, "not_found");
  });

  it("DELETE removes the track, its file, announces track.deleted once", async () => {
    const key = await createKey();
    const asset = await createAsset(key);
    const created = await api(key, "POST", tracks(asset.id), {
      type: "text",
      text_type: "subtitles",
      language_code: "en",
      content: SRT,
    });
    const id = created.body.id as string;
    const path = `${tracks(asset.id)}/${id}`;
    expect((await api(key, "DELETE", path)).status).toBe(204);
    expectProblem(await api(key, "GET", path), 404, "not_found");
    expectProblem(await api(key, "DELETE", path), 404, "not_found");
    await vi.waitUntil(async () => !(await env.MEDIA.head(`assets/${asset.id}/tracks/${id}.vtt`)), { timeout: 5_000 });
    expect(await eventTypes(id)).toEqual(["track.created", "track.ready", "track.deleted"]);
  });
});

// Each case waits for the real queue; the box is shared, so the bound is generous.
describe("POST /v1/assets/{id}/tracks (url)", { timeout: 60_000 }, () => {
  async function urlTrack(url: string) {
    const key = await createKey();
    const asset = await createAsset(key);
    const res = await api(key, "POST", tracks(asset.id), {
      type: "text",
      text_type: "subtitles",
      language_code: "pt-BR",
      url,
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: "preparing", source: "url", format: null, cue_count: null });
    const id = res.body.id as string;
    // The real queue delivers too, with private URLs refused (the production default): the SSRF guard.
    await vi.waitUntil(async () => (await trackRow(id))?.status !== "preparing", { timeout: 10_000, interval: 50 });
    return { key, asset, id };
  }
  const reset = (id: string) =>
    env.DB.prepare("update asset_tracks set status = 'preparing', error = null where id = ?").bind(id).run();

  it("a private address is refused by the URL policy; allowed (dev), the file is fetched and normalised", async () => {
    const { key, asset, id } = await urlTrack(echoUrl(SRT));
    const refused = await api(key, "GET", `${tracks(asset.id)}/${id}`);
    expect(refused.body).toMatchObject({ status: "errored", error: { code: "text_url_forbidden" } });
    await reset(id);
    const result = await runQueue(TRANSCODE_QUEUE, [{ kind: "text_track", track_id: id }], ALLOW);
    expect(result.explicitAcks).toHaveLength(1);
    const ready = await api(key, "GET", `${tracks(asset.id)}/${id}`);
    expect(ready.body).toMatchObject({ status: "ready", format: "srt", cue_count: 2, error: null });
    expect(await (await env.MEDIA.get(`assets/${asset.id}/tracks/${id}.vtt`))?.text()).toContain(
      "00:00:02.000 --> 00:00:04.000\nOverlap",
    );
    // A redelivered message announces nothing new.
    await runQueue(TRANSCODE_QUEUE, [{ kind: "text_track", track_id: id }], ALLOW);
    const types = await eventTypes(id);
    expect(types.filter((t) => t === "track.created")).toHaveLength(1);
    expect(types.filter((t) => t === "track.ready")).toHaveLength(1);
  });

  it("bad files, 4xx, redirects without Location and undecodable bytes error the track with a precise code", async () => {
    const latin1 = new Uint8Array([...new TextEncoder().encode("1\n00:00:01,000 --> 00:00:02,000\nCaf"), 0xe9]);
    const cases: [string, Record<string, unknown>][] = [
      [echoUrl("1\n00:00:01,000 --> 00:61:02,000\nA\n"), { code: "text_timestamp_invalid", cue: 1, line: 2 }],
      [echoUrl(latin1), { code: "text_encoding_invalid", line: 3 }],
      [echoUrl("gone", "&status=404"), { code: "text_fetch_failed" }],
      [echoUrl("", "&status=302"), { code: "text_fetch_failed" }],
    ];
    for (const [url, error] of cases) {
      const { key, asset, id } = await urlTrack(url);
      await reset(id);
      await runQueue(TRANSCODE_QUEUE, [{ kind: "text_track", track_id: id }], ALLOW);
      const view = await api(key, "GET", `${tracks(asset.id)}/${id}`);
      expect(view.body.status, url).toBe("errored");
      expect(view.body.error, url).toMatchObject(error);
      // One track.errored per failure: the policy refusal, then this one (the reset re-armed it).
      expect((await eventTypes(id)).filter((t) => t === "track.errored")).toHaveLength(2);
    }
  });

  it("network failures retry, then fail; the DLQ ends a track still preparing", async () => {
    const { key, asset, id } = await urlTrack("http://127.0.0.1:9/none.srt");
    await reset(id);
    const first = await runQueue(TRANSCODE_QUEUE, [{ kind: "text_track", track_id: id }], ALLOW, 1);
    expect(first.retryMessages).toHaveLength(1);
    expect((await trackRow(id))?.status).toBe("preparing");
    await runQueue(TRANSCODE_DLQ, [{ kind: "text_track", track_id: id }]);
    const view = await api(key, "GET", `${tracks(asset.id)}/${id}`);
    expect(view.body).toMatchObject({ status: "errored", error: { code: "text_fetch_failed" } });
  });
});

describe("POST /v1/playback-ids/{pb}/tokens with a clip pin", () => {
  it("pins the range into the video token only; a bad range is refused", async () => {
    const key = await createKey();
    const asset = await createAsset(key, { playback_policy: "signed" });
    const pb = asset.playback_ids[0].id;
    const res = await api(key, "POST", `/v1/playback-ids/${pb}/tokens`, {
      clip: { asset_start_time: 7, asset_end_time: 9.5 },
    });
    expect(res.status).toBe(200);
    const claims = (t: string) => JSON.parse(Buffer.from(t.split(".")[1], "base64url").toString());
    expect(claims(res.body.video as string)).toMatchObject({ aud: "v", asset_start_time: 7, asset_end_time: 9.5 });
    expect(claims(res.body.thumbnail as string).asset_start_time).toBeUndefined();
    const bad = await api(key, "POST", `/v1/playback-ids/${pb}/tokens`, {
      clip: { asset_start_time: 9, asset_end_time: 2 },
    });
    expectProblem(bad, 400, "validation_failed");
    expect((bad.body.errors as Problem["errors"])[0].location).toBe("json.clip.asset_end_time");
  });
});
