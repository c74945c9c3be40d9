/**
 * Watermarks (issue 16) with real ffmpeg: a solid red PNG burned top-right into a solid blue source. A decoded
 * frame of every rendition (and the poster) is red in that corner and blue in the opposite one. The image is
 * fetched from a local HTTP server through the transcoder's guarded fetch: not an image, too large, a 404, a
 * private address without allow_private, and an unreachable host give the precise asset error codes.
 */
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WATERMARK_MAX_BYTES, type WatermarkSettings, watermarkLayout } from "../../../src/lib/watermark.js";
import { InputError } from "../../../transcoder/src/ffmpeg/errors.js";
import { outputFrameRate, planRungs, runLadder } from "../../../transcoder/src/ffmpeg/ladder.js";
import { runPoster } from "../../../transcoder/src/ffmpeg/poster.js";
import { probe } from "../../../transcoder/src/ffmpeg/probe.js";
import { binaryEnv } from "../../../transcoder/src/ffmpeg/static-env.js";
import { planSource } from "../../../transcoder/src/ffmpeg/validate.js";
import { fetchWatermark } from "../../../transcoder/src/watermark.js";
import { runFfmpeg as ffmpeg, ffmpegBin, ffprobeBin } from "../support/media.js";
import { removeDir, tempDir } from "./helpers/media.js";

const execFileAsync = promisify(execFile);

let dir: string;
let server: http.Server;
let base: string;
let redPng: Buffer;

/** The first decoded frame of `input` as raw RGB at its own size. */
async function firstFrameRgb(input: string, cwd?: string): Promise<{ rgb: Buffer; width: number; height: number }> {
  const bin = await ffprobeBin();
  const { stdout } = await execFileAsync(
    bin,
    ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "json", input],
    { cwd, env: binaryEnv(bin) },
  );
  const { width, height } = JSON.parse(stdout).streams[0] as { width: number; height: number };
  const rgb = await (async () => {
    const b = await ffmpegBin();
    const r = await execFileAsync(
      b,
      ["-v", "error", "-i", input, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
      {
        cwd,
        env: binaryEnv(b),
        encoding: "buffer",
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    return r.stdout;
  })();
  return { rgb, width, height };
}

/** Mean RGB of a w×h box whose top-left corner is (x, y). */
function meanRgb(f: { rgb: Buffer; width: number }, x: number, y: number, w: number, h: number): number[] {
  const sum = [0, 0, 0];
  for (let j = y; j < y + h; j++) {
    for (let i = x; i < x + w; i++) {
      const o = (j * f.width + i) * 3;
      for (let c = 0; c < 3; c++) sum[c] += f.rgb[o + c];
    }
  }
  return sum.map((s) => Math.round(s / (w * h)));
}

const spec = {
  position: "top-right" as const,
  margin_x: 0,
  margin_y: 0,
  width: "25%",
  opacity: 1,
};

beforeAll(async () => {
  dir = await tempDir();
  await ffmpeg(["-f", "lavfi", "-i", "color=c=red:s=64x64", "-frames:v", "1", path.join(dir, "red.png")]);
  redPng = await readFile(path.join(dir, "red.png"));
  server = http.createServer((req, res) => {
    if (req.url === "/red.png") res.writeHead(200, { "content-type": "image/png" }).end(redPng);
    else if (req.url === "/text.png") res.writeHead(200, { "content-type": "image/png" }).end("this is not an image");
    else if (req.url === "/huge.png") res.writeHead(200).end(Buffer.alloc(WATERMARK_MAX_BYTES + 10, 1));
    else if (req.url === "/huge-chunked.png") {
      res.writeHead(200);
      for (let i = 0; i < 40; i++) res.write(Buffer.alloc(64 * 1024, 1));
      res.end();
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server?.close(() => r(undefined)));
  await removeDir(dir);
});

function settings(url: string, allowPrivate = true): WatermarkSettings {
  return { url, allow_private: allowPrivate, ...spec };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "resolved";
  } catch (err) {
    return err instanceof InputError ? err.code : `plain:${(err as Error).message}`;
  }
}

describe("layout", () => {
  it("turns positions, px and % into overlay expressions in source pixels", () => {
    expect(watermarkLayout({ ...spec }, 1920, 1080)).toEqual({ width: 480, x: "W-w-0", y: "0", opacity: 1 });
    expect(
      watermarkLayout({ position: "bottom-left", margin_x: "5%", margin_y: 10, width: 101, opacity: 0.5 }, 640, 360),
    ).toEqual({ width: 102, x: "32", y: "H-h-10", opacity: 0.5 });
    expect(watermarkLayout({ ...spec, position: "center", width: "100%" }, 640, 360).x).toBe("(W-w)/2");
  });

  it("never takes the fast path for a watermarked asset", () => {
    const facts = { video: { codec: "h264" } } as unknown as Parameters<typeof planSource>[0];
    const plan = planSource(facts, {
      max_resolution: "1080p",
      fast_path: true,
      source_size_bytes: 1,
      watermark: settings(`${base}/red.png`),
    });
    expect(plan).toEqual({ kind: "video", fastPath: false, reasons: ["watermark"] });
  });
});

describe("fetching the image", () => {
  it("accepts a PNG and measures it", async () => {
    const got = await fetchWatermark(settings(`${base}/red.png`), path.join(dir, "wm-ok"), {
      ffprobePath: await ffprobeBin(),
    });
    expect(got).toMatchObject({ width: 64, height: 64 });
  });

  it("refuses bad images and URLs with the asset error codes", async () => {
    const opts = { ffprobePath: await ffprobeBin() };
    const dest = (n: string) => path.join(dir, `wm-${n}`);
    expect(await codeOf(fetchWatermark(settings(`${base}/text.png`), dest("text"), opts))).toBe("watermark_invalid");
    expect(await codeOf(fetchWatermark(settings(`${base}/huge.png`), dest("huge"), opts))).toBe("watermark_invalid");
    expect(await codeOf(fetchWatermark(settings(`${base}/huge-chunked.png`), dest("chunked"), opts))).toBe(
      "watermark_invalid",
    );
    expect(await codeOf(fetchWatermark(settings(`${base}/missing.png`), dest("404"), opts))).toBe(
      "watermark_fetch_failed",
    );
    expect(await codeOf(fetchWatermark(settings(`${base}/red.png`, false), dest("private"), opts))).toBe(
      "watermark_url_forbidden",
    );
    expect(await codeOf(fetchWatermark(settings("http://localhost/x.png", false), dest("local"), opts))).toBe(
      "watermark_url_forbidden",
    );
    // Nothing listens on port 9 here: retried with the job, then the asset's error on its last attempts.
    const refused = settings("http://127.0.0.1:9/x.png");
    expect(await codeOf(fetchWatermark(refused, dest("refused"), opts))).toMatch(/^plain:/);
    expect(await codeOf(fetchWatermark(refused, dest("refused2"), { ...opts, lastAttempt: true }))).toBe(
      "watermark_fetch_failed",
    );
  });
});

describe("burned into the renditions and the poster", () => {
  it("shows red top-right and blue bottom-left in every rung and the poster", async () => {
    const source = path.join(dir, "blue.mp4");
    await ffmpeg([
      ...["-f", "lavfi", "-i", "color=c=blue:s=640x360:r=30:d=3"],
      ...["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", source],
    ]);
    const wmPath = path.join(dir, "wm-ladder.png");
    await writeFile(wmPath, redPng);
    const facts = await probe(source);
    const video = facts.video!;
    const watermark = { path: wmPath, spec, displayWidth: 640, displayHeight: 360 };
    const out = path.join(dir, "out");
    const rungs = planRungs(640, 360, "1080p", video.frameRate);
    expect(rungs.map((r) => r.name)).toEqual(["v360"]);
    // A second, smaller rung too: the overlay sits before the split.
    const two = [...rungs, { ...rungs[0], name: "v180", size: 180, width: 320, height: 180 }];
    await runLadder(
      {
        kind: "ladder",
        input: source,
        video: { streamIndex: video.index, rungs: two, frameRate: outputFrameRate(video), watermark },
      },
      out,
      { durationSeconds: facts.duration },
    );
    for (const rung of two) {
      const f = await firstFrameRgb(`concat:init.mp4|seg_00000.m4s`, path.join(out, rung.name));
      expect([f.width, f.height]).toEqual([rung.width, rung.height]);
      const box = Math.round(rung.width * 0.1);
      // The watermark is 25% of the width, square: the top-right 10% box is well inside it.
      const [r, g, b] = meanRgb(f, f.width - box - 2, 2, box, box);
      expect(r).toBeGreaterThan(200);
      expect(g).toBeLessThan(40);
      expect(b).toBeLessThan(40);
      const [r2, , b2] = meanRgb(f, 2, f.height - box - 2, box, box);
      expect(r2).toBeLessThan(40);
      expect(b2).toBeGreaterThan(200);
    }
    await runPoster(
      {
        kind: "poster",
        input: source,
        output: "poster.jpg",
        streamIndex: video.index,
        atSeconds: 1,
        width: 320,
        height: 180,
        watermark,
      },
      out,
    );
    const p = await firstFrameRgb(path.join(out, "poster.jpg"));
    expect([p.width, p.height]).toEqual([320, 180]);
    expect(meanRgb(p, 320 - 32 - 2, 2, 32, 32)[0]).toBeGreaterThan(200);
    expect(meanRgb(p, 2, 180 - 32 - 2, 32, 32)[0]).toBeLessThan(40);
  }, 120_000);
});
