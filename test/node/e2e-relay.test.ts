/**
 * The RTMP relay end to end on the real local stack: ffmpeg as an RTMP broadcaster (what OBS speaks) publishes
 * to rtmp://127.0.0.1:<port>/live/<stream_key>; the relay checks the key with the API before answering the
 * publish and stream-copies into the stream's HTTP HLS ingest. An unknown or disabled key is refused at
 * connect (ffmpeg exits non-zero and nothing reaches ingest); a good one plays in hls.js with an advancing
 * playlist; the relay killed mid-broadcast (SIGKILL to its process group, converters and all) and restarted,
 * the broadcaster reconnecting inside the reconnect window, continues ONE session — same recording, one
 * discontinuity — and a clean stop ends it at once with a ready recording ffprobe reads.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, type Service } from "../../scripts/lib/proc";
import { relayPublishUrl, startRelayService } from "../../scripts/lib/relay";
import { localSecrets } from "../../scripts/lib/stack";
import type { CreatedLiveStream, LiveStream, LiveStreamHealth, TimelineEntry } from "../support/api-types";
import { type E2E, startE2E } from "./support/e2e";
import { type Encoder, mediaSequence, pollUntil, sleep, watchLive } from "./support/live";
import { ffprobeJson } from "./support/media";
import { startRtmpEncoder } from "./support/rtmp";

describe("RTMP relay end to end", () => {
  let e: E2E;
  let relayPort: number;
  let relay: { service: Service; healthUrl: string } | undefined;
  const encoders: Encoder[] = [];
  const broadcast = (url: string, opts?: Parameters<typeof startRtmpEncoder>[1]) => {
    const enc = startRtmpEncoder(url, opts);
    encoders.push(enc);
    return enc;
  };
  const startRelay = async () => {
    relay = await startRelayService({
      apiUrl: e.stack.apiUrl,
      jobTokenSecret: localSecrets(e.stack.persistTo).JOB_TOKEN_SECRET,
      host: "127.0.0.1",
      port: relayPort,
      quiet: process.env.KEYFRAME_E2E_LOGS !== "1",
    });
  };
  const relayHealth = async () => (await (await fetch(relay?.healthUrl as string)).json()) as Record<string, number>;

  beforeAll(async () => {
    relayPort = await freePort();
    e = await startE2E({ RTMP_RELAY_URL: relayPublishUrl("127.0.0.1", relayPort) });
    await startRelay();
  }, 420_000);

  afterAll(async () => {
    for (const enc of encoders) await enc.kill();
    await relay?.service.stop();
    await e?.close();
  });

  const stream = async (id: string) => (await e.api<LiveStream>("GET", `/v1/live-streams/${id}`)).body;
  const health = async (id: string) => (await e.api<LiveStreamHealth>("GET", `/v1/live-streams/${id}/health`)).body;
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
  /** On failure, what the relay, the DO and the encoders saw. */
  const explain = async <T>(id: string, p: Promise<T>): Promise<T> => {
    try {
      return await p;
    } catch (err) {
      console.error(
        JSON.stringify(
          {
            health: await health(id),
            relay: relay?.service.tail().slice(-3000),
            encoders: encoders.map((x) => x.stderr().slice(-1500)),
          },
          null,
          1,
        ),
      );
      throw err;
    }
  };

  it("refuses an unknown or disabled key at connect: ffmpeg fails, nothing reaches ingest", async () => {
    const created = await e.api<CreatedLiveStream>("POST", "/v1/live-streams", {
      latency_mode: "low",
      playback_policy: "public",
    });
    expect(created.status).toBe(201);
    const ls = created.body;
    expect(ls.ingest.rtmp_url).toBe(`rtmp://127.0.0.1:${relayPort}/live`);
    // Not secret: shown on every read, unlike hls_url (which embeds the key).
    expect((await stream(ls.id)).ingest).toEqual({ hls_url: null, cmaf_url: null, rtmp_url: ls.ingest.rtmp_url });
    const before = await relayHealth();

    const startedAt = Date.now();
    const unknown = broadcast(`${ls.ingest.rtmp_url}/${"k".repeat(43)}`, { seconds: 20 });
    expect(await unknown.exited).not.toBe(0);
    expect(unknown.stderr()).toContain("Unknown stream key");
    // Refused at the publish, not after 20 s of media.
    expect(Date.now() - startedAt).toBeLessThan(10_000);

    await e.api("PUT", `/v1/live-streams/${ls.id}/disable`);
    const disabled = broadcast(`${ls.ingest.rtmp_url}/${ls.stream_key}`, { seconds: 20 });
    expect(await disabled.exited).not.toBe(0);
    expect(disabled.stderr()).toContain("disabled");

    // A wrong application name is refused too, even with a good key.
    await e.api("PUT", `/v1/live-streams/${ls.id}/enable`);
    const wrongApp = broadcast(`rtmp://127.0.0.1:${relayPort}/other/${ls.stream_key}`, { seconds: 20 });
    expect(await wrongApp.exited).not.toBe(0);

    const after = await relayHealth();
    expect(after.refused - before.refused).toBe(3);
    expect(after.accepted).toBe(before.accepted);
    // Nothing reached the stream: never connected, no recording, no segments.
    expect(await health(ls.id)).toMatchObject({
      connection: "disconnected",
      session_id: null,
      segments: 0,
      refused_requests: 0,
    });
    const view = await stream(ls.id);
    expect(view).toMatchObject({ status: "idle", active_asset_id: null, recent_asset_ids: [] });
    expect(await timeline(ls.id)).toEqual(["live_stream.created", "live_stream.disabled", "live_stream.enabled"]);
  }, 120_000);

  it("OBS-style RTMP plays in hls.js; the relay killed and restarted inside the window keeps one session; a clean stop is idle at once", async () => {
    const created = await e.api<CreatedLiveStream>("POST", "/v1/live-streams", {
      latency_mode: "low",
      playback_policy: "public",
      reconnect_window: 30,
      recording: { mode: "automatic", new_asset_settings: { playback_policy: "public", title: "rtmp show" } },
    });
    const ls = created.body;
    const publish = `${ls.ingest.rtmp_url}/${ls.stream_key}`;
    const pb = ls.playback_ids[0].id;
    const master = `${e.stack.edgeUrl}/${pb}.m3u8`;
    const live = `${e.stack.edgeUrl}/${pb}/live.m3u8`;

    const a = broadcast(publish);
    const first = await explain(
      ls.id,
      pollUntil(live, (s) => s === 200, 40_000),
    );
    const firstListedAt = Date.now();
    expect(first.body).not.toContain("#EXT-X-ENDLIST");
    const view = await stream(ls.id);
    expect(view).toMatchObject({ status: "active", connection: "connected" });
    expect(view.active_asset_id).toMatch(/^as_/);
    const watched = await explain(ls.id, watchLive(master, 8000));
    expect(watched.errors).toEqual([]);
    expect(watched.second).toBeGreaterThan(watched.first + 1);
    const later = await pollUntil(live, (s, b) => s === 200 && mediaSequence(b) > mediaSequence(first.body), 20_000);
    expect(later.body).not.toContain("#EXT-X-ENDLIST");
    const mid = await health(ls.id);
    // Stream copy keeps the broadcaster's GOP: every 2 s segment starts on its keyframe.
    expect(mid).toMatchObject({ container: "mpegts", reconnects: 0, keyframe_aligned: true, refused_requests: 0 });
    expect(mid.ingest_bitrate).toBeGreaterThan(10_000);

    // The relay dies with everything it ran (SIGKILL to its process group: no flush, no goodbye).
    const relayPid = relay?.service.child.pid as number;
    process.kill(-relayPid, "SIGKILL");
    await relay?.service.exited;
    // The broadcaster notices its connection is gone (ffmpeg exits; OBS would retry by itself).
    expect(await a.exited).not.toBe(0);
    await startRelay();
    const b = broadcast(publish);
    await explain(
      ls.id,
      pollUntil(live, (s, body) => s === 200 && body.includes("#EXT-X-DISCONTINUITY\n"), 40_000),
    );
    const after = await health(ls.id);
    expect(after.session_id).toBe(mid.session_id);
    expect(after.reconnects).toBe(1);
    expect((await stream(ls.id)).active_asset_id).toBe(view.active_asset_id);
    await pollUntil(
      live,
      (s, body) => s === 200 && mediaSequence(body) >= 0 && (body.match(/#EXTINF/g)?.length ?? 0) >= 3,
    );

    // At least 16 s on air in total, then a clean stop: deleteStream → the relay sends ENDLIST → idle at once.
    await sleep(Math.max(0, firstListedAt + 16_000 - Date.now()));
    b.proc.kill("SIGINT");
    expect([0, 255]).toContain(await b.exited);
    // "At once" against the 30 s reconnect window: 20 s leaves room for a loaded CI box (10 s ran out there once,
    // with no trace of why; explain() now prints what the relay, the DO and the encoders saw).
    const ended = await explain(
      ls.id,
      waitFor(
        "idle",
        async () => {
          const s = await stream(ls.id);
          return s.status === "idle" && s;
        },
        20_000,
      ),
    );
    expect(ended.recent_asset_ids).toEqual([view.active_asset_id]);
    const asset = await e.waitForAsset(view.active_asset_id!, (x) => x.status === "ready", 10_000);
    expect(asset.title).toBe("rtmp show");
    const vod = await (await fetch(`${e.stack.edgeUrl}/${asset.playback_ids[0].id}/stream/index.m3u8`)).text();
    expect(vod).toContain("#EXT-X-ENDLIST");
    expect(vod.split("\n").filter((l) => l === "#EXT-X-DISCONTINUITY")).toHaveLength(1);
    const probe = await ffprobeJson(`${e.stack.edgeUrl}/${asset.playback_ids[0].id}.m3u8`);
    expect(Number(probe.format.duration)).toBeGreaterThan(10);
    expect(probe.streams.map((s) => s.codec_type).sort()).toEqual(["audio", "video"]);

    expect(await timeline(ls.id)).toEqual([
      "live_stream.created",
      "live_stream.connected",
      "live_stream.active",
      "live_stream.disconnected",
      "live_stream.connected",
      "live_stream.disconnected",
      "live_stream.idle",
    ]);
  }, 300_000);
});
