/**
 * Clips of a live recording end to end, on the real local stack: ffmpeg broadcasts (HLS over HTTP PUT, in
 * real time) a video whose every frame carries its own frame number as a barcode (./support/frame-numbers),
 * and while it is still broadcasting a clip asset of [4, 10) of its recording is asked for: refused with 422
 * while those seconds are not recorded yet, accepted once they are, then cut by the transcoder from the
 * recorded segments. What the edge serves (MP4 download and HLS) must start at the requested frame (±1) and
 * last the requested time (±1 frame), and the clip is ready while the broadcast still runs. After the
 * broadcast ends, a clip of the finished recording is cut the same way from its VOD playlist.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Asset, CreatedLiveStream, LiveStream, Problem } from "../support/api-types";
import { type E2E, startE2E } from "./support/e2e";
import { expectFrameAccurateClip, firstFrameNumber, makeNumberedVideo } from "./support/frame-numbers";
import { type Encoder, sleep, startEncoder } from "./support/live";

const FPS = 25;
/** Long enough for the clip to be ready before the broadcast ends, on a loaded machine. */
const BROADCAST_SECONDS = 90;

describe("clips of a live recording, end to end", () => {
  let e: E2E;
  let enc: Encoder | undefined;
  const work = mkdtempSync(path.join(tmpdir(), "keyframe-live-clips-"));
  let numbered = "";

  beforeAll(async () => {
    // MPEG-TS with a keyframe every 2 s: stream-copied, it segments as a live encoder's 2 s segments do.
    [e, numbered] = await Promise.all([
      startE2E(),
      makeNumberedVideo(path.join(work, "numbered.ts"), { seconds: BROADCAST_SECONDS, fps: FPS, format: "mpegts" }),
    ]);
    expect(await firstFrameNumber(numbered)).toBe(0);
  }, 420_000);

  afterAll(async () => {
    await enc?.kill();
    await e?.close();
    rmSync(work, { recursive: true, force: true });
  });

  async function waitUntilProcessed(id: string) {
    const ready = await e.waitForAsset(
      id,
      (a) =>
        a.status === "errored" || (a.renditions_status === "complete" && a.static_renditions.status !== "preparing"),
      300_000,
    );
    expect(ready.status, JSON.stringify(ready.error)).toBe("ready");
    expect(ready.static_renditions.status).toBe("ready");
    return ready;
  }

  /** The clip's first frame number and length, as served by the edge (download and HLS). */
  async function checkClip(clip: Asset, start: number, end: number) {
    await expectFrameAccurateClip(e.stack.edgeUrl, clip, { start, end }, FPS);
  }

  it("clips [4, 10) of a recording while it broadcasts, frame-accurately; then a clip of the finished recording", async () => {
    const created = await e.api<CreatedLiveStream>("POST", "/v1/live-streams", {
      playback_policy: "public",
      reconnect_window: 30,
      recording: { mode: "automatic", new_asset_settings: { playback_policy: "public" } },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const ls = created.body;
    enc = startEncoder(ls.ingest.hls_url!, { input: numbered, hlsTime: 2 });

    let recording: string | null = null;
    for (let deadline = Date.now() + 60_000; !recording && Date.now() < deadline; await sleep(250)) {
      recording = (await e.api<LiveStream>("GET", `/v1/live-streams/${ls.id}`)).body.active_asset_id;
    }
    if (!recording) throw new Error(`the broadcast never started a recording:\n${enc.stderr()}`);

    // Asked for as soon as the recording exists: [4, 10) is not recorded yet, and the answer says how much is.
    const body = {
      input: { asset_id: recording, start_time: 4, end_time: 10 },
      playback_policy: "public",
      mp4_support: "standard",
    };
    let res = await e.api<Asset | Problem>("POST", "/v1/assets", body);
    expect(res.status, JSON.stringify(res.body)).toBe(422);
    const early = res.body as Problem;
    expect(early.code).toBe("range_not_recorded");
    const recordedThen = Number(/recorded so far \(([\d.]+) s\)/.exec(early.detail)?.[1]);
    expect(recordedThen).toBeGreaterThan(0);
    expect(recordedThen).toBeLessThan(10);
    // Retried as a client would, until those seconds are recorded.
    for (let deadline = Date.now() + 60_000; res.status === 422 && Date.now() < deadline; ) {
      await sleep(1000);
      res = await e.api<Asset | Problem>("POST", "/v1/assets", body);
    }
    expect(res.status, `${JSON.stringify(res.body)}\n${enc.stderr()}`).toBe(201);
    const asked = res.body as Asset;
    expect(asked).toMatchObject({ source_asset_id: recording, clip: { start_time: 4, end_time: 10 } });
    // Still recording when it was asked for.
    expect((await e.api<Asset>("GET", `/v1/assets/${recording}`)).body.status).toBe("processing");

    const clip = await waitUntilProcessed(asked.id);
    // ... and ready while the broadcast still runs.
    expect((await e.api<LiveStream>("GET", `/v1/live-streams/${ls.id}`)).body.status).toBe("active");
    expect((await e.api<Asset>("GET", `/v1/assets/${recording}`)).body.status).toBe("processing");
    await checkClip(clip, 4, 10);
    const timeline = JSON.stringify((await e.api("GET", `/v1/assets/${clip.id}/events`)).body);
    for (const t of ["asset.created", "asset.processing", "asset.ready"]) expect(timeline).toContain(t);

    // The broadcast ends now; the finished recording (no original file) is clipped from its VOD playlist.
    expect((await e.api("POST", `/v1/live-streams/${ls.id}/complete`)).status).toBe(200);
    await e.waitForAsset(recording, (a) => a.status === "ready", 60_000);
    const after = await e.api<Asset>("POST", "/v1/assets", {
      ...body,
      input: { asset_id: recording, start_time: 6.4, end_time: 9 },
    });
    expect(after.status, JSON.stringify(after.body)).toBe(201);
    await checkClip(await waitUntilProcessed(after.body.id), 6.4, 9);
  }, 900_000);
});
