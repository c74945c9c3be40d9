/**
 * The ffmpeg pipeline with real ffmpeg: fast-path remux, the ladder, poster, storyboard and our
 * master playlist, checked with ffprobe and m3u8-parser rather than with our own reader.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MaxResolution, RenditionSchema } from "../../../src/lib/transcoder-protocol.js";
import { getBinaries, resetBinariesCache } from "../../../transcoder/src/ffmpeg/binaries.js";
import { AUDIO_DIR, outputFrameRate, planRungs, runLadder } from "../../../transcoder/src/ffmpeg/ladder.js";
import { posterSize, posterTime, runPoster } from "../../../transcoder/src/ffmpeg/poster.js";
import { type MediaFacts, probe } from "../../../transcoder/src/ffmpeg/probe.js";
import type { FfmpegProgress } from "../../../transcoder/src/ffmpeg/progress.js";
import { runRemux } from "../../../transcoder/src/ffmpeg/remux.js";
import { planStoryboard, runStoryboard } from "../../../transcoder/src/ffmpeg/storyboard.js";
import { planSource } from "../../../transcoder/src/ffmpeg/validate.js";
import { type MeasuredRendition, type RenditionRef, writeMaster } from "../../../transcoder/src/hls/master.js";
import { ffmpegBin } from "../support/media.js";
import { ffprobeJson, makeClip, parseM3u8, readM3u8, removeDir, tempDir } from "./helpers/media.js";

const execFileAsync = promisify(execFile);
const INSTALLER_FFMPEG = path.resolve("node_modules/@ffmpeg-installer/linux-x64/ffmpeg");

let dir: string;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await removeDir(dir);
});

interface LadderRun {
  facts: MediaFacts;
  out: string;
  renditions: MeasuredRendition[];
  master: string;
  progress: FfmpegProgress[];
}

/** probe → plan → one ladder process → our master, like the runner does. */
async function ladder(source: string, maxResolution: MaxResolution = "1080p", ffmpegPath?: string): Promise<LadderRun> {
  const facts = await probe(source);
  const out = await mkdtemp(path.join(dir, "out-"));
  const video = facts.video;
  const rungs = video ? planRungs(video.displayWidth, video.displayHeight, maxResolution, video.frameRate) : [];
  const progress: FfmpegProgress[] = [];
  await runLadder(
    {
      kind: "ladder",
      input: source,
      video: video
        ? { streamIndex: video.index, rungs, frameRate: outputFrameRate(video), deinterlace: video.interlaced }
        : undefined,
      audioStreamIndex: facts.audio?.index,
    },
    out,
    { durationSeconds: facts.duration, onProgress: (p) => progress.push(p), ffmpegPath },
  );
  const refs: RenditionRef[] = [
    ...rungs.map((r) => ({ name: r.name, type: "video" as const })),
    ...(facts.audio ? [{ name: AUDIO_DIR, type: "audio" as const }] : []),
  ];
  const { renditions, master } = await writeMaster(out, refs);
  return { facts, out, renditions, master, progress };
}

/** Every segment of a rendition decodes when prefixed with its init section. */
async function expectPlayableRendition(renditionDir: string) {
  const playlist = await readM3u8(path.join(renditionDir, "index.m3u8"));
  expect(playlist.endList).toBe(true);
  expect(playlist.playlistType).toBe("VOD");
  expect(playlist.segments.length).toBeGreaterThan(0);
  const init = playlist.segments[0].map?.uri;
  expect(init).toBe("init.mp4");
  for (const seg of playlist.segments) {
    expect(seg.uri).toMatch(/^seg_\d{5}\.m4s$/);
    const probed = await ffprobeJson(`concat:${init}|${seg.uri}`, ["-show_streams", "-show_format"], renditionDir);
    expect(probed.streams.length).toBeGreaterThan(0);
    expect(Number(probed.format.duration)).toBeGreaterThan(0);
  }
  return playlist;
}

async function renditionBytes(renditionDir: string): Promise<number> {
  let total = 0;
  for (const f of await readdir(renditionDir))
    if (!f.endsWith(".m3u8")) total += (await stat(path.join(renditionDir, f))).size;
  return total;
}

describe("fast path", () => {
  it("remuxes a standard source into a muxed VOD HLS variant", async () => {
    const source = await makeClip(dir, "standard.mp4", { width: 640, height: 360, duration: 8, fps: 30 });
    const facts = await probe(source, { keyframes: true });
    expect(
      planSource(facts, { max_resolution: "1080p", fast_path: true, source_size_bytes: facts.sizeBytes }).fastPath,
    ).toBe(true);
    const out = await mkdtemp(path.join(dir, "fast-"));
    const progress: FfmpegProgress[] = [];
    await runRemux(
      { kind: "remux", input: source, videoIndex: facts.video!.index, audioIndex: facts.audio!.index },
      out,
      {
        durationSeconds: facts.duration,
        onProgress: (p) => progress.push(p),
      },
    );
    const playlist = await expectPlayableRendition(path.join(out, "fast"));
    const total = playlist.segments.reduce((n, s) => n + s.duration, 0);
    expect(total).toBeGreaterThan(7.5);
    expect(total).toBeLessThan(8.5);
    // Copied, not re-encoded: the codec profile is the source's (ultrafast = Constrained Baseline).
    const first = await ffprobeJson(
      `concat:init.mp4|${playlist.segments[0].uri}`,
      ["-show_streams"],
      path.join(out, "fast"),
    );
    expect(first.streams.map((s: { codec_name: string }) => s.codec_name).sort()).toEqual(["aac", "h264"]);
    expect(first.streams.find((s: { codec_type: string }) => s.codec_type === "video")!.profile).toBe(
      "Constrained Baseline",
    );
    expect(progress.at(-1)?.percent).toBe(100);

    const { renditions, master } = await writeMaster(out, [{ name: "fast", type: "muxed" }]);
    expect(renditions).toHaveLength(1);
    expect(RenditionSchema.parse(renditions[0])).toBeTruthy();
    expect(renditions[0]).toMatchObject({
      name: "fast",
      type: "muxed",
      playlist: "fast/index.m3u8",
      width: 640,
      height: 360,
      frame_rate: 30,
    });
    expect(renditions[0].codecs).toMatch(/^avc1\.42c01e,mp4a\.40\.2$/);
    const m = parseM3u8(master);
    expect(m.playlists).toHaveLength(1);
    expect(m.playlists[0].uri).toBe("fast/index.m3u8");
    expect(master).not.toContain("AUDIO=");
  });

  it("remuxes AAC out of MPEG-TS (ADTS → ASC)", async () => {
    const source = await makeClip(dir, "standard.ts", { width: 320, height: 240, duration: 3 });
    const facts = await probe(source, { keyframes: true });
    expect(facts.container).toBe("ts");
    const out = await mkdtemp(path.join(dir, "fast-ts-"));
    await runRemux(
      { kind: "remux", input: source, videoIndex: facts.video!.index, audioIndex: facts.audio!.index, adtsToAsc: true },
      out,
    );
    await expectPlayableRendition(path.join(out, "fast"));
  });
});

describe("ladder", () => {
  let run: LadderRun;
  beforeAll(async () => {
    const source = await makeClip(dir, "hd.mp4", { width: 1280, height: 720, duration: 8, fps: 15 });
    run = await ladder(source);
  });

  it("encodes v720, v480, v360 and an audio rendition in one process", () => {
    expect(run.renditions.map((r) => r.name)).toEqual(["v720", "v480", "v360", "audio"]);
    for (const r of run.renditions) expect(RenditionSchema.safeParse(r).success).toBe(true);
    expect(run.progress.length).toBeGreaterThan(0);
    const percents = run.progress.map((p) => p.percent ?? 0);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(percents.at(-1)).toBe(100);
  });

  it("aligns segments across renditions, with keyframes every 2 s", async () => {
    const playlists = await Promise.all(
      ["v720", "v480", "v360", "audio"].map((name) => expectPlayableRendition(path.join(run.out, name))),
    );
    const durations = playlists.map((p) => p.segments.map((s) => s.duration));
    expect(durations[0]).toHaveLength(2);
    expect(durations[0][0]).toBeCloseTo(6, 2);
    expect(durations[1]).toEqual(durations[0]);
    expect(durations[2]).toEqual(durations[0]);
    // Audio frames (1024 samples) do not land exactly on 6 s, but the segment count matches.
    expect(durations[3]).toHaveLength(2);
    expect(durations[3][0]).toBeCloseTo(6, 1);

    const v360 = path.join(run.out, "v360");
    const packets = await ffprobeJson(
      "concat:init.mp4|seg_00000.m4s|seg_00001.m4s",
      ["-select_streams", "v:0", "-show_entries", "packet=pts_time,flags"],
      v360,
    );
    const keys = packets
      .packets!.filter((p: { flags: string }) => p.flags.startsWith("K"))
      .map((p: { pts_time: string }) => Number(p.pts_time));
    const t0 = keys[0];
    expect(keys.map((t: number) => Math.round((t - t0) * 100) / 100)).toEqual([0, 2, 4, 6]);
  });

  it("writes a master with measured BANDWIDTH, CODECS, RESOLUTION and FRAME-RATE", async () => {
    const m = parseM3u8(run.master);
    expect(run.master.startsWith("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n")).toBe(true);
    const audioGroup = m.mediaGroups.AUDIO.audio;
    const audio = Object.values(audioGroup)[0] as { uri: string; default: boolean };
    expect(audio.uri).toBe("audio/index.m3u8");
    expect(audio.default).toBe(true);

    expect(m.playlists.map((p) => p.uri)).toEqual(["v720/index.m3u8", "v480/index.m3u8", "v360/index.m3u8"]);
    const audioBytes = await renditionBytes(path.join(run.out, "audio"));
    const expected = {
      "v720/index.m3u8": [1280, 720],
      "v480/index.m3u8": [854, 480],
      "v360/index.m3u8": [640, 360],
    } as const;
    for (const p of m.playlists) {
      const a = p.attributes;
      const [w, h] = expected[p.uri as keyof typeof expected];
      expect(a.RESOLUTION).toEqual({ width: w, height: h });
      expect(a["FRAME-RATE"]).toBe(15);
      expect(a.AUDIO).toBe("audio");
      expect(a.CODECS).toMatch(/^avc1\.64[0-9a-f]{4},mp4a\.40\.2$/);
      const bandwidth = a.BANDWIDTH as number;
      const average = Number(a["AVERAGE-BANDWIDTH"]);
      expect(bandwidth).toBeGreaterThanOrEqual(average);
      // Average = (video + audio bytes) × 8 / duration, measured independently here.
      const dirName = p.uri.split("/")[0];
      const clipSeconds = 8;
      const actual = (((await renditionBytes(path.join(run.out, dirName))) + audioBytes) * 8) / clipSeconds;
      expect(average / actual).toBeGreaterThan(0.9);
      expect(average / actual).toBeLessThan(1.1);
      expect(bandwidth).toBeLessThan(average * 3);

      const probed = await ffprobeJson("concat:init.mp4|seg_00000.m4s", ["-show_streams"], path.join(run.out, dirName));
      const v = probed.streams[0];
      expect([v.width, v.height]).toEqual([w, h]);
      expect(v.profile).toBe("High");
      expect(a.CODECS).toContain(`avc1.64${"00"}${Number(v.level).toString(16).padStart(2, "0")}`);
    }
    const bandwidths = m.playlists.map((p) => p.attributes.BANDWIDTH as number);
    expect(bandwidths).toEqual([...bandwidths].sort((x, y) => y - x));
  });

  it("does not upscale a 480p source", async () => {
    const source = await makeClip(dir, "sd.mp4", { width: 854, height: 480, duration: 2 });
    const { renditions } = await ladder(source);
    expect(renditions.map((r) => r.name)).toEqual(["v480", "v360", "audio"]);
  });

  it("caps a 1080p source at max_resolution 720p", async () => {
    const source = await makeClip(dir, "fullhd.mp4", { width: 1920, height: 1080, duration: 2, fps: 15, audio: false });
    const { renditions, master } = await ladder(source, "720p");
    expect(renditions.map((r) => `${r.name}:${r.width}x${r.height}`)).toEqual([
      "v720:1280x720",
      "v480:854x480",
      "v360:640x360",
    ]);
    expect(master).not.toContain("1920x1080");
  });

  it("takes a 4K source down to max_resolution 1080p, not through the fast path", async () => {
    const source = await makeClip(dir, "uhd.mp4", { width: 3840, height: 2160, duration: 1, fps: 10, audio: false });
    const facts = await probe(source, { keyframes: true });
    const plan = planSource(facts, { max_resolution: "1080p", fast_path: true, source_size_bytes: facts.sizeBytes });
    expect(plan.fastPath).toBe(false);
    expect(plan.reasons.join()).toMatch(/above 1080p/);
    const { renditions } = await ladder(source, "1080p");
    expect(renditions.map((r) => `${r.name}:${r.width}x${r.height}@${r.frame_rate}`)).toEqual([
      "v1080:1920x1080@10",
      "v720:1280x720@10",
      "v480:854x480@10",
      "v360:640x360@10",
    ]);
  });

  it("handles odd dimensions (853x481)", async () => {
    const source = await makeClip(dir, "odd.mkv", { width: 853, height: 481, duration: 2, pixFmt: "yuv444p" });
    const { facts, renditions, out } = await ladder(source);
    expect([facts.video?.width, facts.video?.height]).toEqual([853, 481]);
    expect(renditions.map((r) => `${r.name}:${r.width}x${r.height}`)).toEqual([
      "v480:852x480",
      "v360:638x360",
      "audio:undefinedxundefined",
    ]);
    await expectPlayableRendition(path.join(out, "v360"));
  });

  it("encodes rotated phone video upright, laddered on its short side", async () => {
    const plain = await makeClip(dir, "landscape.mp4", { width: 640, height: 360, duration: 1, audio: false });
    const rotated = path.join(dir, "portrait.mp4");
    await execFileAsync(await ffmpegBin(), [
      "-v",
      "error",
      "-y",
      "-i",
      plain,
      "-c",
      "copy",
      "-metadata:s:v:0",
      "rotate=90",
      rotated,
    ]);
    const { renditions } = await ladder(rotated);
    expect(renditions.map((r) => `${r.name}:${r.width}x${r.height}`)).toEqual(["v360:360x640"]);
  });

  it("normalizes variable frame rate to constant", async () => {
    const source = await makeClip(dir, "vfr.mp4", { width: 640, height: 360, duration: 4, vfr: true });
    const run = await ladder(source);
    expect(run.facts.video?.variableFrameRate).toBe(true);
    const v360 = run.renditions.find((r) => r.name === "v360");
    expect(v360?.frame_rate).toBe(30);
    const probed = await ffprobeJson(
      "concat:init.mp4|seg_00000.m4s",
      ["-show_streams", "-count_frames"],
      path.join(run.out, "v360"),
    );
    const s = probed.streams[0];
    expect(s.r_frame_rate).toBe("30/1");
    // 4 s at a constant 30 fps, whatever the source's gaps were.
    expect(Number(s.nb_read_frames)).toBeGreaterThanOrEqual(118);
  });

  it("encodes a silent source without an audio group", async () => {
    const source = await makeClip(dir, "silent.mp4", { width: 640, height: 360, duration: 2, audio: false });
    const { renditions, master } = await ladder(source);
    expect(renditions.map((r) => r.name)).toEqual(["v360"]);
    expect(master).not.toContain("EXT-X-MEDIA");
    expect(master).not.toContain("mp4a");
    expect(parseM3u8(master).playlists[0].attributes.AUDIO).toBeUndefined();
  });

  it("turns an audio-only source into an audio-only master", async () => {
    const source = await makeClip(dir, "song.m4a", { video: false, duration: 3, audioChannels: 1 });
    const { renditions, master } = await ladder(source);
    expect(renditions).toHaveLength(1);
    expect(renditions[0]).toMatchObject({
      name: "audio",
      type: "audio",
      codecs: "mp4a.40.2",
      channels: 2,
      sampleRate: 48000,
    });
    const m = parseM3u8(master);
    expect(m.playlists).toHaveLength(1);
    expect(m.playlists[0].uri).toBe("audio/index.m3u8");
    expect(m.playlists[0].attributes.CODECS).toBe("mp4a.40.2");
    expect(master).not.toContain("RESOLUTION");
  });

  it.runIf(existsSync(INSTALLER_FFMPEG))("works with the 2018 ffmpeg 4.x binary from @ffmpeg-installer", async () => {
    const saved = process.env.FFMPEG_PATH;
    process.env.FFMPEG_PATH = INSTALLER_FFMPEG;
    resetBinariesCache();
    try {
      const b = await getBinaries();
      expect(b.ffmpeg).toBe(INSTALLER_FFMPEG);
      expect(b.version.raw).toMatch(/^N-/);
      const source = await makeClip(dir, "old.mp4", { width: 1280, height: 720, duration: 4, fps: 25 });
      const old = await ladder(source);
      expect(old.renditions.map((r) => r.name)).toEqual(["v720", "v480", "v360", "audio"]);
      for (const name of ["v720", "v480", "v360", "audio"]) await expectPlayableRendition(path.join(old.out, name));
      expect(old.renditions[0].frame_rate).toBe(25);
      expect(old.progress.at(-1)?.percent).toBe(100);
      const facts = await probe(source, { keyframes: true });
      const out = await mkdtemp(path.join(dir, "fast-old-"));
      await runRemux(
        { kind: "remux", input: source, videoIndex: facts.video!.index, audioIndex: facts.audio!.index },
        out,
      );
      await expectPlayableRendition(path.join(out, "fast"));
    } finally {
      if (saved === undefined) delete process.env.FFMPEG_PATH;
      else process.env.FFMPEG_PATH = saved;
      resetBinariesCache();
    }
  });
});

describe("poster and storyboard", () => {
  it("writes a poster no wider than 1280 and a storyboard sprite with a parseable VTT", async () => {
    const source = await makeClip(dir, "thumbs.mp4", { width: 1920, height: 1080, duration: 5, audio: false });
    const facts = await probe(source);
    const v = facts.video!;
    const out = await mkdtemp(path.join(dir, "thumbs-"));
    await runPoster(
      {
        kind: "poster",
        input: source,
        output: "poster.jpg",
        streamIndex: v.index,
        atSeconds: posterTime(facts.duration),
        ...posterSize(v.displayWidth, v.displayHeight),
      },
      out,
    );
    const poster = (await ffprobeJson(path.join(out, "poster.jpg"), ["-show_streams"])).streams[0];
    expect([poster.codec_name, poster.width, poster.height]).toEqual(["mjpeg", 1280, 720]);

    const plan = planStoryboard(facts.duration, v.displayWidth, v.displayHeight);
    const { image, vtt } = await runStoryboard(
      { kind: "storyboard", input: source, output: "storyboard.jpg", plan, streamIndex: v.index },
      out,
    );
    const sprite = (await ffprobeJson(image, ["-show_streams"])).streams[0];
    expect([sprite.width, sprite.height]).toEqual([plan.columns * 160, plan.rows * 90]);

    const text = await readFile(vtt, "utf8");
    expect(text.startsWith("WEBVTT\n\n")).toBe(true);
    const cues = [
      ...text.matchAll(
        /^(\d{2}:\d{2}:\d{2}\.\d{3}) --> (\d{2}:\d{2}:\d{2}\.\d{3})\n(storyboard\.jpg#xywh=(\d+),(\d+),(\d+),(\d+))$/gm,
      ),
    ];
    expect(cues).toHaveLength(plan.count);
    for (const c of cues) {
      const [x, y, w, h] = c.slice(4, 8).map(Number);
      expect(x + w).toBeLessThanOrEqual(sprite.width!);
      expect(y + h).toBeLessThanOrEqual(sprite.height!);
    }
    expect(cues.at(-1)?.[2]).toBe("00:00:05.000");
  });

  it("takes a storyboard from a rendition's keyframes only", async () => {
    const source = await makeClip(dir, "sb.mp4", { width: 640, height: 360, duration: 7 });
    const run = await ladder(source);
    const v360 = path.join(run.out, "v360");
    const playlist = await readM3u8(path.join(v360, "index.m3u8"));
    const input = `concat:${["init.mp4", ...playlist.segments.map((s) => s.uri)].join("|")}`;
    const plan = planStoryboard(run.facts.duration, 640, 360, { intervalStep: 2 });
    expect(plan.count).toBe(4);
    const { image } = await runStoryboard(
      { kind: "storyboard", input, output: path.join(run.out, "storyboard.jpg"), plan, keyframesOnly: true },
      v360,
    );
    const sprite = (await ffprobeJson(image, ["-show_streams"])).streams[0];
    expect([sprite.width, sprite.height]).toEqual([640, 90]);
  });
});
