/**
 * The segment-parallel ladder (issue 14, goal 5) with real ffmpeg: a 38 s 29.97 fps source cut into
 * 12 s chunks, three encoded at once, against the single-process ladder on the same file. ffprobe reads
 * each stitched rendition as a player does (init + every segment): continuous pts across the joins, a
 * keyframe at every segment start, the source's frame count and duration; the playlists and init segments
 * are the single-process ones. Runs with the system ffmpeg and with the npm 4.1-era build when present.
 */
import { existsSync } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type LadderOptions,
  type LadderVideo,
  outputFrameRate,
  planRungs,
  runLadder,
} from "../../../transcoder/src/ffmpeg/ladder.js";
import { probe } from "../../../transcoder/src/ffmpeg/probe.js";
import { runChunkedLadder, runLadderAuto } from "../../../transcoder/src/ladder-chunks/index.js";
import { chunkedLadderConfig, planChunks, shouldChunk } from "../../../transcoder/src/ladder-chunks/plan.js";
import { verifyRendition } from "../../../transcoder/src/ladder-chunks/verify.js";
import { runFfmpeg as ffmpeg, ffmpegBin, ffprobeBin } from "../support/media.js";
import { removeDir, tempDir } from "./helpers/media.js";

const INSTALLER_FFMPEG = path.resolve("node_modules/@ffmpeg-installer/linux-x64/ffmpeg");
const NTSC = { num: 30000, den: 1001 };
const FRAME = 1001 / 30000;

let dir: string;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await removeDir(dir);
});

describe("chunk plan", () => {
  it("cuts on the 6 s grid at the first frame at or after each boundary, with exact frame counts", () => {
    const chunks = planChunks(38, NTSC, 12);
    expect(chunks.map((c) => [c.startFrame, c.frames, c.firstSegment, c.segments])).toEqual([
      [0, 360, 0, 2],
      // 12 s × 29.97 = 359.64: the first frame at or after 12 s is frame 360 (12.012 s).
      [360, 360, 2, 2],
      [720, undefined, 4, undefined],
    ]);
    expect(chunks[1]?.startSeconds).toBeCloseTo(12.012, 9);
    // Chunk lengths round to whole segments; a short tail joins the chunk before it.
    expect(planChunks(100, { num: 25, den: 1 }, 40).map((c) => c.firstSegment)).toEqual([0, 7, 14]);
    expect(planChunks(90, { num: 25, den: 1 }, 40).map((c) => c.firstSegment)).toEqual([0, 7]);
    expect(planChunks(50, { num: 25, den: 1 }, 42).length).toBe(1);
    expect(planChunks(5, NTSC, 12)).toHaveLength(1);
  });

  it("reads its knobs from the environment and is off for short sources", () => {
    expect(chunkedLadderConfig({})).toEqual({ minSeconds: 600, chunkSeconds: 60, parallel: 2 });
    const env = {
      KEYFRAME_CHUNKED_LADDER_MIN_SECONDS: "30",
      KEYFRAME_LADDER_CHUNK_SECONDS: "12",
      KEYFRAME_LADDER_CHUNK_PARALLEL: "3",
    };
    expect(chunkedLadderConfig(env)).toEqual({ minSeconds: 30, chunkSeconds: 12, parallel: 3 });
    expect(chunkedLadderConfig({ KEYFRAME_CHUNKED_LADDER_MIN_SECONDS: "off" }).minSeconds).toBe(
      Number.POSITIVE_INFINITY,
    );
    expect(chunkedLadderConfig({ KEYFRAME_LADDER_CHUNK_PARALLEL: "nope" }).parallel).toBe(2);
    const config = chunkedLadderConfig(env);
    expect(shouldChunk(29, config)).toBe(false);
    expect(shouldChunk(38, config)).toBe(true);
    // Long enough, but one chunk would hold it all: not chunked.
    expect(shouldChunk(40, { ...config, chunkSeconds: 60 })).toBe(false);
    expect(shouldChunk(undefined, config)).toBe(false);
  });
});

async function extinf(rendition: string): Promise<number[]> {
  const text = await readFile(path.join(rendition, "index.m3u8"), "utf8");
  return [...text.matchAll(/#EXTINF:([\d.]+)/g)].map((m) => Number(m[1]));
}

async function filesOf(d: string): Promise<string[]> {
  return (await readdir(d)).sort();
}

const binaries: [string, () => Promise<string>][] = [["system/default ffmpeg", ffmpegBin]];
if (existsSync(INSTALLER_FFMPEG)) binaries.push(["npm 4.1 ffmpeg", async () => INSTALLER_FFMPEG]);

describe.each(binaries)("chunked ladder with the %s", (_name, bin) => {
  it("stitches three parallel chunks into the single-process layout, continuous across the joins", async () => {
    const ffmpegPath = await bin();
    const work = path.join(dir, path.basename(path.dirname(ffmpegPath)) + Math.random().toString(36).slice(2));
    const source = path.join(work, "source.mp4");
    await ffmpeg(
      ["-f", "lavfi", "-i", "testsrc2=size=640x480:rate=30000/1001:duration=38"].concat(
        ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=38"],
        ["-c:v", "libx264", "-preset", "ultrafast", "-g", "90", "-pix_fmt", "yuv420p", "-c:a", "aac"],
        ["-movflags", "+faststart", "-t", "38", `${work}-src.mp4`],
      ),
    );
    const facts = await probe(`${work}-src.mp4`);
    const video = facts.video as NonNullable<typeof facts.video>;
    const rungs = planRungs(video.displayWidth, video.displayHeight, "1080p", video.frameRate);
    expect(rungs.map((r) => r.name)).toEqual(["v480", "v360"]);
    const options: LadderOptions = {
      kind: "ladder",
      input: `${work}-src.mp4`,
      video: { streamIndex: video.index, rungs, frameRate: outputFrameRate(video) },
      audioStreamIndex: facts.audio?.index,
    };
    void source;
    const single = path.join(work, "single");
    const chunked = path.join(work, "chunked");
    await runLadder(options, single, { durationSeconds: facts.duration, ffmpegPath });
    const finished: number[] = [];
    const percents: number[] = [];
    const report = await runChunkedLadder(
      options,
      chunked,
      { chunkSeconds: 12, parallel: 3 },
      { durationSeconds: facts.duration, ffmpegPath, onProgress: (p) => percents.push(p.percent ?? -1) },
      { onChunk: (c) => finished.push(c.index) },
    );
    expect(report).toMatchObject({ mode: "chunked", chunks: 3 });
    expect(finished.sort()).toEqual([0, 1, 2]);
    expect(percents.at(-1)).toBe(100);
    // The work folder is gone: the output folder holds the renditions and nothing else.
    expect(await filesOf(chunked)).toEqual(["audio", "v360", "v480"]);

    const probeBin = await ffprobeBin();
    for (const rung of rungs) {
      const a = await verifyRendition(path.join(single, rung.name), probeBin);
      const b = await verifyRendition(path.join(chunked, rung.name), probeBin);
      expect(b.problems).toEqual([]);
      expect(a.problems).toEqual([]);
      // No gap or overlap at the joins (12.012 s and 24.024 s): every step is one frame, to the tick.
      expect(b.worstStepError).toBeLessThan(FRAME / 10);
      expect(b.frames).toBe(a.frames);
      expect(b.frames).toBe(Math.round(38 / FRAME));
      expect(Math.abs(b.durationSeconds - (video.duration ?? facts.duration))).toBeLessThanOrEqual(FRAME + 1e-6);
      expect(b.segments).toBe(a.segments);
      // Same files and chunk 0's init is the single-process one. The playlists list the same segments; a
      // boundary may sit one frame later than the single-process one (a chunk counts its 6 s from its own
      // first frame, on a grid of 1001/30000 s frames), never more.
      expect(await filesOf(path.join(chunked, rung.name))).toEqual(await filesOf(path.join(single, rung.name)));
      const [sa, sb] = [await extinf(path.join(single, rung.name)), await extinf(path.join(chunked, rung.name))];
      expect(sb.length).toBe(sa.length);
      for (const [i, d] of sb.entries()) expect(Math.abs(d - (sa[i] as number))).toBeLessThanOrEqual(FRAME + 1e-6);
      expect(Math.abs(b.playlistSeconds - a.playlistSeconds)).toBeLessThan(1e-3);
      expect(
        (await readFile(path.join(chunked, rung.name, "init.mp4"))).equals(
          await readFile(path.join(single, rung.name, "init.mp4")),
        ),
      ).toBe(true);
    }
    // Audio is encoded whole, by the same arguments: the same playlist.
    expect(await readFile(path.join(chunked, "audio", "index.m3u8"), "utf8")).toBe(
      await readFile(path.join(single, "audio", "index.m3u8"), "utf8"),
    );
  }, 240_000);
});

describe("chunked ladder options", () => {
  it("burns the watermark and deinterlaces in every chunk, and stays single-process below the threshold", async () => {
    const work = path.join(dir, "wm");
    const source = `${work}-blue.mp4`;
    await ffmpeg([
      ...["-f", "lavfi", "-i", "color=c=blue:s=320x240:r=25:d=20"],
      ...["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", source],
    ]);
    const png = `${work}-red.png`;
    await ffmpeg(["-f", "lavfi", "-i", "color=c=red:s=64x64", "-frames:v", "1", png]);
    const facts = await probe(source);
    const v = facts.video as NonNullable<typeof facts.video>;
    const video: LadderVideo = {
      streamIndex: v.index,
      rungs: planRungs(320, 240, "1080p", v.frameRate),
      frameRate: outputFrameRate(v),
      deinterlace: true,
      watermark: {
        path: png,
        spec: { position: "top-right", margin_x: 0, margin_y: 0, width: "25%", opacity: 1 },
        displayWidth: 320,
        displayHeight: 240,
      },
    };
    const options: LadderOptions = { kind: "ladder", input: source, video };
    const config = { minSeconds: 10, chunkSeconds: 6, parallel: 2 };
    const out = path.join(work, "out");
    const report = await runLadderAuto(options, out, { durationSeconds: facts.duration }, config);
    expect(report).toMatchObject({ mode: "chunked", chunks: 3 });
    const check = await verifyRendition(path.join(out, "v240"), await ffprobeBin());
    expect(check.problems).toEqual([]);
    expect(check.frames).toBe(500);
    // The last segment comes from the last chunk: its first frame is red top-right, blue bottom-left.
    const rendition = path.join(out, "v240");
    const last = (await filesOf(rendition)).filter((f) => f.endsWith(".m4s")).at(-1) as string;
    await writeFile(
      path.join(rendition, "probe.mp4"),
      Buffer.concat([await readFile(path.join(rendition, "init.mp4")), await readFile(path.join(rendition, last))]),
    );
    const rgb = await ffmpeg(
      ["-i", "probe.mp4", "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
      rendition,
    );
    const px = (x: number, y: number) => [...rgb.subarray((y * 320 + x) * 3, (y * 320 + x) * 3 + 3)];
    expect(px(310, 10)[0]).toBeGreaterThan(200);
    expect(px(310, 10)[2]).toBeLessThan(60);
    expect(px(10, 230)[2]).toBeGreaterThan(200);
    expect(px(10, 230)[0]).toBeLessThan(60);

    const short = await runLadderAuto(
      options,
      path.join(work, "short"),
      { durationSeconds: facts.duration },
      {
        ...config,
        minSeconds: 30,
      },
    );
    expect(short).toMatchObject({ mode: "single", chunks: 1 });
  }, 120_000);
});
