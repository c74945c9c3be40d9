/**
 * The live ladder's pieces without the stack: the per-segment encode with real ffmpeg (a segment cut by
 * ffmpeg's own HLS muxer in, a rendition out that starts at the source's timestamps, scaled, audio copied),
 * the edge playlist parser, and the supervisor's failure isolation with a fake encoder: a failing rendition
 * backs off and comes back at the live edge while the other keeps every segment; a slow one skips to the edge.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LiveLadderStart, LiveRendition } from "../../../src/lib/live-ladder-protocol";
import { getBinaries, parseFfmpegVersion } from "../../../transcoder/src/ffmpeg/binaries.js";
import { binaryEnv } from "../../../transcoder/src/ffmpeg/static-env.js";
import { keepsSourceTimeBase, parseBenchmark, renditionArgs } from "../../../transcoder/src/live-ladder/encode.js";
import { parseSourcePlaylist } from "../../../transcoder/src/live-ladder/source-playlist.js";
import {
  ffmpegEncoder,
  type LadderDeps,
  MAX_PENDING,
  RenditionWorker,
} from "../../../transcoder/src/live-ladder/supervisor.js";
import { createLogger } from "../../../transcoder/src/log.js";

const execFileAsync = promisify(execFile);
/** ffmpeg or ffprobe as the transcoder finds them (env var → PATH → npm), so a bare machine runs this too. */
async function run(bin: "ffmpeg" | "ffprobe", args: string[]) {
  const file = (await getBinaries())[bin];
  return execFileAsync(file, args, { env: binaryEnv(file) });
}

async function probe(file: string) {
  const { stdout } = await run("ffprobe", [
    "-v",
    "error",
    "-show_entries",
    "stream=codec_type,codec_name,width,height,start_time,level",
    "-of",
    "json",
    file,
  ]);
  return JSON.parse(stdout).streams as {
    codec_type: string;
    codec_name: string;
    width?: number;
    height?: number;
    start_time: string;
    level?: number;
  }[];
}

describe("live ladder encode (real ffmpeg)", () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "ladder-"));
    // 640x360 at 30 fps, keyframes every 2 s, cut into 2 s MPEG-TS segments: what a broadcaster pushes.
    await run("ffmpeg", [
      "-hide_banner",
      "-loglevel",
      "error",
      "-f",
      "lavfi",
      "-i",
      "testsrc2=size=640x360:rate=30",
      "-f",
      "lavfi",
      "-i",
      "sine=frequency=440:sample_rate=48000",
      "-t",
      "6",
      "-c:v",
      "libx264",
      "-preset",
      "ultrafast",
      "-pix_fmt",
      "yuv420p",
      "-g",
      "60",
      "-keyint_min",
      "60",
      "-sc_threshold",
      "0",
      "-c:a",
      "aac",
      "-b:a",
      "64k",
      "-f",
      "hls",
      "-hls_time",
      "2",
      "-hls_list_size",
      "0",
      path.join(dir, "index.m3u8"),
    ]);
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("encodes a segment to a lower rendition starting at the source's timestamps, with the audio copied", async () => {
    const encode = ffmpegEncoder(() => getBinaries());
    for (const i of [1, 2]) {
      const src = path.join(dir, `index${i}.ts`);
      const out = await encode("240p", readFileSync(src));
      if (!out.ok) throw new Error(out.error);
      const file = path.join(dir, `r${i}.ts`);
      execFileSync("sh", ["-c", `cat > ${file}`], { input: out.bytes });
      const [s, r] = [await probe(src), await probe(file)];
      const sv = s.find((x) => x.codec_type === "video");
      const rv = r.find((x) => x.codec_type === "video");
      expect(rv).toMatchObject({ codec_name: "h264", width: 426, height: 240 });
      // x264 was told the real frame rate: 240p at 30 fps is level 2.1, and the bitrate is near the 320k asked.
      // (Told 90000 fps, as the npm ffmpeg 4.1 is by -enc_time_base -1, it picks level 6.2 and ~120 kb/s of video.)
      expect(rv?.level).toBeLessThanOrEqual(31);
      const kbps = (out.bytes.length * 8) / 2 / 1000; // video, the 64k audio copied, TS overhead
      expect(kbps).toBeGreaterThan(300);
      // Same start to well within one frame (1/30 s): the 90 kHz timestamps are carried over.
      expect(Math.abs(Number(rv?.start_time) - Number(sv?.start_time))).toBeLessThan(1 / 30 / 2);
      expect(Number(sv?.start_time)).toBeGreaterThan(i * 2 - 0.5);
      expect(r.find((x) => x.codec_type === "audio")).toMatchObject({ codec_name: "aac" });
      expect(out.cpuSeconds).toBeGreaterThan(0);
    }
  }, 60_000);

  it("a portrait source is scaled by its short side", async () => {
    const src = path.join(dir, "portrait.ts");
    await run("ffmpeg", [
      "-hide_banner",
      "-loglevel",
      "error",
      "-f",
      "lavfi",
      "-i",
      "testsrc2=size=360x640:rate=30",
      "-t",
      "1",
      "-c:v",
      "libx264",
      "-preset",
      "ultrafast",
      "-pix_fmt",
      "yuv420p",
      "-f",
      "mpegts",
      src,
    ]);
    const out = await ffmpegEncoder(() => getBinaries())("240p", readFileSync(src));
    if (!out.ok) throw new Error(out.error);
    const file = path.join(dir, "portrait-240.ts");
    execFileSync("sh", ["-c", `cat > ${file}`], { input: out.bytes });
    expect((await probe(file)).find((x) => x.codec_type === "video")).toMatchObject({ width: 240, height: 426 });
  }, 60_000);

  it("a segment ffmpeg cannot read is an error, not an empty rendition", async () => {
    const out = await ffmpegEncoder(() => getBinaries())("240p", new Uint8Array(4096).fill(7));
    expect(out.ok).toBe(false);
  }, 30_000);

  it("arguments keep the source's timestamps and read -benchmark", () => {
    const args = renditionArgs("360p");
    for (const flag of ["-copyts", "-enc_time_base", "-muxdelay", "-benchmark"]) expect(args).toContain(flag);
    // The npm ffmpeg (no release number) and 4.x encode in the frame-rate time base; 5+ in the source's.
    const old = renditionArgs("360p", { sourceTimeBase: false });
    expect(old).not.toContain("-enc_time_base");
    for (const flag of ["-copyts", "-vsync", "-muxdelay"]) expect(old).toContain(flag);
    expect(keepsSourceTimeBase(parseFfmpegVersion("ffmpeg version 5.1.6-0+deb12u1 Copyright"))).toBe(true);
    expect(keepsSourceTimeBase(parseFfmpegVersion("ffmpeg version n4.4.2 Copyright"))).toBe(false);
    expect(keepsSourceTimeBase(parseFfmpegVersion("ffmpeg version N-47683-g0e8eb07980-static https://"))).toBe(false);
    expect(args.slice(args.indexOf("-c:a"), args.indexOf("-c:a") + 2)).toEqual(["-c:a", "copy"]);
    const bench = parseBenchmark("x\nbench: utime=0.159s stime=0.048s rtime=0.432s\n");
    expect(bench?.cpuSeconds).toBeCloseTo(0.207, 6);
    expect(bench?.wallSeconds).toBeCloseTo(0.432, 6);
    expect(parseBenchmark("nothing")).toBeNull();
  });
});

describe("the edge playlist as the ladder reads it", () => {
  it("numbers segments from MEDIA-SEQUENCE, resolves URLs, skips gaps, sees ENDLIST and EXT-X-MAP", () => {
    const text = [
      "#EXTM3U",
      "#EXT-X-MEDIA-SEQUENCE:7",
      '#EXT-X-MAP:URI="/pb/live/s1/init-c1.mp4?token=t"',
      "#EXTINF:2.0,",
      "/pb/live/s1/c1-7.m4s?token=t",
      "#EXT-X-GAP",
      "#EXTINF:2.0,",
      "gap.ts",
      "#EXTINF:2.0,",
      "/pb/live/s1/c1-9.m4s?token=t",
      "#EXT-X-ENDLIST",
    ].join("\n");
    const p = parseSourcePlaylist(text, "http://edge.test/pb/live.m3u8?token=t");
    expect(p?.ended).toBe(true);
    expect(p?.segments).toEqual([
      {
        seq: 7,
        url: "http://edge.test/pb/live/s1/c1-7.m4s?token=t",
        map: "http://edge.test/pb/live/s1/init-c1.mp4?token=t",
      },
      {
        seq: 9,
        url: "http://edge.test/pb/live/s1/c1-9.m4s?token=t",
        map: "http://edge.test/pb/live/s1/init-c1.mp4?token=t",
      },
    ]);
    expect(parseSourcePlaylist("<html>", "http://edge.test/")).toBeNull();
  });
});

describe("rendition workers: failure isolation", () => {
  const job: LiveLadderStart = {
    live_stream_id: "ls_x",
    session_id: "s1-abc",
    source_url: "http://edge.test/pb/live.m3u8",
    api_url: "http://api.test",
    renditions: ["480p", "240p"],
  };
  const log = createLogger({}, () => {});
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it("a failing rendition backs off and resumes at the live edge; the other rendition keeps every segment", async () => {
    const pushed: { rendition: LiveRendition; seq: number }[] = [];
    let broken = true;
    const deps: LadderDeps = {
      encode: async (rendition, input) =>
        rendition === "480p" && broken
          ? { ok: false, error: "boom" }
          : { ok: true, bytes: input, cpuSeconds: 0.01, wallSeconds: 0.01 },
      push: async (_j, rendition, seq) => {
        pushed.push({ rendition, seq });
        return 201;
      },
      fetch,
      log,
      backoffMs: [150, 300],
    };
    const good = new RenditionWorker(job, "240p", deps);
    const bad = new RenditionWorker(job, "480p", deps);
    for (let seq = 0; seq < 6; seq++) {
      const item = { seq, bytes: new Uint8Array([seq]), fetchedAt: Date.now() };
      good.offer(item);
      bad.offer(item);
      await sleep(40);
    }
    await sleep(100);
    broken = false;
    await sleep(400);
    const item = { seq: 6, bytes: new Uint8Array([6]), fetchedAt: Date.now() };
    good.offer(item);
    bad.offer(item);
    await sleep(100);
    good.stop();
    bad.stop();
    expect(pushed.filter((p) => p.rendition === "240p").map((p) => p.seq)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const badSeqs = pushed.filter((p) => p.rendition === "480p").map((p) => p.seq);
    expect(badSeqs.at(-1)).toBe(6);
    expect(badSeqs.length).toBeLessThan(7);
    expect(bad.stats.failures).toBeGreaterThanOrEqual(2);
    expect(good.stats.failures).toBe(0);
  });

  it("a rendition slower than the source keeps only the newest segments", async () => {
    const pushed: number[] = [];
    const deps: LadderDeps = {
      encode: async (_r, input) => {
        await sleep(100);
        return { ok: true, bytes: input, cpuSeconds: null, wallSeconds: 0.1 };
      },
      push: async (_j, _r, seq) => {
        pushed.push(seq);
        return 201;
      },
      fetch,
      log,
    };
    const w = new RenditionWorker(job, "240p", deps);
    for (let seq = 0; seq < 10; seq++) w.offer({ seq, bytes: new Uint8Array([seq]), fetchedAt: Date.now() });
    await sleep(100 * (MAX_PENDING + 2) + 100);
    w.stop();
    expect(pushed.at(-1)).toBe(9);
    expect(pushed.length).toBeLessThanOrEqual(MAX_PENDING + 1);
    expect(w.stats.skipped).toBe(10 - pushed.length);
  });
});
