/**
 * Multipart output uploads from the transcoder: files over the threshold go up in part-size slices
 * and arrive byte-identical; a part that fails once is retried; a part that keeps failing aborts
 * the upload, and for the MP4 download that means static_renditions errored while the job publishes.
 * Real files and real ffmpeg against the fake API (which picks a small part size so a short clip
 * makes several parts; the real API's parts are 5 MiB+, covered in test/workers/outputs-multipart).
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ApiClient } from "../../../transcoder/src/api-client.js";
import { createLogger } from "../../../transcoder/src/log.js";
import { runJob } from "../../../transcoder/src/runner.js";
import { topLevelBoxes } from "../support/mp4-boxes.js";
import { downloadDispatch, type FakeApi, type FakeApiOptions, startFakeApi } from "./helpers/fake-api.js";
import { ffprobeJson, makeClip, removeDir, tempDir } from "./helpers/media.js";

const TOKEN = "test-token-0123456789abcdefghij";
const PART = 32 * 1024;
const DOWNLOAD = "downloads/highest.mp4";
let dir: string;
let clip: string;
let api: FakeApi | undefined;

beforeAll(async () => {
  dir = await tempDir("kf-multipart-test-");
  clip = await makeClip(dir, "clip.mp4", { width: 640, height: 360, duration: 3 });
});
afterEach(async () => {
  await api?.close();
  api = undefined;
  delete process.env.KEYFRAME_MULTIPART_THRESHOLD_BYTES;
});
afterAll(async () => {
  await removeDir(dir);
});

async function run(jobId: string, fake: Partial<FakeApiOptions> = {}) {
  const apiDir = await mkdtemp(path.join(dir, "api-"));
  const workRoot = await mkdtemp(path.join(dir, "work-"));
  api = await startFakeApi({
    jobId,
    token: TOKEN,
    sourceFile: clip,
    outputDir: apiDir,
    multipartPartBytes: PART,
    ...fake,
  });
  const dispatch = downloadDispatch(jobId, api.url, TOKEN, (await stat(clip)).size);
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger({}, (line) => logs.push(JSON.parse(line)));
  // The threshold comes from the environment, as in a deployment.
  process.env.KEYFRAME_MULTIPART_THRESHOLD_BYTES = String(PART);
  const outcome = await runJob(dispatch, { workRoot, logger, heartbeatMs: 200, api: { retryDelayMs: 5 } });
  expect(await readdir(workRoot)).toEqual([]);
  const uploads = [...api.multipart.values()].filter((u) => u.path === DOWNLOAD);
  return { outcome, apiDir, api, logs, uploads, complete: api.publishes.find((p) => p.phase === "complete") };
}

describe("ApiClient multipart", () => {
  it("uploads a file over the threshold in part-size slices, byte-identical, at most 2 parts in flight", async () => {
    const apiDir = await mkdtemp(path.join(dir, "api-"));
    const file = path.join(dir, "random.bin");
    const data = randomBytes(5 * PART + 777);
    await writeFile(file, data);
    api = await startFakeApi({
      jobId: "job_mp",
      token: TOKEN,
      sourceFile: file,
      outputDir: apiDir,
      multipartPartBytes: PART,
    });
    const client = new ApiClient(
      { job_id: "job_mp", attempt: 1, api_url: api.url, token: TOKEN },
      { multipartThresholdBytes: PART, retryDelayMs: 5 },
    );
    expect(await client.putOutput(DOWNLOAD, file)).toBe(data.length);
    expect(api.violations).toEqual([]);
    const [up] = [...api.multipart.values()];
    expect(up?.state).toBe("completed");
    expect(up?.parts.map((p) => p.size).sort((a, b) => b - a)).toEqual([PART, PART, PART, PART, PART, 777]);
    expect((await readFile(path.join(apiDir, DOWNLOAD))).equals(data)).toBe(true);
    expect(api.maxPartsInFlight).toBe(2);

    // At or under the threshold: one plain PUT.
    const small = path.join(dir, "small.bin");
    await writeFile(small, data.subarray(0, PART));
    expect(await client.putOutput("poster.jpg", small)).toBe(PART);
    expect(api.multipart.size).toBe(1);
    expect(api.events).toContain("put:poster.jpg");
  });
});

describe("runner: the download through multipart", () => {
  it("uploads a real download in parts; it arrives whole and playable and is reported ready", async () => {
    const r = await run("job_mp_ok");
    expect(r.api.violations).toEqual([]);
    expect(r.outcome).toEqual({ status: "published", fastPath: true });
    expect(r.uploads).toHaveLength(1);
    const up = r.uploads[0];
    const file = path.join(r.apiDir, DOWNLOAD);
    const bytes = await readFile(file);
    expect(up?.state).toBe("completed");
    expect(up?.size).toBe(bytes.length);
    expect(up?.parts.length).toBeGreaterThanOrEqual(3);
    expect(up?.parts.reduce((n, p) => n + p.size, 0)).toBe(bytes.length);
    expect(r.complete?.static_renditions).toEqual({
      status: "ready",
      files: [
        {
          name: "highest.mp4",
          ext: "mp4",
          width: 640,
          height: 360,
          bitrate: expect.any(Number),
          filesize: bytes.length,
        },
        // Every asset with sound also gets audio.m4a (small: one PUT, not multipart).
        { name: "audio.m4a", ext: "m4a", bitrate: expect.any(Number), filesize: expect.any(Number) },
      ],
    });
    // The reassembled bytes are a faststart MP4 that ffprobe reads end to end.
    const boxes = topLevelBoxes(bytes);
    expect(boxes.indexOf("moov")).toBeLessThan(boxes.indexOf("mdat"));
    const probed = await ffprobeJson(file);
    expect(Math.abs(Number(probed.format.duration) - 3)).toBeLessThan(0.2);
    expect(r.api.events.indexOf(`put:${DOWNLOAD}`)).toBeLessThan(r.api.events.indexOf("publish:complete"));
  });

  it("retries a part that fails once", async () => {
    const r = await run("job_mp_retry", { failPart: { path: DOWNLOAD, part: 2, times: 1 } });
    expect(r.api.violations).toEqual([]);
    const up = r.uploads[0];
    expect(up?.refusedParts).toEqual([2]);
    expect(up?.state).toBe("completed");
    expect(up?.parts.filter((p) => p.part === 2)).toHaveLength(1);
    expect(r.complete?.static_renditions?.status).toBe("ready");
    expect(r.complete?.static_renditions?.files[0]?.filesize).toBe((await stat(path.join(r.apiDir, DOWNLOAD))).size);
  });

  it("a part that keeps failing aborts the upload; the download is errored, the job still publishes", async () => {
    const r = await run("job_mp_fail", { failPart: { path: DOWNLOAD, part: 2, times: 1000 } });
    expect(r.api.violations).toEqual([]);
    expect(r.outcome).toEqual({ status: "published", fastPath: true });
    expect(r.api.failures).toEqual([]);
    const up = r.uploads[0];
    // The first try and 4 retries, then the abort.
    expect(up?.refusedParts).toEqual([2, 2, 2, 2, 2]);
    expect(up?.state).toBe("aborted");
    expect(r.api.events).toContain(`multipart-abort:${DOWNLOAD}`);
    expect(existsSync(path.join(r.apiDir, DOWNLOAD))).toBe(false);
    expect(r.complete?.static_renditions).toMatchObject({ status: "errored", files: [] });
    expect(r.complete?.static_renditions?.error).toContain("part 2/");
    expect(r.complete?.renditions.length).toBeGreaterThan(1);
  });
});
