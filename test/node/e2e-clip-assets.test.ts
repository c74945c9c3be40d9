/**
 * Frame-accurate clip assets and chapters for real: a source whose every frame carries its own frame
 * number as a 10-bit barcode (lavfi geq) goes through the local stack; a clip asset of it is cut by the
 * transcoder, and its first frame is decoded back from what the edge serves (the MP4 download and the HLS
 * rendition): it must be the requested frame (±1), and ffprobe's duration the requested length (±1 frame).
 * A clip of that clip cuts the original at the summed offset. The clip's chapters come back as WebVTT at
 * `/{pid}/chapters.vtt` and listed in the embed page.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Asset } from "../support/api-types";
import { type E2E, startE2E, uploadFile } from "./support/e2e";
import { expectFrameAccurateClip, firstFrameNumber, makeNumberedVideo } from "./support/frame-numbers";
import { ffprobeJson } from "./support/media";

const FPS = 25;
const FRAME = 1 / FPS;

describe("frame-accurate clip assets", () => {
  let e: E2E;
  let sourceId: string;
  const work = mkdtempSync(path.join(tmpdir(), "keyframe-clips-"));

  beforeAll(async () => {
    e = await startE2E();
    const file = await makeNumberedVideo(path.join(work, "numbered.mp4"), { seconds: 10, fps: FPS });
    // The generator itself is checked: frame 0 decodes as 0.
    expect(await firstFrameNumber(file)).toBe(0);
    const up = await uploadFile(e, new Uint8Array(readFileSync(file)));
    expect(up.putStatus).toBe(200);
    sourceId = up.assetId as string;
    const asset = await e.waitForAsset(sourceId, (a) => a.status === "ready" || a.status === "errored", 300_000);
    expect(asset.status, JSON.stringify(asset.error)).toBe("ready");
  }, 420_000);

  afterAll(async () => {
    await e?.close();
  });

  async function makeClip(body: Record<string, unknown>) {
    const res = await e.api<Asset>("POST", "/v1/assets", {
      playback_policy: "public",
      mp4_support: "standard",
      ...body,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const ready = await e.waitForAsset(
      res.body.id,
      (a) =>
        a.status === "errored" || (a.renditions_status === "complete" && a.static_renditions.status !== "preparing"),
      300_000,
    );
    expect(ready.status, JSON.stringify(ready.error)).toBe("ready");
    expect(ready.static_renditions.status).toBe("ready");
    return ready;
  }

  it("starts at the requested frame and lasts the requested time, in the download and in HLS", async () => {
    const start = 3.44; // frame 86
    const end = 6.2; // 69 frames
    const clip = await makeClip({
      input: { asset_id: sourceId, start_time: start, end_time: end },
      chapters: [
        { start_time: 1.5, title: "Second <half> & more" },
        { start_time: 0, title: "First" },
      ],
    });
    expect(clip).toMatchObject({ source_asset_id: sourceId, clip: { start_time: start, end_time: end } });
    const probed = await expectFrameAccurateClip(e.stack.edgeUrl, clip, { start, end }, FPS);
    const pb = clip.playback_ids[0].id;
    // The audio is cut at the same place (AAC frames are 21 ms, so within a video frame or two).
    const audio = probed.streams.find((s) => s.codec_type === "audio")!;
    expect(Math.abs(Number(audio.duration) - (end - start))).toBeLessThanOrEqual(2 * FRAME + 0.03);

    // Chapters: WebVTT with escaped titles, each to the next start, the last to the clip's end.
    const vtt = await fetch(`${e.stack.edgeUrl}/${pb}/chapters.vtt`);
    expect(vtt.status).toBe(200);
    expect(vtt.headers.get("content-type")).toContain("text/vtt");
    const text = await vtt.text();
    expect(text).toMatch(/^WEBVTT\n/);
    expect(text).toContain("00:00:00.000 --> 00:00:01.500\nFirst\n");
    expect(text).toMatch(/00:00:01\.500 --> 00:00:02\.(7[2-9]|8\d)\d\nSecond &lt;half&gt; &amp; more\n/);
    const embed = await (await fetch(`${e.stack.edgeUrl}/embed/${pb}`)).text();
    expect(embed).toContain(`<track kind="chapters" default srclang="en" label="Chapters" src="/${pb}/chapters.vtt">`);
    expect(embed).toContain('data-start="1.5"');
    expect(embed).toContain("Second &#60;half&#62; &#38; more");

    // Animated previews of the clip, rendered through edge → API → transcoder, then served from R2.
    const gifUrl = `${e.stack.edgeUrl}/${pb}/animated.gif?start=0.5&end=2&width=150&fps=10`;
    const gif = await fetch(gifUrl);
    expect(gif.status, await gif.clone().text()).toBe(200);
    expect(gif.headers.get("content-type")).toBe("image/gif");
    expect(gif.headers.get("x-keyframe-thumbnail")).toBe("rendered");
    expect(gif.headers.get("x-keyframe-animated")).toBe("start=0.5;end=2;width=160;fps=10");
    const gifFile = path.join(work, "preview.gif");
    writeFileSync(gifFile, new Uint8Array(await gif.arrayBuffer()));
    const gifProbe = await ffprobeJson(gifFile);
    expect(gifProbe.streams[0]).toMatchObject({ codec_name: "gif", width: 160 });
    // 0.5 s into the clip is frame 86 + 12.5 of the original: the first frame at or after it.
    expect(Math.abs((await firstFrameNumber(gifFile)) - 99)).toBeLessThanOrEqual(1);
    const again = await fetch(gifUrl);
    expect(again.status).toBe(200);
    expect(again.headers.get("x-keyframe-thumbnail")).toBe("cached");
    await again.arrayBuffer();
    const webp = await fetch(`${e.stack.edgeUrl}/${pb}/animated.webp?width=120&fps=5`);
    expect(webp.status).toBe(200);
    expect(webp.headers.get("content-type")).toBe("image/webp");
    const webpBytes = Buffer.from(await webp.arrayBuffer());
    expect(webpBytes.subarray(8, 12).toString("latin1")).toBe("WEBP");

    // On-demand stills of a clip are its frames too (its stored source is the whole original, offset).
    const still = await fetch(`${e.stack.edgeUrl}/${pb}/thumbnail.jpg?time=1&width=480`);
    expect(still.status).toBe(200);
    const stillFile = path.join(work, "still.jpg");
    writeFileSync(stillFile, new Uint8Array(await still.arrayBuffer()));
    expect(Math.abs((await firstFrameNumber(stillFile)) - 111)).toBeLessThanOrEqual(1);

    // A clip of the clip: 1.0 s in is frame 86 + 25 of the original.
    const nested = await makeClip({ input: { asset_id: clip.id, start_time: 1, end_time: 2 } });
    expect(nested.source_asset_id).toBe(clip.id);
    const nestedFirst = await firstFrameNumber(`${e.stack.edgeUrl}/${nested.playback_ids[0].id}/downloads/highest.mp4`);
    expect(Math.abs(nestedFirst - (start + 1) * FPS)).toBeLessThanOrEqual(1);
    expect(Math.abs(nested.duration! - 1)).toBeLessThanOrEqual(FRAME + 0.03);

    // The timeline tells the clip's story like any asset's.
    const timeline = await e.api("GET", `/v1/assets/${clip.id}/events`);
    expect(timeline.status).toBe(200);
    const types = JSON.stringify(timeline.body);
    for (const t of ["asset.created", "asset.processing", "asset.ready"]) expect(types).toContain(t);
  }, 600_000);
});
