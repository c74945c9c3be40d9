/**
 * Animated previews rendered for real by the transcoder's thumbnail service (transcoder/src/animated.ts
 * through thumbnails.ts): a GIF that ffprobe reads as `width` px wide with fps × duration frames, starting
 * at the requested frame; an animated WebP whose RIFF chunks hold that many frames; identical requests in
 * flight share one render.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TranscoderThumbnailRequest } from "../../../src/lib/thumbnails";
import { createLogger } from "../../../transcoder/src/log";
import { createThumbnailService } from "../../../transcoder/src/thumbnails";
import { firstFrameNumber, makeNumberedVideo } from "../support/frame-numbers";
import { ffmpegBin, ffprobeJson } from "../support/media";

const work = mkdtempSync(path.join(tmpdir(), "keyframe-animated-"));
let source: string;

beforeAll(async () => {
  source = await makeNumberedVideo(path.join(work, "numbered.mp4"), { seconds: 8, fps: 25 });
}, 60_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

function request(animated: NonNullable<TranscoderThumbnailRequest["animated"]>): TranscoderThumbnailRequest {
  return {
    asset_id: "as_animated",
    source_url: `http://127.0.0.1:9/unused`,
    source_token: "x".repeat(32),
    time: animated.start,
    duration: 8,
    width: null,
    height: null,
    fit_mode: "preserve",
    animated,
  };
}

/** Frames of an animated WebP: its ANMF chunks. */
function webpFrames(b: Buffer): number {
  expect(b.subarray(0, 4).toString("latin1")).toBe("RIFF");
  expect(b.subarray(8, 12).toString("latin1")).toBe("WEBP");
  let frames = 0;
  let hasAnim = false;
  for (let at = 12; at + 8 <= b.length; ) {
    const tag = b.subarray(at, at + 4).toString("latin1");
    const size = b.readUInt32LE(at + 4);
    if (tag === "ANIM") hasAnim = true;
    if (tag === "ANMF") frames++;
    at += 8 + size + (size % 2);
  }
  expect(hasAnim).toBe(true);
  return frames;
}

describe("animated previews in the transcoder", () => {
  it("renders a GIF of the range at the width and frame rate, and a WebP; identical requests share one render", async () => {
    const ffmpegPath = await ffmpegBin();
    const service = createThumbnailService({ logger: createLogger({}, () => undefined), ffmpegPath });
    const gifReq = request({ format: "gif", start: 2, end: 4, width: 240, fps: 10 });
    // The service reads the source from a URL in production; a local path is the same ffmpeg input.
    gifReq.source_url = source as never;
    const [a, b] = await Promise.all([service.render(gifReq), service.render(gifReq)]);
    expect([a.joined, b.joined].sort()).toEqual([false, true]);
    expect(a.contentType).toBe("image/gif");
    expect(a.jpeg.subarray(0, 6).toString("latin1")).toBe("GIF89a");
    const gifPath = path.join(work, "out.gif");
    await writeFile(gifPath, a.jpeg);
    const probed = await ffprobeJson(gifPath);
    const v = probed.streams[0];
    expect(v.codec_name).toBe("gif");
    expect(v.width).toBe(240);
    expect(v.height).toBe(136); // 240 × 270/480, rounded to even
    // fps × duration frames (GIF frame durations are centiseconds: ±1).
    const frames = Number(v.nb_frames) || Math.round(Number(probed.format.duration) * 10);
    expect(Math.abs(frames - 20)).toBeLessThanOrEqual(1);
    // It starts where asked: frame 50 of the 25 fps source.
    expect(Math.abs((await firstFrameNumber(gifPath)) - 50)).toBeLessThanOrEqual(1);

    const webpReq = { ...request({ format: "webp", start: 0, end: 1.5, width: 160, fps: 20 }), source_url: source };
    const webp = await service.render(webpReq as never);
    expect(webp.contentType).toBe("image/webp");
    expect(Math.abs(webpFrames(webp.jpeg) - 30)).toBeLessThanOrEqual(1);
    await service.idle();
  }, 120_000);
});
