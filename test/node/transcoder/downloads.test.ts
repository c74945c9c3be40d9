/**
 * Static renditions (mp4_support "standard") through runJob with real ffmpeg against the fake API:
 * downloads/highest.mp4 is H.264 + AAC at the ladder's top height, faststart, as long as the source;
 * audio-only sources get downloads/audio.m4a; a download that cannot be stored leaves the job
 * published with the download reported as errored. Also with the 2018 ffmpeg from @ffmpeg-installer.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { getBinaries, resetBinariesCache } from "../../../transcoder/src/ffmpeg/binaries.js";
import { createLogger } from "../../../transcoder/src/log.js";
import { runJob } from "../../../transcoder/src/runner.js";
import { topLevelBoxes } from "../support/mp4-boxes.js";
import { downloadDispatch, type FakeApi, type FakeApiOptions, startFakeApi } from "./helpers/fake-api.js";
import { ffprobeJson, makeClip, removeDir, tempDir } from "./helpers/media.js";

const TOKEN = "test-token-0123456789abcdefghij";
const INSTALLER_FFMPEG = path.resolve("node_modules/@ffmpeg-installer/linux-x64/ffmpeg");
let dir: string;
let api: FakeApi | undefined;

beforeAll(async () => {
  dir = await tempDir("kf-downloads-test-");
});
afterEach(async () => {
  await api?.close();
  api = undefined;
});
afterAll(async () => {
  await removeDir(dir);
});

async function run(source: string, jobId: string, fake: Partial<FakeApiOptions> = {}) {
  const apiDir = await mkdtemp(path.join(dir, "api-"));
  const workRoot = await mkdtemp(path.join(dir, "work-"));
  api = await startFakeApi({ jobId, token: TOKEN, sourceFile: source, outputDir: apiDir, ...fake });
  const dispatch = downloadDispatch(jobId, api.url, TOKEN, (await stat(source)).size);
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger({}, (line) => logs.push(JSON.parse(line)));
  const outcome = await runJob(dispatch, { workRoot, logger, heartbeatMs: 200, api: { retryDelayMs: 5 } });
  expect(api.violations).toEqual([]);
  expect(await readdir(workRoot)).toEqual([]);
  return { outcome, apiDir, api, logs, complete: api.publishes.find((p) => p.phase === "complete") };
}

/** What the acceptance criteria ask of a download, checked with ffprobe and by reading the boxes. */
async function expectProgressive(file: string, source: string, expected: { video?: { height: number } }) {
  const probed = await ffprobeJson(file);
  const src = await ffprobeJson(source);
  const codecs = probed.streams.map((s: { codec_type: string; codec_name: string }) => [s.codec_type, s.codec_name]);
  expect(codecs).toEqual(
    expected.video
      ? [
          ["video", "h264"],
          ["audio", "aac"],
        ]
      : [["audio", "aac"]],
  );
  if (expected.video) {
    const v = probed.streams.find((s: { codec_type: string }) => s.codec_type === "video")!;
    expect(v.height).toBe(expected.video.height);
  }
  expect(Math.abs(Number(probed.format.duration) - Number(src.format.duration))).toBeLessThan(0.2);
  const boxes = topLevelBoxes(await readFile(file));
  expect(boxes.indexOf("moov")).toBeGreaterThanOrEqual(0);
  expect(boxes.indexOf("moov")).toBeLessThan(boxes.indexOf("mdat"));
  expect(boxes).not.toContain("moof");
}

describe("static renditions", () => {
  it("writes downloads/highest.mp4 from the top rung and reports it with the complete publish", async () => {
    const source = await makeClip(dir, "clip.mp4", { width: 640, height: 360, duration: 4 });
    const r = await run(source, "job_dl_video");
    expect(r.outcome).toEqual({ status: "published", fastPath: true });
    // The fast publish carries no download; the complete one does, after the file was PUT.
    expect(r.api.publishes.find((p) => p.phase === "fast")?.static_renditions).toBeUndefined();
    const size = (await stat(path.join(r.apiDir, "downloads/highest.mp4"))).size;
    const audioSize = (await stat(path.join(r.apiDir, "downloads/audio.m4a"))).size;
    expect(r.complete?.static_renditions).toEqual({
      status: "ready",
      files: [
        { name: "highest.mp4", ext: "mp4", width: 640, height: 360, bitrate: expect.any(Number), filesize: size },
        // Every asset with sound also gets its audio alone (issue 16).
        { name: "audio.m4a", ext: "m4a", bitrate: expect.any(Number), filesize: audioSize },
      ],
    });
    expect(r.api.events.indexOf("put:downloads/audio.m4a")).toBeLessThan(r.api.events.indexOf("publish:complete"));
    const m4a = await ffprobeJson(path.join(r.apiDir, "downloads/audio.m4a"));
    expect(m4a.streams.map((s: { codec_name: string }) => s.codec_name)).toEqual(["aac"]);
    expect(Math.abs(Number(m4a.format.duration) - 4)).toBeLessThan(0.2);
    expect(r.api.events.indexOf("put:downloads/highest.mp4")).toBeLessThan(r.api.events.indexOf("publish:complete"));
    const top = r.complete?.renditions.find((x) => x.type === "video");
    expect(top?.height).toBe(360);
    await expectProgressive(path.join(r.apiDir, "downloads/highest.mp4"), source, { video: { height: 360 } });
  });

  it("downloads first when the source server refuses the head range the streaming ingest asks for", async () => {
    const source = await makeClip(dir, "hd-open.mp4", { width: 1280, height: 720, duration: 3, fps: 25 });
    expect((await stat(source)).size).toBeGreaterThan(2 * 1024 * 1024); // big enough to try streaming
    const r = await run(source, "job_dl_open", { openRangesOnly: true });
    expect(r.outcome).toEqual({ status: "published", fastPath: true });
    expect(r.logs.some((l) => l.event === "source.head_failed")).toBe(true);
    expect(r.api.sourceRequests.map((q) => q.range)).toEqual(["bytes=0-2097151", undefined]);
  });

  it("takes the top rung of a 720p ladder", async () => {
    const source = await makeClip(dir, "hd.mp4", { width: 1280, height: 720, duration: 3, fps: 25 });
    const r = await run(source, "job_dl_hd");
    // Not faststart, so not streamed: the head read to find out is kept, and only the rest is downloaded.
    expect(r.api.sourceRequests.map((q) => q.range)).toEqual(["bytes=0-2097151", "bytes=2097152-"]);
    expect(r.complete?.static_renditions?.files[0]).toMatchObject({ width: 1280, height: 720 });
    await expectProgressive(path.join(r.apiDir, "downloads/highest.mp4"), source, { video: { height: 720 } });
  });

  it("writes downloads/audio.m4a for an audio-only source", async () => {
    const source = await makeClip(dir, "voice.m4a", { video: false, duration: 3 });
    const r = await run(source, "job_dl_audio");
    expect(r.outcome).toEqual({ status: "published", fastPath: false });
    const size = (await stat(path.join(r.apiDir, "downloads/audio.m4a"))).size;
    expect(r.complete?.static_renditions).toEqual({
      status: "ready",
      files: [{ name: "audio.m4a", ext: "m4a", bitrate: expect.any(Number), filesize: size }],
    });
    await expectProgressive(path.join(r.apiDir, "downloads/audio.m4a"), source, {});
  });

  it("a download that cannot be stored is reported as errored; the job still publishes", async () => {
    const source = await makeClip(dir, "refused.mp4", { width: 320, height: 240, duration: 2 });
    const r = await run(source, "job_dl_refused", { putStatusFor: { paths: ["downloads/highest.mp4"], status: 413 } });
    expect(r.outcome).toEqual({ status: "published", fastPath: true });
    expect(r.api.failures).toEqual([]);
    expect(r.complete?.static_renditions).toMatchObject({ status: "errored", files: [] });
    expect(r.complete?.static_renditions?.error).toContain("413");
    expect(r.complete?.renditions.length).toBeGreaterThan(1);
    expect(r.logs.some((l) => l.event === "static_rendition.failed")).toBe(true);
  });

  it.runIf(existsSync(INSTALLER_FFMPEG))("works with the 2018 ffmpeg binary from @ffmpeg-installer", async () => {
    const saved = process.env.FFMPEG_PATH;
    process.env.FFMPEG_PATH = INSTALLER_FFMPEG;
    resetBinariesCache();
    try {
      expect((await getBinaries()).version.raw).toMatch(/^N-/);
      const source = await makeClip(dir, "old.mp4", { width: 640, height: 360, duration: 4, fps: 25 });
      const r = await run(source, "job_dl_old");
      expect(r.complete?.static_renditions?.status).toBe("ready");
      await expectProgressive(path.join(r.apiDir, "downloads/highest.mp4"), source, { video: { height: 360 } });
      const audio = await makeClip(dir, "old-voice.m4a", { video: false, duration: 3 });
      const ra = await run(audio, "job_dl_old_audio");
      expect(ra.complete?.static_renditions?.status).toBe("ready");
      await expectProgressive(path.join(ra.apiDir, "downloads/audio.m4a"), audio, {});
    } finally {
      if (saved === undefined) delete process.env.FFMPEG_PATH;
      else process.env.FFMPEG_PATH = saved;
      resetBinariesCache();
    }
  });
});
