/**
 * Simulcast end to end on the real local stack: a broadcast pushed over HTTP is restreamed by the transcoder
 * to two RTMP targets. Each target is a plain `ffmpeg -listen 1 -f flv -i rtmp://…` recording what it
 * receives, as YouTube's ingest would. Target A listens from the start and ends `broadcasting`, and ffprobe
 * reads what it recorded; target B refuses connections at first (nothing listens), shows `errored`, and
 * recovers to `broadcasting` once its listener appears — while A and the main stream carry on undisturbed.
 * The target API refuses non-RTMP URLs and changes while on air.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/lib/proc";
import { binaryEnv } from "../../transcoder/src/ffmpeg/static-env.js";
import type {
  CreatedLiveStream,
  Event,
  LiveStream,
  LiveStreamHealth,
  Page,
  Problem,
  SimulcastTarget,
} from "../support/api-types";
import { type E2E, startE2E } from "./support/e2e";
import { type Encoder, LIVE_FFMPEG, mediaSequence, pollUntil, sleep, startEncoder } from "./support/live";
import { ffprobeJson } from "./support/media";

/** An RTMP server that accepts one publish on `rtmp://127.0.0.1:port/app/key` and writes it to `file`. */
function rtmpListener(port: number, key: string, file: string) {
  const proc: ChildProcess = spawn(
    LIVE_FFMPEG,
    [
      "-hide_banner",
      "-loglevel",
      "error",
      "-y",
      "-listen",
      "1",
      "-f",
      "flv",
      "-i",
      `rtmp://127.0.0.1:${port}/app/${key}`,
      "-c",
      "copy",
      file,
    ],
    { env: binaryEnv(LIVE_FFMPEG), stdio: ["ignore", "ignore", "pipe"] },
  );
  let err = "";
  proc.stderr?.on("data", (d) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (c) => resolve(c)));
  return { proc, exited, stderr: () => err };
}

describe("simulcast end to end", () => {
  let e: E2E;
  let dir: string;
  const encoders: Encoder[] = [];
  const listeners: ReturnType<typeof rtmpListener>[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "keyframe-simulcast-"));
    e = await startE2E({}, { KEYFRAME_SIMULCAST_BACKOFF_MS: "500,1000,2000" });
  }, 420_000);

  afterAll(async () => {
    for (const enc of encoders) await enc.kill();
    for (const l of listeners) l.proc.kill("SIGKILL");
    await e?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const target = async (streamId: string, id: string) =>
    (await e.api<SimulcastTarget>("GET", `/v1/live-streams/${streamId}/simulcast-targets/${id}`)).body;
  const waitFor = async <T>(what: string, f: () => Promise<T | null | undefined | false>, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      const v = await f();
      if (v) return v;
      last = v;
      await sleep(300);
    }
    throw new Error(`timed out waiting for ${what} (last ${JSON.stringify(last)})`);
  };

  it("restreams to two RTMP targets; a refusing target is errored and recovers; the recording ffprobe reads", async () => {
    const ls = (
      await e.api<CreatedLiveStream>("POST", "/v1/live-streams", {
        latency_mode: "low",
        playback_policy: "public",
        reconnect_window: 10,
        recording: { mode: "off" },
      })
    ).body;
    const base = `/v1/live-streams/${ls.id}/simulcast-targets`;

    // Only rtmp(s), no credentials, no query; the key is write-only.
    const bad = await e.api<Problem>("POST", base, { url: "http://127.0.0.1/app", stream_key: "x" });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].location).toBe("body.url");
    expect((await e.api("POST", base, { url: "rtmp://user:pw@127.0.0.1/app", stream_key: "x" })).status).toBe(400);
    expect((await e.api("POST", base, { url: "rtmp://127.0.0.1/app", stream_key: "a/b" })).status).toBe(400);

    const portA = await freePort();
    const portB = await freePort();
    const a = await e.api<SimulcastTarget>("POST", base, {
      url: `rtmp://127.0.0.1:${portA}/app`,
      stream_key: "key-a",
      passthrough: "A",
    });
    expect(a.status).toBe(201);
    expect(a.body).toMatchObject({
      status: "idle",
      error: null,
      passthrough: "A",
      url: `rtmp://127.0.0.1:${portA}/app`,
    });
    expect(JSON.stringify(a.body)).not.toContain("key-a");
    const b = (
      await e.api<SimulcastTarget>("POST", base, { url: `rtmp://127.0.0.1:${portB}/app`, stream_key: "key-b" })
    ).body;
    const listed = (await e.api<Page<SimulcastTarget>>("GET", base)).body.data;
    expect(listed.map((t) => t.id)).toEqual([a.body.id, b.id]);

    const fileA = path.join(dir, "a.flv");
    const fileB = path.join(dir, "b.flv");
    const listenerA = rtmpListener(portA, "key-a", fileA);
    listeners.push(listenerA);
    await sleep(500);

    const enc = startEncoder(ls.ingest.hls_url!, { hlsTime: 2 });
    encoders.push(enc);
    const live = `${e.stack.edgeUrl}/${ls.playback_ids[0].id}/live.m3u8`;
    const first = await pollUntil(live, (s) => s === 200, 40_000);

    // On air: the set of targets is fixed.
    expect((await e.api("DELETE", `${base}/${b.id}`)).status).toBe(409);
    expect((await e.api("POST", base, { url: "rtmp://127.0.0.1:1/app", stream_key: "k" })).status).toBe(409);

    await waitFor("A broadcasting", async () => (await target(ls.id, a.body.id)).status === "broadcasting");
    const bErrored = await waitFor("B errored", async () => {
      const t = await target(ls.id, b.id);
      return t.status === "errored" && t;
    });
    expect(bErrored.error).toBeTruthy();
    expect(bErrored.error).not.toContain("key-b");

    // B's server comes up: the next retry reaches it. A and the main stream were never disturbed.
    const listenerB = rtmpListener(portB, "key-b", fileB);
    listeners.push(listenerB);
    await waitFor("B broadcasting", async () => (await target(ls.id, b.id)).status === "broadcasting");
    expect((await target(ls.id, a.body.id)).status).toBe("broadcasting");
    const later = await pollUntil(live, (s, body) => s === 200 && mediaSequence(body) > mediaSequence(first.body));
    expect(later.body).not.toContain("#EXT-X-DISCONTINUITY\n");
    const h = (await e.api<LiveStreamHealth>("GET", `/v1/live-streams/${ls.id}/health`)).body;
    expect(h).toMatchObject({ connection: "connected", reconnects: 0, refused_requests: 0 });
    await sleep(6000);

    // A clean stop ends the session: the job stops, the targets go idle, the listeners finish their files.
    enc.proc.kill("SIGINT");
    await enc.exited;
    await waitFor(
      "idle",
      async () => (await e.api<LiveStream>("GET", `/v1/live-streams/${ls.id}`)).body.status === "idle",
      20_000,
    );
    await waitFor("targets idle", async () => {
      const all = (await e.api<Page<SimulcastTarget>>("GET", base)).body.data;
      return all.every((t) => t.status === "idle");
    });
    await Promise.race([Promise.all([listenerA.exited, listenerB.exited]), sleep(20_000)]);

    for (const [file, minSeconds] of [
      [fileA, 8],
      [fileB, 3],
    ] as const) {
      expect(statSync(file).size).toBeGreaterThan(10_000);
      const probe = await ffprobeJson(file);
      expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
      expect(Number(probe.format.duration)).toBeGreaterThan(minSeconds);
    }

    const events = (await e.api<Page<Event>>("GET", "/v1/events?type=live_stream.*&limit=100")).body.data;
    const forA = events.filter((x) => x.data.simulcast_target_id === a.body.id).map((x) => x.type);
    const forB = events.filter((x) => x.data.simulcast_target_id === b.id).map((x) => x.type);
    expect(forA).toEqual([
      "live_stream.simulcast_target.created",
      "live_stream.simulcast_target.starting",
      "live_stream.simulcast_target.broadcasting",
      "live_stream.simulcast_target.idle",
    ]);
    expect(forB).toEqual([
      "live_stream.simulcast_target.created",
      "live_stream.simulcast_target.starting",
      "live_stream.simulcast_target.errored",
      "live_stream.simulcast_target.broadcasting",
      "live_stream.simulcast_target.idle",
    ]);

    // Idle again: targets can be removed.
    expect((await e.api("DELETE", `${base}/${b.id}`)).status).toBe(204);
    expect((await e.api("GET", `${base}/${b.id}`)).status).toBe(404);
  }, 400_000);
});
