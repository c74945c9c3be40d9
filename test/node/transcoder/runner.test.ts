/**
 * runJob end to end against a fake of the API's internal endpoints (a node:http server over a
 * temp dir): real download, real ffmpeg, real uploads, real progress/publish/fail calls.
 */
import { mkdtemp, readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { JobDispatch } from "../../../src/lib/transcoder-protocol.js";
import { createLane } from "../../../transcoder/src/concurrency.js";
import { getBinaries, resetBinariesCache } from "../../../transcoder/src/ffmpeg/binaries.js";
import { createLogger } from "../../../transcoder/src/log.js";
import { runJob } from "../../../transcoder/src/runner.js";
import { runFfmpeg } from "../support/media.js";
import { withoutCrashes } from "./helpers/crashes.js";
import { type FakeApi, type FakeApiOptions, startFakeApi } from "./helpers/fake-api.js";
import { ffprobeJson, makeClip, parseM3u8, removeDir, tempDir, writeFakePdf } from "./helpers/media.js";

const TOKEN = "test-token-0123456789abcdefghij";
let dir: string;
let api: FakeApi | undefined;

beforeAll(async () => {
  dir = await tempDir();
});
afterEach(async () => {
  await api?.close();
  api = undefined;
});
afterAll(async () => {
  await removeDir(dir);
});

interface Harness {
  api: FakeApi;
  dispatch: JobDispatch;
  workRoot: string;
  apiDir: string;
  logs: Record<string, unknown>[];
  run: () => ReturnType<typeof runJob>;
}

async function harness(source: string, jobId: string, fake: Partial<FakeApiOptions> = {}): Promise<Harness> {
  const apiDir = await mkdtemp(path.join(dir, "api-"));
  const workRoot = await mkdtemp(path.join(dir, "work-"));
  api = await startFakeApi({ jobId, token: TOKEN, sourceFile: source, outputDir: apiDir, ...fake });
  const dispatch: JobDispatch = {
    job_id: jobId,
    asset_id: "as_test",
    attempt: 1,
    settings: { max_resolution: "1080p", fast_path: true, source_size_bytes: (await stat(source)).size },
    api_url: api.url,
    token: TOKEN,
    correlation_id: "corr-42",
  };
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger({}, (line) => logs.push(JSON.parse(line)));
  const a = api;
  return {
    api: a,
    dispatch,
    workRoot,
    apiDir,
    logs,
    run: () => runJob(dispatch, { workRoot, logger, heartbeatMs: 150, api: { retryDelayMs: 5 } }),
  };
}

describe("runJob", () => {
  it("runs the whole pipeline with no ffmpeg or ffprobe on PATH, through the npm-shipped binaries", async () => {
    const source = await makeClip(dir, "bare.mp4", { width: 640, height: 360, duration: 4 });
    const savedPath = process.env.PATH;
    const savedFf = [process.env.FFMPEG_PATH, process.env.FFPROBE_PATH];
    // As on a machine where apt never installed ffmpeg: nothing on PATH, no override.
    process.env.PATH = "";
    delete process.env.FFMPEG_PATH;
    delete process.env.FFPROBE_PATH;
    resetBinariesCache();
    try {
      const b = await getBinaries();
      expect(b).toMatchObject({ ffmpegSource: "npm", ffprobeSource: "npm" });
      const h = await harness(source, "job_bare");
      const outcome = await h.run().finally(() => {
        if (process.env.KEYFRAME_TEST_LOGS) console.log(h.logs);
      });
      expect(outcome).toEqual({ status: "published", fastPath: true });
      expect(h.api.failures).toEqual([]);
      expect(h.api.publishes.map((p) => p.phase)).toEqual(["fast", "complete"]);
      const complete = h.api.publishes.at(-1) as { renditions: { name: string }[] };
      expect(complete.renditions.map((r) => r.name)).toEqual(["v360", "audio"]);
    } finally {
      process.env.PATH = savedPath;
      if (savedFf[0] !== undefined) process.env.FFMPEG_PATH = savedFf[0];
      if (savedFf[1] !== undefined) process.env.FFPROBE_PATH = savedFf[1];
      resetBinariesCache();
    }
  }, 300_000);

  it("publishes the fast path while its ladder waits for the ladder lane, then encodes once the lane frees", async () => {
    const source = await makeClip(dir, "lane.mp4", { width: 640, height: 360, duration: 4 });
    const h = await harness(source, "job_lane");
    const lane = createLane(1);
    const hold = await lane.acquire(); // another job's ladder
    let fastDone = false;
    const run = runJob(h.dispatch, {
      workRoot: h.workRoot,
      heartbeatMs: 150,
      api: { retryDelayMs: 5 },
      ladderLane: lane,
      onFastPhaseDone: () => {
        fastDone = true;
      },
    });
    // The fast phase ends (publish answered) while the ladder still waits for the lane.
    for (let i = 0; i < 1200 && !fastDone; i++) await new Promise((r) => setTimeout(r, 50));
    expect(h.api.publishes.map((p) => p.phase)).toEqual(["fast"]);
    expect(fastDone).toBe(true);
    expect(lane.stats()).toEqual({ running: 1, waiting: 1, concurrency: 1 });
    hold();
    expect(await run).toEqual({ status: "published", fastPath: true });
    expect(h.api.publishes.map((p) => p.phase)).toEqual(["fast", "complete"]);
    expect(lane.stats()).toEqual({ running: 0, waiting: 0, concurrency: 1 });
  }, 300_000);

  it("publishes fast then complete, uploads everything, survives a dropped download and failed PUTs", async () => {
    const source = await makeClip(dir, "standard.mp4", { width: 640, height: 360, duration: 7 });
    const h = await harness(source, "job_happy", { dropSourceAfterBytes: 40_000, failFirstPuts: 2 });
    const outcome = await h.run();
    expect(outcome).toEqual({ status: "published", fastPath: true });
    expect(h.api.violations).toEqual([]);
    expect(h.api.failures).toEqual([]);

    // The download resumed where the connection dropped.
    expect(h.api.sourceRequests.map((r) => r.range)).toEqual([undefined, "bytes=40000-"]);

    // Fast, then complete; master.m3u8 last in each phase.
    expect(h.api.publishes.map((p) => p.phase)).toEqual(["fast", "complete"]);
    const events = h.api.events.filter((e) => e !== "progress");
    const fastAt = events.indexOf("publish:fast");
    expect(events[fastAt - 1]).toBe("put:master.m3u8");
    expect(events.slice(0, fastAt - 1).every((e) => e.startsWith("put:fast/"))).toBe(true);
    expect(events.at(-2)).toBe("put:master.m3u8");
    expect(events.at(-1)).toBe("publish:complete");
    // Each variant playlist is written once, after every file it lists; the master after all of them.
    for (const name of ["v360", "audio"]) {
      const puts = events.map((e, i) => [e, i] as const).filter(([e]) => e.startsWith(`put:${name}/`));
      expect(puts.filter(([e]) => e === `put:${name}/index.m3u8`)).toHaveLength(1);
      expect(puts.at(-1)?.[0]).toBe(`put:${name}/index.m3u8`);
      expect(puts.some(([e]) => e === `put:${name}/init.mp4`)).toBe(true);
    }
    // Nothing is uploaded twice, except master.m3u8: the fast one, then the final one.
    const putEvents = events.filter((e) => e.startsWith("put:"));
    expect(putEvents.filter((e) => e === "put:master.m3u8")).toHaveLength(2);
    expect(new Set(putEvents).size).toBe(putEvents.length - 1);
    // No heartbeat after the job is complete.
    expect(h.api.events.at(-1)).toBe("publish:complete");

    const [fast, complete] = h.api.publishes;
    expect(fast).toMatchObject({
      master: "master.m3u8",
      aspect_ratio: "16:9",
      resolution: "360p",
      max_frame_rate: 30,
      source: { container: "mp4", video_codec: "h264", audio_codec: "aac", width: 640, height: 360, remuxed: true },
      poster: null,
      storyboard: null,
    });
    expect(fast.renditions.map((r) => [r.name, r.type])).toEqual([["fast", "muxed"]]);
    expect(complete).toMatchObject({
      resolution: "360p",
      poster: "poster.jpg",
      storyboard: { vtt: "storyboard.vtt", image: "storyboard.jpg" },
      source: { remuxed: true },
    });
    expect(complete.renditions.map((r) => [r.name, r.type])).toEqual([
      ["v360", "video"],
      ["audio", "audio"],
    ]);
    expect(complete.tracks.map((t) => t.type)).toEqual(["video", "audio"]);
    expect(complete.duration).toBeCloseTo(7, 0);

    // What the API received is a complete, consistent tree.
    for (const f of [
      "master.m3u8",
      "fast/index.m3u8",
      "fast/init.mp4",
      "v360/index.m3u8",
      "v360/init.mp4",
      "audio/index.m3u8",
      "poster.jpg",
      "storyboard.jpg",
      "storyboard.vtt",
    ]) {
      expect((await stat(path.join(h.apiDir, f))).size, f).toBeGreaterThan(0);
    }
    const master = parseM3u8(await readFile(path.join(h.apiDir, "master.m3u8"), "utf8"));
    expect(master.playlists.map((p) => p.uri)).toEqual(["v360/index.m3u8"]);
    for (const name of ["fast", "v360", "audio"]) {
      const media = parseM3u8(await readFile(path.join(h.apiDir, name, "index.m3u8"), "utf8"));
      for (const seg of media.segments)
        expect((await stat(path.join(h.apiDir, name, seg.uri))).size).toBeGreaterThan(0);
    }
    expect(await readFile(path.join(h.apiDir, "storyboard.vtt"), "utf8")).toMatch(
      /^WEBVTT\n\n00:00:00\.000 --> 00:00:02\.000\nstoryboard\.jpg#xywh=0,0,160,90\n/,
    );

    // Progress: monotonic, through every stage.
    const percents = h.api.progress.map((p) => p.percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(new Set(h.api.progress.map((p) => p.stage))).toEqual(
      new Set(["downloading", "probing", "remuxing", "uploading", "finalizing", "transcoding"]),
    );
    expect(h.api.progress.every((p) => p.attempt === 1)).toBe(true);

    // Logs: one JSON object per event, all carrying the job's identity.
    const jobLogs = h.logs.filter((l) => l.job_id === "job_happy");
    expect(jobLogs.length).toBe(h.logs.length);
    for (const l of jobLogs) expect(l).toMatchObject({ asset_id: "as_test", attempt: 1, correlation_id: "corr-42" });
    expect(h.logs.map((l) => l.event)).toEqual(
      expect.arrayContaining(["job.started", "source.probed", "ladder.done", "job.published", "job.finished"]),
    );

    expect(await readdir(h.workRoot)).toEqual([]);
  });

  it("publishes an audio-only source once, as an audio asset", async () => {
    const source = await makeClip(dir, "voice.m4a", { video: false, duration: 3 });
    const h = await harness(source, "job_audio");
    expect(await h.run()).toEqual({ status: "published", fastPath: false });
    expect(h.api.violations).toEqual([]);
    expect(h.api.publishes).toHaveLength(1);
    expect(h.api.publishes[0]).toMatchObject({
      phase: "complete",
      aspect_ratio: null,
      resolution: null,
      max_frame_rate: null,
      poster: null,
      storyboard: null,
      tracks: [{ type: "audio", codec: "aac", channels: 2, sample_rate: 48000 }],
      renditions: [{ name: "audio", type: "audio", playlist: "audio/index.m3u8", codecs: "mp4a.40.2" }],
      source: { remuxed: false, audio_codec: "aac" },
    });
    const master = parseM3u8(await readFile(path.join(h.apiDir, "master.m3u8"), "utf8"));
    expect(master.playlists.map((p) => p.uri)).toEqual(["audio/index.m3u8"]);
    expect(await readdir(h.workRoot)).toEqual([]);
  });

  it("reports a permanent input error exactly once, with retryable false", async () => {
    const source = await writeFakePdf(path.join(dir, "document.mp4"));
    const h = await harness(source, "job_pdf");
    const outcome = await h.run();
    expect(outcome).toMatchObject({ status: "failed", code: "input_unreadable", retryable: false });
    expect(h.api.failures).toHaveLength(1);
    expect(h.api.failures[0]).toMatchObject({ attempt: 1, code: "input_unreadable", retryable: false });
    expect(h.api.failures[0].message).toMatch(/not a readable media file/);
    expect(h.api.publishes).toEqual([]);
    expect(h.api.violations).toEqual([]);
    expect(h.api.events.at(-1)).toBe("fail");
    expect(await readdir(h.workRoot)).toEqual([]);
  });

  it("fails a truncated faststart MP4 as input_unreadable instead of publishing a shorter asset", async () => {
    const full = await makeClip(dir, "cut-source.mp4", {
      width: 320,
      height: 240,
      duration: 8,
      extra: ["-movflags", "+faststart"],
    });
    const data = await readFile(full);
    const source = path.join(dir, "cut.mp4");
    await writeFile(source, data.subarray(0, Math.floor(data.length * 0.4)));
    const h = await harness(source, "job_cut");
    const outcome = await h.run();
    expect(outcome).toMatchObject({ status: "failed", code: "input_unreadable", retryable: false });
    expect(h.api.failures).toHaveLength(1);
    expect(h.api.failures[0].message).toMatch(/^the file is truncated: it declares 8\.0 s but only \d\.\d s of media/);
    expect(h.api.publishes).toEqual([]);
    expect(h.api.events.filter((e) => e.startsWith("put:"))).toEqual([]);
    expect(await readdir(h.workRoot)).toEqual([]);
  });

  it("reports limits from the job settings as input errors", async () => {
    const source = await makeClip(dir, "long.mp4", { width: 160, height: 120, duration: 3, audio: false });
    const h = await harness(source, "job_long");
    h.dispatch.settings.max_duration_seconds = 1;
    const outcome = await h.run();
    expect(outcome).toMatchObject({ status: "failed", code: "input_too_long", retryable: false });
    expect(h.api.failures).toHaveLength(1);
  });

  it("reports an unreachable source as retryable", async () => {
    const source = await makeClip(dir, "any.mp4", { width: 160, height: 120, duration: 1, audio: false });
    const h = await harness(source, "job_503", { sourceStatus: 503 });
    const outcome = await h.run();
    expect(outcome).toMatchObject({ status: "failed", code: "source_unavailable", retryable: true });
    expect(h.api.failures).toEqual([expect.objectContaining({ code: "source_unavailable", retryable: true })]);
    expect(await readdir(h.workRoot)).toEqual([]);
  });

  it("stops quietly when the API answers 410 Gone (asset deleted mid-job)", async () => {
    const source = await makeClip(dir, "gone.mp4", { width: 320, height: 240, duration: 2 });
    const h = await harness(source, "job_gone", { putStatus: 410 });
    expect(await h.run()).toEqual({ status: "cancelled" });
    expect(h.api.failures).toEqual([]);
    expect(h.api.publishes).toEqual([]);
    expect(await readdir(h.workRoot)).toEqual([]);
  });

  it("a job cancelled while its remux waits on the growing source ends cancelled, and the process lives on", async () => {
    // The remux reads the source on stdin as it downloads (GrowingFile.reader). The download stalls at 70%;
    // the API then cancels the job (its asset was deleted). The reader throws the cancellation, which ended
    // the whole transcoder (an unheard 'error' event) before runProcess listened to its input.
    // Larger than the 2 MiB head and faststart, so the source is streamed rather than downloaded first.
    const source = await makeClip(dir, "stall.mp4", {
      width: 1280,
      height: 720,
      duration: 12,
      extra: ["-movflags", "+faststart"],
    });
    const size = (await stat(source)).size;
    const h = await harness(source, "job_stall", { stallSourceAt: Math.floor(size * 0.7), cancelAfterStallMs: 1500 });
    const { crashes, result } = await withoutCrashes(() => h.run());
    expect(result).toEqual({ status: "fulfilled", value: { status: "cancelled" } });
    expect(crashes).toEqual([]);
    // It was the streamed path, and the remux was running: the fast phase published from its first segments,
    // and the remux could not have finished without the rest of the source.
    expect(h.api.sourceRequests.some((r) => r.range && /-$/.test(r.range))).toBe(true);
    expect(h.api.publishes.map((p) => p.phase)).toEqual(["fast"]);
    expect(h.api.failures).toEqual([]);
    expect(await readdir(h.workRoot)).toEqual([]);
  });

  it("keeps the remux started beside the probe when it copies the picked streams, and replaces it when not", async () => {
    // These sources stream (faststart, larger than the 2 MiB head), so the remux starts before the probe has
    // picked the streams, copying ffmpeg's first video and first audio stream.
    const plain = await makeClip(dir, "beside-plain.mp4", {
      width: 1280,
      height: 720,
      duration: 12,
      audioChannels: 1,
      extra: ["-movflags", "+faststart"],
    });
    const kept = await harness(plain, "job_beside_kept");
    expect(await kept.run()).toEqual({ status: "published", fastPath: true });
    expect(kept.logs.find((l) => l.event === "fast_path.remux")).toMatchObject({ started_early: true });
    expect(kept.logs.some((l) => l.event === "fast_path.early_remux_discarded")).toBe(false);
    await api?.close();

    // The same picture with a second audio track that is the default one (stereo 48 kHz against the first
    // track's mono 44.1 kHz): the probe picks it, so the early remux copied the wrong audio and must go.
    const twoTracks = path.join(dir, "beside-two-audio.mp4");
    await runFfmpeg([
      "-i",
      plain,
      ...["-f", "lavfi", "-i", "sine=frequency=880:sample_rate=48000:duration=12"],
      ...["-map", "0:v", "-map", "0:a", "-map", "1:a", "-c:v", "copy", "-c:a:0", "copy", "-c:a:1", "aac"],
      ...["-ac:a:1", "2", "-disposition:a:0", "0", "-disposition:a:1", "default", "-movflags", "+faststart"],
      twoTracks,
    ]);
    const replaced = await harness(twoTracks, "job_beside_replaced");
    expect(await replaced.run()).toEqual({ status: "published", fastPath: true });
    expect(replaced.logs.find((l) => l.event === "fast_path.early_remux_discarded")).toMatchObject({
      reason: "the probe picked other streams",
      picked: [0, 2],
    });
    expect(replaced.logs.find((l) => l.event === "fast_path.remux")).toMatchObject({ started_early: false });
    // What was published fast carries the default track, and every listed segment was stored.
    const init = await ffprobeJson(path.join(replaced.apiDir, "fast", "init.mp4"));
    const audio = init.streams?.filter((st) => st.codec_type === "audio") ?? [];
    expect(audio.map((a) => [a.channels, a.sample_rate])).toEqual([[2, "48000"]]);
    const listed = parseM3u8(await readFile(path.join(replaced.apiDir, "fast", "index.m3u8"), "utf8"));
    expect(listed.segments.length).toBeGreaterThan(1);
    for (const seg of listed.segments) await stat(path.join(replaced.apiDir, "fast", seg.uri));
    await api?.close();

    // Its index after its media: it does not stream, so no remux starts before the probe; the download-first
    // fast path publishes what its own remux cut.
    const moovLast = path.join(dir, "beside-moov-last.mp4");
    await runFfmpeg(["-i", plain, "-c", "copy", moovLast]);
    const late = await harness(moovLast, "job_beside_late");
    expect(await late.run()).toEqual({ status: "published", fastPath: true });
    expect(late.logs.some((l) => l.event === "fast_path.early_remux_discarded")).toBe(false);
    expect(late.logs.some((l) => l.event === "fast_path.remux")).toBe(false);
    const lateListed = parseM3u8(await readFile(path.join(late.apiDir, "fast", "index.m3u8"), "utf8"));
    expect(lateListed.segments.reduce((n, seg) => n + seg.duration, 0)).toBeCloseTo(12, 0);
    for (const seg of lateListed.segments) await stat(path.join(late.apiDir, "fast", seg.uri));
    expect(await readdir(late.workRoot)).toEqual([]);
  }, 300_000);

  it("heartbeats while nothing moves, and stops without failing when the API cancels", async () => {
    const source = await makeClip(dir, "cancel.mp4", { width: 320, height: 240, duration: 2 });
    const h = await harness(source, "job_cancel", { sourceDelayMs: 1200, cancelFromProgress: 6 });
    const outcome = await h.run();
    expect(outcome).toEqual({ status: "cancelled" });
    // The source stalled for 1.2 s with a 150 ms heartbeat: several reports before any byte arrived.
    expect(h.api.progress.length).toBeGreaterThanOrEqual(6);
    expect(h.api.progress.slice(0, 6).every((p) => p.stage === "downloading" && p.percent === 0)).toBe(true);
    expect(h.api.failures).toEqual([]);
    expect(h.api.publishes).toEqual([]);
    expect(await readdir(h.workRoot)).toEqual([]);
  });
});
