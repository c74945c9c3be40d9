/**
 * Live streaming end to end on the real local stack: ffmpeg pushes HLS (MPEG-TS and fMP4) over HTTP
 * PUT to the stream's ingest URL; the edge serves a live playlist that advances; hls.js in headless
 * Chromium plays it live (signed, with a token); a killed encoder that comes back inside the reconnect
 * window continues the same session with a discontinuity and one recording; a clean stop ends the
 * session at once with a ready recording ffprobe reads; the reconnect window elapsing ends a session
 * too, and the next broadcast records into a new asset. Reconnect windows are seconds, not minutes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  CreatedLiveStream,
  LiveStream,
  LiveStreamHealth,
  PlaybackTokens,
  TimelineEntry,
} from "../support/api-types";
import { type E2E, startE2E } from "./support/e2e";
import { type Encoder, mediaSequence, pollUntil, sleep, startEncoder, watchEmbed, watchLive } from "./support/live";
import { ffprobeJson } from "./support/media";

describe("live streaming end to end", () => {
  let e: E2E;
  const encoders: Encoder[] = [];
  const encode = (...args: Parameters<typeof startEncoder>) => {
    const enc = startEncoder(...args);
    encoders.push(enc);
    return enc;
  };

  // The stack takes minutes to start on a loaded machine.
  beforeAll(async () => {
    e = await startE2E();
  }, 420_000);

  afterAll(async () => {
    for (const enc of encoders) await enc.kill();
    await e?.close();
  });

  /** On failure, what the DO and the encoders saw (a loaded machine makes encoders stall). */
  const explain = async <T>(id: string, p: Promise<T>): Promise<T> => {
    try {
      return await p;
    } catch (err) {
      const health = (await e.api<LiveStreamHealth>("GET", `/v1/live-streams/${id}/health`)).body;
      const events = await timeline(id);
      console.error(
        JSON.stringify({ health, events, encoders: encoders.map((x) => x.stderr().slice(-1500)) }, null, 1),
      );
      throw err;
    }
  };
  const stream = async (id: string) => (await e.api<LiveStream>("GET", `/v1/live-streams/${id}`)).body;
  const timeline = async (id: string) =>
    (await e.api<{ data: TimelineEntry[] }>("GET", `/v1/live-streams/${id}/events`)).body.data
      .filter((x) => x.kind === "event")
      .map((x) => x.event.type);
  const waitFor = async <T>(what: string, f: () => Promise<T | null | undefined | false>, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const v = await f();
      if (v) return v;
      await sleep(250);
    }
    throw new Error(`timed out waiting for ${what}`);
  };

  it("fMP4: signed live playback in hls.js, the playlist advances, a clean stop is idle at once with a ready recording", async () => {
    const created = await e.api<CreatedLiveStream>("POST", "/v1/live-streams", {
      latency_mode: "low",
      playback_policy: "signed",
      reconnect_window: 30,
      recording: {
        mode: "automatic",
        new_asset_settings: { playback_policy: "public", title: "fmp4 show", mp4_support: "standard" },
      },
    });
    expect(created.status).toBe(201);
    const ls = created.body;
    const pb = ls.playback_ids[0].id;
    const tokens = await e.api<PlaybackTokens>("POST", `/v1/playback-ids/${pb}/tokens`, { expires_in: 600 });
    expect(tokens.status).toBe(200);
    const master = tokens.body.urls.master as string;

    // Off air: 412 with Retry-After; without a token: 401.
    const before = await fetch(master);
    expect(before.status).toBe(412);
    expect(before.headers.get("retry-after")).toBe("2");
    expect((await fetch(`${e.stack.edgeUrl}/${pb}.m3u8`)).status).toBe(401);

    const enc = encode(ls.ingest.hls_url!, { segmentType: "fmp4" });
    await pollUntil(master, (s) => s === 200, 30_000);
    const firstListedAt = Date.now();
    const live = `${e.stack.edgeUrl}/${pb}/live.m3u8?token=${tokens.body.video}`;
    const first = await pollUntil(live, (s) => s === 200);
    expect(first.body).not.toContain("#EXT-X-ENDLIST");
    expect(first.body).toContain("#EXT-X-MAP:URI=");
    expect(first.body).toContain(`?token=${tokens.body.video}`);
    // The variant is described from the encoder's init segment: x264 ultrafast (Constrained Baseline) + AAC LC, 320x180.
    const variant = (await (await fetch(master)).text()).split("\n").find((l) => l.startsWith("#EXT-X-STREAM-INF:"));
    expect(variant).toMatch(/CODECS="avc1\.42c0[0-9a-f]{2},mp4a\.40\.2"/);
    expect(variant).toContain("RESOLUTION=320x180");
    expect(variant).toMatch(/AVERAGE-BANDWIDTH=\d+/);
    const view = await stream(ls.id);
    expect(view).toMatchObject({ status: "active", connection: "connected" });
    expect(view.active_asset_id).toMatch(/^as_/);

    const watched = await explain(
      ls.id,
      watchLive(master, 8000).then(async (w) => {
        if (w.errors.length > 0) {
          const again = await fetch(master);
          throw new Error(`hls.js: ${w.errors} (master now ${again.status} ${await again.text()})`);
        }
        return w;
      }),
    );
    expect(watched.second).toBeGreaterThan(watched.first + 1);
    const later = await pollUntil(live, (s, b) => s === 200 && mediaSequence(b) > mediaSequence(first.body), 20_000);
    expect(later.body).not.toContain("#EXT-X-ENDLIST");

    const health = (await e.api<LiveStreamHealth>("GET", `/v1/live-streams/${ls.id}/health`)).body;
    expect(health).toMatchObject({
      container: "fmp4",
      connection: "connected",
      reconnects: 0,
      video_width: 320,
      video_height: 180,
    });
    expect(health.codecs).toMatch(/^avc1\.42c0[0-9a-f]{2},mp4a\.40\.2$/);
    expect(health.average_segment_interval).toBeGreaterThan(1);
    expect(health.ingest_bitrate).toBeGreaterThan(10_000);

    // At least 20 s on air, then a clean stop (SIGINT: ffmpeg writes its last segment and an ENDLIST playlist).
    await sleep(Math.max(0, firstListedAt + 20_000 - Date.now()));
    const stoppedAt = Date.now();
    enc.proc.kill("SIGINT");
    // A SIGINT'd ffmpeg still writes its trailer (the playlist with ENDLIST) and then exits 255 ("Exiting
    // normally, received signal 2"); what matters is checked below: idle at once, a ready recording.
    expect([0, 255]).toContain(await enc.exited);
    // Segment 0 is listed when its 2 s are done: on air ≈ (stop − first listed) + 2 s.
    const broadcast = (stoppedAt - firstListedAt) / 1000 + 2;
    // ENDLIST ends the session at once: idle right after the encoder exits, no reconnect-window wait.
    const ended = await waitFor(
      "idle",
      async () => {
        const s = await stream(ls.id);
        return s.status === "idle" && s;
      },
      3000,
    );
    expect(ended.recent_asset_ids).toEqual([view.active_asset_id]);
    const asset = await e.waitForAsset(view.active_asset_id!, (a) => a.status === "ready", 5000);
    expect(asset.title).toBe("fmp4 show");
    expect(broadcast).toBeGreaterThanOrEqual(22);
    expect(Math.abs(asset.duration! - broadcast)).toBeLessThanOrEqual(2);
    const vodUrl = `${e.stack.edgeUrl}/${asset.playback_ids[0].id}.m3u8`;
    const probe = await ffprobeJson(vodUrl);
    expect(Math.abs(Number(probe.format.duration) - asset.duration!)).toBeLessThanOrEqual(2);
    expect(probe.streams.map((s) => s.codec_type).sort()).toEqual(["audio", "video"]);
    expect((await fetch(master)).status).toBe(412);

    // Then the existing pipeline takes the recording (inherited mp4_support): the ladder replaces the recorded
    // rendition for playback, with a poster, a storyboard and the MP4 download; the broadcast's length stands.
    const processed = await e.waitForAsset(
      asset.id,
      (a) =>
        a.renditions_status === "complete" && a.static_renditions?.status !== "preparing" && a.renditions.length > 1,
      240_000,
    );
    expect(processed.status).toBe("ready");
    expect(processed.static_renditions.status).toBe("ready");
    expect(processed.duration).toBe(asset.duration!);
    const pbAsset = processed.playback_ids[0].id;
    // The recording's first run (the broadcast) has no poster, the pipeline's run does. The edge caches a
    // playback ID's state for 5 s while its renditions are `preparing` (workers/edge/src/state.ts), so the
    // poster is served within a few seconds of `complete`.
    let poster = 0;
    for (const until = Date.now() + 8_000; Date.now() < until; await new Promise((r) => setTimeout(r, 500))) {
      poster = (await fetch(`${e.stack.edgeUrl}/${pbAsset}/thumbnail.jpg`)).status;
      if (poster === 200) break;
    }
    expect(poster).toBe(200);
    expect((await fetch(`${e.stack.edgeUrl}/${pbAsset}/storyboard.vtt`)).status).toBe(200);
    const ladder = await ffprobeJson(`${e.stack.edgeUrl}/${pbAsset}.m3u8`);
    expect(Math.abs(Number(ladder.format.duration) - asset.duration!)).toBeLessThanOrEqual(2);

    expect(await timeline(ls.id)).toEqual([
      "live_stream.created",
      "live_stream.connected",
      "live_stream.active",
      "live_stream.disconnected",
      "live_stream.idle",
    ]);
  }, 540_000);

  it("MPEG-TS: a restart inside the reconnect window is one session with a discontinuity; after the window, a new recording", async () => {
    const created = await e.api<CreatedLiveStream>("POST", "/v1/live-streams", {
      latency_mode: "low",
      playback_policy: "public",
      reconnect_window: 20,
      recording: { mode: "automatic", new_asset_settings: { playback_policy: "public" } },
    });
    const ls = created.body;
    const pb = ls.playback_ids[0].id;
    const live = `${e.stack.edgeUrl}/${pb}/live.m3u8`;

    // Wrong key and disabled stream are refused before anything is stored.
    const wrongUrl = ls.ingest.hls_url!.replace(ls.stream_key, "k".repeat(43));
    expect((await fetch(wrongUrl.replace("index.m3u8", "index0.ts"), { method: "PUT", body: "x" })).status).toBe(401);
    await e.api("PUT", `/v1/live-streams/${ls.id}/disable`);
    const disabled = encode(ls.ingest.hls_url!, { seconds: 4 });
    await disabled.exited;
    expect((await stream(ls.id)).status).toBe("disabled");
    expect((await stream(ls.id)).active_asset_id).toBeNull();
    await e.api("PUT", `/v1/live-streams/${ls.id}/enable`);

    const a = encode(ls.ingest.hls_url!);
    const first = await explain(
      ls.id,
      pollUntil(live, (s) => s === 200, 30_000),
    );
    expect(first.body).not.toContain("#EXT-X-ENDLIST");
    await pollUntil(live, (s, b) => s === 200 && (b.match(/#EXTINF/g)?.length ?? 0) >= 3, 20_000);
    // The embed page plays the live stream too (hls.js from the edge, the same master).
    const embed = await explain(ls.id, watchEmbed(`${e.stack.edgeUrl}/embed/${pb}`, 6000));
    expect(embed.state).toBe("playing");
    expect(embed.second).toBeGreaterThan(embed.first + 1);
    const session = (await e.api<LiveStreamHealth>("GET", `/v1/live-streams/${ls.id}/health`)).body.session_id;
    const assetId = (await stream(ls.id)).active_asset_id!;
    await a.kill();
    // Long enough for the disconnect timer (2 × 2 s), well inside the 20 s reconnect window.
    await sleep(4500);
    const b = encode(ls.ingest.hls_url!, { seconds: 6 });
    await explain(
      ls.id,
      pollUntil(live, (s, body) => s === 200 && body.includes("#EXT-X-DISCONTINUITY\n"), 40_000),
    );
    const mid = (await e.api<LiveStreamHealth>("GET", `/v1/live-streams/${ls.id}/health`)).body;
    expect(mid.session_id).toBe(session);
    expect(mid.reconnects).toBe(1);
    expect((await stream(ls.id)).active_asset_id).toBe(assetId);
    expect(await b.exited).toBe(0);

    const after = await waitFor(
      "idle",
      async () => {
        const s = await stream(ls.id);
        return s.status === "idle" && s;
      },
      3000,
    );
    expect(after.recent_asset_ids).toEqual([assetId]);
    const asset = await e.waitForAsset(assetId, (x) => x.status === "ready", 5000);
    const vod = await (await fetch(`${e.stack.edgeUrl}/${asset.playback_ids[0].id}/stream/index.m3u8`)).text();
    expect(vod).toContain("#EXT-X-ENDLIST");
    expect(vod.split("\n").filter((l) => l === "#EXT-X-DISCONTINUITY")).toHaveLength(1);
    const probe = await ffprobeJson(`${e.stack.edgeUrl}/${asset.playback_ids[0].id}.m3u8`);
    expect(Number(probe.format.duration)).toBeGreaterThan(8);

    // A broadcast that goes away for longer than the window ends by the alarm; the next one is new.
    expect(
      (await e.api<LiveStream>("PATCH", `/v1/live-streams/${ls.id}`, { reconnect_window: 2 })).body.reconnect_window,
    ).toBe(2);
    const c = encode(ls.ingest.hls_url!);
    const cAsset = await waitFor("second recording", async () => {
      const s = await stream(ls.id);
      return s.status === "active" && s.active_asset_id !== assetId && s.active_asset_id;
    });
    await pollUntil(live, (s) => s === 200, 20_000);
    await c.kill();
    await waitFor("idle after the window", async () => (await stream(ls.id)).status === "idle", 20_000);
    const d = encode(ls.ingest.hls_url!);
    const dAsset = await waitFor("third recording", async () => {
      const s = await stream(ls.id);
      return s.status === "active" && s.active_asset_id !== cAsset && s.active_asset_id;
    });
    expect(dAsset).not.toBe(assetId);
    expect((await e.api<LiveStream>("POST", `/v1/live-streams/${ls.id}/complete`)).body.status).toBe("idle");
    await d.kill();
    expect((await stream(ls.id)).recent_asset_ids).toEqual([dAsset, cAsset, assetId]);

    expect(await timeline(ls.id)).toEqual([
      "live_stream.created",
      "live_stream.disabled",
      "live_stream.enabled",
      "live_stream.connected",
      "live_stream.active",
      "live_stream.disconnected",
      "live_stream.connected",
      "live_stream.disconnected",
      "live_stream.idle",
      "live_stream.updated",
      "live_stream.connected",
      "live_stream.active",
      "live_stream.disconnected",
      "live_stream.idle",
      "live_stream.connected",
      "live_stream.active",
      "live_stream.disconnected",
      "live_stream.idle",
    ]);
  }, 300_000);
});
