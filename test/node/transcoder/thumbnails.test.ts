/**
 * On-demand thumbnails in the transcoder, with real ffmpeg reading the source over HTTP (Range, bearer
 * token) from a small stand-in for the API's source endpoint: every fit mode's output size (ffprobe),
 * clamping past the end, bad requests, and the render limit under a storm.
 */
import { createReadStream } from "node:fs";
import { stat, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { TranscoderThumbnailRequest } from "../../../src/lib/thumbnails.js";
import { thumbnailFilter } from "../../../transcoder/src/ffmpeg/thumbnail.js";
import { silentLogger } from "../../../transcoder/src/log.js";
import { type RunningServer, type ServerOptions, startServer } from "../../../transcoder/src/server.js";
import { ffprobeJson, makeClip, removeDir, tempDir } from "./helpers/media.js";
import { signedFetch, TEST_TRANSCODER_SECRET } from "./helpers/signed.js";

const TOKEN = "source-token-0123456789abcdef";

interface SourceServer {
  url: string;
  requests: { path: string; range?: string; auth?: string }[];
  /** Hold every response this long (to keep renders busy). */
  delayMs: number;
  close(): Promise<void>;
}

/** Serves files from `dir` with single-range support, only to `Authorization: Bearer TOKEN`. */
async function startSourceServer(dir: string): Promise<SourceServer> {
  const state: SourceServer = { url: "", requests: [], delayMs: 0, close: async () => undefined };
  const server = http.createServer(async (req, res) => {
    const name = path.basename(new URL(req.url ?? "/", "http://x").pathname);
    state.requests.push({ path: name, range: req.headers.range, auth: req.headers.authorization });
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return res.writeHead(401).end();
    const file = path.join(dir, name);
    const size = await stat(file).then(
      (s) => s.size,
      () => -1,
    );
    if (size < 0) return res.writeHead(404).end();
    if (state.delayMs) await new Promise((r) => setTimeout(r, state.delayMs));
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    if (!m) {
      res.writeHead(200, { "content-length": size, "accept-ranges": "bytes" });
      return createReadStream(file).pipe(res);
    }
    const start = Number(m[1]);
    const end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
    if (start >= size) return res.writeHead(416, { "content-range": `bytes */${size}` }).end();
    res.writeHead(206, {
      "content-length": end - start + 1,
      "content-range": `bytes ${start}-${end}/${size}`,
      "accept-ranges": "bytes",
    });
    createReadStream(file, { start, end }).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return state;
}

let dir: string;
let source: SourceServer;
let running: RunningServer | undefined;

beforeAll(async () => {
  dir = await tempDir("kf-thumbs-");
  // 16:9 at 1280x720, 4 s at 30 fps (keyframe every 2 s); a 4:3 anamorphic clip shown at 16:9; audio only.
  await makeClip(dir, "wide.mp4", { width: 1280, height: 720, duration: 4 });
  await makeClip(dir, "anamorphic.mp4", {
    width: 720,
    height: 480,
    duration: 2,
    extra: ["-aspect", "16:9"],
  });
  await makeClip(dir, "audio.m4a", { video: false, duration: 2 });
  await writeFile(path.join(dir, "garbage.mp4"), Buffer.alloc(4096, 7));
  source = await startSourceServer(dir);
}, 120_000);

afterAll(async () => {
  await source?.close();
  await removeDir(dir);
});

afterEach(async () => {
  await running?.close({ graceMs: 2000 });
  running = undefined;
  source.delayMs = 0;
});

async function start(thumbnails: ServerOptions["thumbnails"] = {}) {
  running = await startServer({ port: 0, logger: silentLogger, thumbnails, authSecret: TEST_TRANSCODER_SECRET });
  return running;
}

function request(over: Partial<TranscoderThumbnailRequest> & { file?: string } = {}): TranscoderThumbnailRequest {
  const { file = "wide.mp4", ...rest } = over;
  return {
    asset_id: "as_test",
    source_url: `${source.url}/${file}`,
    source_token: TOKEN,
    time: 1,
    duration: 4,
    width: 320,
    height: 180,
    fit_mode: "preserve",
    ...rest,
  };
}

async function render(body: unknown) {
  const res = await signedFetch(running!.url, "/thumbnails", {
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { res, bytes, json: () => JSON.parse(bytes.toString("utf8")) };
}

async function jpegSize(bytes: Buffer): Promise<{ width: number; height: number; codec: string }> {
  const file = path.join(dir, `probe-${Math.random().toString(36).slice(2)}.jpg`);
  await writeFile(file, bytes);
  const probe = await ffprobeJson(file);
  const v = probe.streams[0];
  return { width: v.width!, height: v.height!, codec: v.codec_name };
}

describe("transcoder: POST /thumbnails", () => {
  it("renders every fit mode at the right size from an HTTP source", async () => {
    await start();
    const cases: [Partial<TranscoderThumbnailRequest>, { width: number; height: number }][] = [
      // 16:9 into 16:9 boxes and into boxes of other shapes.
      [{ fit_mode: "crop" }, { width: 320, height: 180 }],
      [
        { fit_mode: "preserve", width: 300, height: 300 },
        { width: 300, height: 169 },
      ],
      [
        { fit_mode: "stretch", width: 300, height: 300 },
        { width: 300, height: 300 },
      ],
      [
        { fit_mode: "crop", width: 300, height: 300 },
        { width: 300, height: 300 },
      ],
      [
        { fit_mode: "smartcrop", width: 200, height: 400 },
        { width: 200, height: 400 },
      ],
      [
        { fit_mode: "pad", width: 300, height: 300 },
        { width: 300, height: 300 },
      ],
      // Odd sizes are exact (4:2:0 geometry would round them down).
      [
        { fit_mode: "crop", width: 321, height: 181 },
        { width: 321, height: 181 },
      ],
      [
        { fit_mode: "pad", width: 101, height: 333 },
        { width: 101, height: 333 },
      ],
      // One dimension: the other follows the aspect ratio. None: the display size.
      [
        { width: 640, height: null },
        { width: 640, height: 360 },
      ],
      [
        { width: null, height: 90 },
        { width: 160, height: 90 },
      ],
      [
        { width: null, height: null },
        { width: 1280, height: 720 },
      ],
      // Display aspect, not storage: 720x480 flagged 16:9 is 16:9.
      [
        { file: "anamorphic.mp4", duration: 2, width: 320, height: null },
        { width: 320, height: 180 },
      ],
    ] as never;
    for (const [over, want] of cases) {
      const { res, bytes } = await render(request(over));
      expect(res.status, JSON.stringify(over)).toBe(200);
      expect(res.headers.get("content-type")).toBe("image/jpeg");
      expect(Number(res.headers.get("content-length"))).toBe(bytes.length);
      expect(bytes.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
      expect(await jpegSize(bytes), JSON.stringify(over)).toEqual({ ...want, codec: "mjpeg" });
    }
    // ffmpeg read the source over HTTP with the bearer token, and seeked with Range.
    expect(source.requests.every((r) => r.auth === `Bearer ${TOKEN}`)).toBe(true);
    expect(source.requests.some((r) => r.range)).toBe(true);
  });

  it("clamps a time past the end to the last frame, and takes different frames at different times", async () => {
    await start();
    const late = await render(request({ time: 3600 }));
    expect(late.res.status).toBe(200);
    expect(late.res.headers.get("x-keyframe-thumbnail-time")).toBe("3.9");
    const last = await render(request({ time: 3.9 }));
    expect(last.bytes.equals(late.bytes)).toBe(true);
    const first = await render(request({ time: 0 }));
    expect(first.res.headers.get("x-keyframe-thumbnail-time")).toBe("0.0");
    expect(first.bytes.equals(late.bytes)).toBe(false);
    // Without a duration the transcoder finds the end itself: past the last frame it steps back.
    const blind = await render(request({ time: 30, duration: null }));
    expect(blind.res.status).toBe(200);
    expect(blind.res.headers.get("x-keyframe-thumbnail-time")).toBe("0.0");
    const nearEnd = await render(request({ time: 5, duration: null }));
    expect(nearEnd.res.headers.get("x-keyframe-thumbnail-time")).toBe("3.0");
  });

  it("answers bad requests with 400 and unusable sources with a precise status", async () => {
    await start();
    const malformed = await render("{nope");
    expect(malformed.res.status).toBe(400);
    expect(malformed.json().code).toBe("malformed_json");
    for (const bad of [
      { ...request(), width: 0 },
      { ...request(), width: 4000 },
      { ...request(), fit_mode: "zoom" },
      { ...request(), time: -1 },
      { ...request(), source_url: "file:///etc/passwd" },
      { ...request(), extra: true },
      { time: 1 },
    ]) {
      const res = await render(bad);
      expect(res.res.status, JSON.stringify(bad)).toBe(400);
      expect(res.res.headers.get("content-type")).toBe("application/problem+json");
      expect(res.json().code).toBe("validation_failed");
    }
    const get = await signedFetch(running!.url, "/thumbnails", { method: "GET" });
    expect(get.status).toBe(405);

    const audio = await render(request({ file: "audio.m4a", duration: 2 }));
    expect(audio.res.status).toBe(422);
    expect(audio.json().code).toBe("no_video");
    const missing = await render(request({ file: "nope.mp4" }));
    expect(missing.res.status).toBe(502);
    expect(missing.json().code).toBe("source_unavailable");
    const unauthorized = await render(request({ source_token: "wrong-token-0123456789abcdef" }));
    expect(unauthorized.res.status).toBe(502);
    expect(unauthorized.json().code).toBe("source_unavailable");
    const garbage = await render(request({ file: "garbage.mp4" }));
    expect(garbage.res.status).toBe(502);
    expect(garbage.json().code).toBe("render_failed");
  });

  it("bounds a storm: identical requests share one render, at most N ffmpegs run, the overflow gets 503", async () => {
    const t = await start({ concurrency: 2, queueLimit: 2, queueTimeoutMs: 30_000 });
    source.delayMs = 300;

    // Five identical requests: one render, four joiners.
    const same = await Promise.all(Array.from({ length: 5 }, () => render(request({ time: 2 }))));
    expect(same.map((r) => r.res.status)).toEqual([200, 200, 200, 200, 200]);
    expect(same.filter((r) => r.res.headers.get("x-keyframe-thumbnail") === "rendered")).toHaveLength(1);
    expect(new Set(same.map((r) => r.bytes.toString("base64"))).size).toBe(1);

    // Eight different requests: 2 render, 2 wait, 4 are refused at once with Retry-After.
    let peak = 0;
    let polling: Promise<void> = Promise.resolve();
    const poll = setInterval(() => {
      // One poll at a time, awaited before the test moves on: a poll still in flight when the server stops
      // would otherwise end as an unhandled ECONNRESET (seen once on a loaded CI box).
      polling = polling.then(async () => {
        const h = (await (await fetch(`${t.url}/health`)).json()) as { thumbnails: { running: number } };
        peak = Math.max(peak, h.thumbnails.running);
      });
    }, 50);
    const storm = await Promise.all(
      Array.from({ length: 8 }, (_, i) => render(request({ time: 0.1 * (i + 1), width: 160, height: 90 }))),
    );
    clearInterval(poll);
    await polling;
    const statuses = storm.map((r) => r.res.status).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 503, 503, 503, 503]);
    for (const r of storm.filter((x) => x.res.status === 503)) {
      expect(Number(r.res.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(r.json().code).toBe("service_unavailable");
    }
    expect(peak).toBeLessThanOrEqual(2);
    expect(peak).toBeGreaterThan(0);
  });

  it("drops a queued request whose caller went away, and never renders it", async () => {
    const t = await start({ concurrency: 1, queueLimit: 5, queueTimeoutMs: 30_000 });
    source.delayMs = 800;
    const busy = render(request({ time: 1 }));
    await new Promise((r) => setTimeout(r, 100));
    const caller = new AbortController();
    const abandoned = signedFetch(t.url, "/thumbnails", {
      body: JSON.stringify(request({ file: "anamorphic.mp4", duration: 2, time: 1 })),
      signal: caller.signal,
    }).catch((err: Error) => err.name);
    const health = async () =>
      ((await (await fetch(`${t.url}/health`)).json()) as { thumbnails: { running: number; queued: number } })
        .thumbnails;
    for (let i = 0; i < 50 && (await health()).queued === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await health()).toMatchObject({ running: 1, queued: 1 });
    const before = source.requests.length;
    caller.abort();
    expect(await abandoned).toBe("AbortError");
    for (let i = 0; i < 50 && (await health()).queued > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect((await health()).queued).toBe(0);
    expect((await busy).res.status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    // The abandoned render never started: its source was never read.
    expect(source.requests.slice(before).some((r) => r.path === "anamorphic.mp4")).toBe(false);
    expect((await health()).running).toBe(0);
  });

  it("kills a render that overruns its deadline (504)", async () => {
    await start({ renderTimeoutMs: 400 });
    source.delayMs = 2000;
    const started = Date.now();
    const slow = await render(request({ time: 1 }));
    expect(slow.res.status).toBe(504);
    expect(slow.json().code).toBe("render_timeout");
    expect(Date.now() - started).toBeLessThan(1900);
  });

  it("refuses waiters that do not get a slot in time", async () => {
    await start({ concurrency: 1, queueLimit: 5, queueTimeoutMs: 150 });
    source.delayMs = 600;
    const results = await Promise.all([render(request({ time: 1 })), render(request({ time: 2 }))]);
    expect(results.map((r) => r.res.status).sort()).toEqual([200, 503]);
  });
});

describe("thumbnail filter", () => {
  it("builds one chain per fit mode", () => {
    expect(thumbnailFilter({ width: 320, height: 180, fit: "crop" })).toBe(
      "scale=iw*sar:ih,setsar=1,scale=320:180:force_original_aspect_ratio=increase,format=yuv444p,crop=320:180,setsar=1",
    );
    expect(thumbnailFilter({ width: 320, height: 180, fit: "stretch" })).toBe(
      "scale=iw*sar:ih,setsar=1,scale=320:180,setsar=1",
    );
    // With one dimension the fit mode cannot matter.
    expect(thumbnailFilter({ width: 320, height: null, fit: "pad" })).toBe(
      thumbnailFilter({ width: 320, height: null, fit: "preserve" }),
    );
  });
});
