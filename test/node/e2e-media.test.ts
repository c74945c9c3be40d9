import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Asset } from "../support/api-types";
import { injectCaptions, popOnPairs } from "./support/cea608";
import { type E2E, startE2E } from "./support/e2e";
import { runFfmpeg as ffmpeg } from "./support/media";

const settled = (a: Asset) => a.status === "errored" || (a.status === "ready" && a.renditions_status === "complete");

describe("derived media end to end: audio tracks, captions, watermark", () => {
  let e: E2E;
  let files: http.Server;
  let filesUrl = "";
  const work = mkdtempSync(path.join(tmpdir(), "keyframe-media-"));

  beforeAll(async () => {
    e = await startE2E({ ALLOW_PRIVATE_INGEST_URLS: "true" });
    await ffmpeg(
      [
        ...["-f", "lavfi", "-i", "color=c=blue:s=640x360:r=30:d=6"],
        ...[
          "-c:v",
          "libx264",
          "-preset",
          "ultrafast",
          "-bf",
          "0",
          "-g",
          "60",
          "-pix_fmt",
          "yuv420p",
          "-f",
          "h264",
          "raw.h264",
        ],
      ],
      work,
    );
    writeFileSync(
      path.join(work, "cc.h264"),
      injectCaptions(readFileSync(path.join(work, "raw.h264")), popOnPairs("HI"), 30),
    );
    await ffmpeg(
      [
        ...["-framerate", "30", "-i", "cc.h264"],
        ...["-f", "lavfi", "-i", "sine=frequency=440:duration=6", "-f", "lavfi", "-i", "sine=frequency=880:duration=6"],
        ...["-map", "0:v", "-map", "1:a", "-map", "2:a", "-c:v", "copy", "-c:a", "aac", "-shortest"],
        ...["-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=spa", "source.mp4"],
      ],
      work,
    );
    await ffmpeg(["-f", "lavfi", "-i", "color=c=red:s=64x64", "-frames:v", "1", "red.png"], work);
    files = http.createServer((req, res) => {
      const name = { "/source.mp4": "source.mp4", "/red.png": "red.png" }[req.url ?? ""];
      if (name) {
        const bytes = readFileSync(path.join(work, name));
        res.writeHead(200, { "content-length": bytes.byteLength }).end(bytes);
      } else if (req.url === "/text.png") res.writeHead(200).end("not an image at all");
      else res.writeHead(404).end("not here");
    });
    await new Promise<void>((r) => files.listen(0, "127.0.0.1", r));
    filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
  }, 240_000);

  afterAll(async () => {
    await new Promise((r) => files?.close(r));
    await e?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("publishes a watermarked ladder only, with both audio tracks and the captions in the master", async () => {
    const created = await e.api<Asset>("POST", "/v1/assets", {
      input: { url: `${filesUrl}/source.mp4` },
      playback_policy: "public",
      watermark: { url: `${filesUrl}/red.png`, position: "top-right", margin_x: 0, margin_y: 0, width: "25%" },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const asset = await e.waitForAsset(created.body.id, settled, 240_000);
    expect(asset.status, JSON.stringify(asset.error)).toBe("ready");
    // Never remuxed: no fast rendition was ever published for a watermarked asset.
    expect(asset.source?.remuxed).toBe(false);
    expect(asset.renditions.map((r) => r.name).sort()).toEqual(["audio", "audio_1", "v360"]);
    expect(asset.tracks.filter((t) => t.type === "audio")).toMatchObject([
      { name: "English", language_code: "en", primary: true },
      { name: "Spanish", language_code: "es", primary: false },
    ]);
    expect(asset.tracks.find((t) => t.type === "video")).toMatchObject({ closed_captions: true });

    const pb = asset.playback_ids[0].id;
    const master = await (await fetch(`${e.stack.edgeUrl}/${pb}.m3u8`)).text();
    expect(master.match(/^#EXT-X-MEDIA:TYPE=AUDIO/gm)).toHaveLength(2);
    expect(master).toMatch(/TYPE=AUDIO,GROUP-ID="audio",NAME="Spanish",LANGUAGE="es",DEFAULT=NO/);
    expect(master).toMatch(/TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="English CC",LANGUAGE="en".*INSTREAM-ID="CC1"/);
    expect(master).toMatch(/#EXT-X-STREAM-INF:.*AUDIO="audio".*CLOSED-CAPTIONS="cc"/);

    // A frame of the rendition as the edge serves it: red where the watermark is, blue elsewhere.
    const rgb = await ffmpeg([
      ...["-i", `${e.stack.edgeUrl}/${pb}/v360/index.m3u8`, "-frames:v", "1"],
      ...["-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
    ]);
    expect(rgb.byteLength).toBe(640 * 360 * 3);
    const px = (x: number, y: number) => [...rgb.subarray((y * 640 + x) * 3, (y * 640 + x) * 3 + 3)];
    const [r, g, b] = px(640 - 40, 40);
    expect(r).toBeGreaterThan(200);
    expect(g).toBeLessThan(40);
    expect(b).toBeLessThan(40);
    const [r2, , b2] = px(40, 320);
    expect(r2).toBeLessThan(40);
    expect(b2).toBeGreaterThan(200);
  }, 300_000);

  it("errors the asset when the watermark cannot be used", async () => {
    const make = (wm: string) =>
      e.api<Asset>("POST", "/v1/assets", {
        input: { url: `${filesUrl}/source.mp4` },
        watermark: { url: `${filesUrl}/${wm}` },
      });
    const [missing, text] = await Promise.all([make("missing.png"), make("text.png")]);
    const [a, b] = await Promise.all([
      e.waitForAsset(missing.body.id, settled, 180_000),
      e.waitForAsset(text.body.id, settled, 180_000),
    ]);
    expect([a.status, a.error?.code]).toEqual(["errored", "watermark_fetch_failed"]);
    expect([b.status, b.error?.code]).toEqual(["errored", "watermark_invalid"]);
    expect(a.renditions ?? []).toEqual([]);
  }, 240_000);
});
