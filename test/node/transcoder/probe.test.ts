/** probe() against real ffprobe on lavfi-generated media, including the inputs it must refuse. */
import { execFile } from "node:child_process";
import { copyFile, readFile, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  findCopier,
  findFfmpeg,
  findFfprobe,
  getBinaries,
  resetBinariesCache,
} from "../../../transcoder/src/ffmpeg/binaries.js";
import { BinaryNotFoundError, InputError } from "../../../transcoder/src/ffmpeg/errors.js";
import { indexPackets } from "../../../transcoder/src/ffmpeg/mp4-index.js";
import { applyPacketIndex, probe } from "../../../transcoder/src/ffmpeg/probe.js";
import { binaryEnv, isStaticElf } from "../../../transcoder/src/ffmpeg/static-env.js";
import { ffmpegBin } from "../support/media.js";
import { makeClip, removeDir, tempDir, writeFakePdf } from "./helpers/media.js";

const execFileAsync = promisify(execFile);
let dir: string;

beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await removeDir(dir);
});

async function expectInputError(file: string, code: string) {
  const err = await probe(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InputError);
  expect((err as InputError).code).toBe(code);
  return err as InputError;
}

describe("binaries", () => {
  it("finds ffmpeg and ffprobe and reports their versions", async () => {
    resetBinariesCache();
    const b = await getBinaries();
    expect(b.ffmpeg).toMatch(/ffmpeg$/);
    expect(b.ffprobe).toMatch(/ffprobe$/);
    expect(b.version.raw).not.toBe("unknown");
    expect(b.ffprobeVersion.raw).not.toBe("unknown");
  });

  it("honours FFMPEG_PATH / FFPROBE_PATH first and fails loudly when one is wrong", async () => {
    const npmFfmpeg = await findFfmpeg({ PATH: "" });
    const env = { PATH: process.env.PATH, FFMPEG_PATH: npmFfmpeg.path };
    expect(await findFfmpeg(env)).toEqual({ path: npmFfmpeg.path, source: "env" });
    // The explicit ffmpeg's own ffprobe wins over PATH (the installer packages keep them in separate folders).
    const npmFfprobe = await findFfprobe({ PATH: "" });
    expect(await findFfprobe({ ...env, FFPROBE_PATH: npmFfprobe.path })).toEqual({
      path: npmFfprobe.path,
      source: "env",
    });
    await expect(findFfmpeg({ ...env, FFMPEG_PATH: "/nonexistent/ffmpeg" })).rejects.toBeInstanceOf(
      BinaryNotFoundError,
    );
    await expect(findFfprobe({ FFPROBE_PATH: "/nonexistent/ffprobe" })).rejects.toBeInstanceOf(BinaryNotFoundError);
  });

  it("prefers the system ffmpeg on PATH over the npm one, and the npm ffprobe over the system one", async () => {
    const dirWithBoth = await tempDir();
    try {
      // A PATH entry holding executables named ffmpeg/ffprobe (links to the npm ones) counts as "system".
      const { path: npmFfmpeg } = await findFfmpeg({ PATH: "" });
      const { path: npmFfprobe } = await findFfprobe({ PATH: "" });
      await symlink(npmFfmpeg, path.join(dirWithBoth, "ffmpeg"));
      await symlink(npmFfprobe, path.join(dirWithBoth, "ffprobe"));
      expect(await findFfmpeg({ PATH: dirWithBoth })).toEqual({
        path: path.join(dirWithBoth, "ffmpeg"),
        source: "system",
      });
      // The npm ffprobe is production's and starts ~7× faster than Debian's dynamically linked one (binaries.ts).
      expect(await findFfprobe({ PATH: dirWithBoth })).toEqual({
        path: npmFfprobe,
        source: "npm",
        package: "@ffprobe-installer/ffprobe",
      });
    } finally {
      await removeDir(dirWithBoth);
    }
  });

  it("copies streams with the npm ffmpeg, unless FFMPEG_PATH names one", async () => {
    const dirWithFfmpeg = await tempDir();
    try {
      const { path: npmFfmpeg } = await findFfmpeg({ PATH: "" });
      await symlink(npmFfmpeg, path.join(dirWithFfmpeg, "ffmpeg"));
      // A system ffmpeg encodes; the static one copies (it starts without loading ~200 shared libraries).
      expect(await findFfmpeg({ PATH: dirWithFfmpeg })).toMatchObject({ source: "system" });
      expect(await findCopier({ PATH: dirWithFfmpeg })).toEqual({
        path: npmFfmpeg,
        source: "npm",
        package: "@ffmpeg-installer/ffmpeg",
      });
      const explicit = path.join(dirWithFfmpeg, "ffmpeg");
      expect(await findCopier({ PATH: "", FFMPEG_PATH: explicit })).toEqual({ path: explicit, source: "env" });
      resetBinariesCache();
      const b = await getBinaries({ PATH: dirWithFfmpeg });
      expect(b).toMatchObject({ ffmpeg: explicit, ffmpegSource: "system", copier: npmFfmpeg, copierSource: "npm" });
    } finally {
      resetBinariesCache();
      await removeDir(dirWithFfmpeg);
    }
  });

  it("falls back to the npm-shipped binaries with nothing on PATH", async () => {
    resetBinariesCache();
    const b = await getBinaries({ PATH: "" });
    expect(b).toMatchObject({ ffmpegSource: "npm", ffprobeSource: "npm" });
    expect(b.ffmpeg).toContain("@ffmpeg-installer");
    expect(b.ffprobe).toContain("@ffprobe-installer");
    expect(b.ffprobeVersion.raw).not.toBe("unknown");
    resetBinariesCache();
  });
});

describe("probe", () => {
  it("reads container, duration, video and audio facts", async () => {
    const file = await makeClip(dir, "basic.mp4", { width: 320, height: 240, duration: 3, fps: 25 });
    const facts = await probe(file, { keyframes: true });
    expect(facts.container).toBe("mp4");
    expect(facts.duration).toBeGreaterThan(2.9);
    expect(facts.duration).toBeLessThan(3.2);
    expect(facts.bitrate).toBeGreaterThan(0);
    expect(facts.video).toMatchObject({
      codec: "h264",
      pixFmt: "yuv420p",
      bitDepth: 8,
      width: 320,
      height: 240,
      displayWidth: 320,
      displayHeight: 240,
      rotation: 0,
      frameRate: 25,
      variableFrameRate: false,
      interlaced: false,
    });
    expect(facts.video?.keyframeInterval).toBeCloseTo(2, 1);
    expect(facts.audio).toMatchObject({ codec: "aac", profile: "LC", channels: 2, sampleRate: 44100 });
  });

  it("detects variable frame rate", async () => {
    const file = await makeClip(dir, "vfr.mp4", { duration: 3, vfr: true, audio: false });
    const facts = await probe(file);
    expect(facts.video?.variableFrameRate).toBe(true);
    expect(facts.audio).toBeUndefined();
  });

  it("applies rotation to the display size", async () => {
    const plain = await makeClip(dir, "plain.mp4", { width: 320, height: 180, duration: 1, audio: false });
    const rotated = path.join(dir, "rotated.mp4");
    // -display_rotation is ffmpeg ≥ 6; the rotate tag still works on 5.1 and 4.x.
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
    const facts = await probe(rotated);
    expect(facts.video?.rotation === 90 || facts.video?.rotation === 270).toBe(true);
    expect(facts.video).toMatchObject({ width: 320, height: 180, displayWidth: 180, displayHeight: 320 });
  });

  it("reads other containers: mkv, ts, mov", async () => {
    const mkv = await makeClip(dir, "c.mkv", { duration: 1 });
    const ts = await makeClip(dir, "c.ts", { duration: 1 });
    const mov = await makeClip(dir, "c.mov", { duration: 1 });
    expect((await probe(mkv)).container).toBe("mkv");
    expect((await probe(ts)).container).toBe("ts");
    expect((await probe(mov)).container).toBe("mov");
  });

  // The npm ffprobe is statically linked; without GCONV_PATH it loaded the host's gconv modules when the
  // MPEG-TS demuxer decoded the service name and died of SIGSEGV (static-env.ts). Run here on every
  // machine, whatever ffprobe the lookup would pick.
  it("reads MPEG-TS (and the other containers) with the npm-shipped, statically linked ffprobe", async () => {
    const npm = await findFfprobe({ PATH: "" });
    expect(npm.source).toBe("npm");
    expect(isStaticElf(npm.path)).toBe(true);
    expect(binaryEnv(npm.path).GCONV_PATH).toBeTruthy();
    for (const name of ["npm.ts", "npm.mkv", "npm.mov"]) {
      const file = await makeClip(dir, name, { duration: 1 });
      const facts = await probe(file, { ffprobePath: npm.path, keyframes: true });
      expect(facts.container).toBe(path.extname(name).slice(1));
      expect(facts.video?.codec).toBe("h264");
      expect(facts.audio?.codec).toBe("aac");
    }
    // What the fix works around, shown directly: the same binary without it crashes on the TS file.
    const ts = path.join(dir, "npm.ts");
    const bare = await execFileAsync(npm.path, ["-v", "error", "-show_format", ts], {
      env: { ...process.env, GCONV_PATH: undefined },
    }).then(
      () => "ok",
      (e: { signal?: string | null }) => e.signal ?? "failed",
    );
    // Crashes exactly where the host has glibc's gconv modules for the demuxer to load (Debian: libc6).
    const hostGconv = await execFileAsync("test", ["-e", "/usr/lib/x86_64-linux-gnu/gconv/ISO_6937.so"]).then(
      () => true,
      () => false,
    );
    expect(bare).toBe(hostGconv ? "SIGSEGV" : "ok");
  });

  it("runs system binaries with the environment unchanged", async () => {
    const system = "/usr/bin/ffprobe";
    const present = await execFileAsync("test", ["-x", system]).then(
      () => true,
      () => false,
    );
    if (!present) return; // a bare machine has none; the npm case above is the one that matters there
    expect(isStaticElf(system)).toBe(false);
    const base = { A: "1" } as unknown as NodeJS.ProcessEnv;
    expect(binaryEnv(system, base)).toBe(base);
  });

  it("treats audio-only files as audio", async () => {
    const file = await makeClip(dir, "audio.m4a", { video: false, duration: 2 });
    const facts = await probe(file);
    expect(facts.video).toBeUndefined();
    expect(facts.audio?.codec).toBe("aac");
    expect(facts.duration).toBeGreaterThan(1.9);
  });

  it("rejects a zero-byte file as input_unreadable", async () => {
    const file = path.join(dir, "zero.mp4");
    await writeFile(file, "");
    await expectInputError(file, "input_unreadable");
  });

  it("rejects a truncated MP4 as input_unreadable", async () => {
    const full = await makeClip(dir, "full.mp4", { duration: 2 });
    const data = await readFile(full);
    const file = path.join(dir, "truncated.mp4");
    await writeFile(file, data.subarray(0, Math.floor(data.length / 2)));
    const err = await expectInputError(file, "input_unreadable");
    expect(err.message).toMatch(/not a readable media file/);
  });

  it("rejects a truncated faststart MP4 (index intact, media missing) and says how much is there", async () => {
    // moov at the front: ffprobe opens the cut file and reports the full 8 s from the index.
    const full = await makeClip(dir, "faststart.mp4", { duration: 8, extra: ["-movflags", "+faststart"] });
    const data = await readFile(full);
    expect(data.subarray(4, 8).toString()).toBe("ftyp");
    expect(data.indexOf("moov")).toBeLessThan(data.indexOf("mdat"));
    const file = path.join(dir, "faststart-cut.mp4");
    await writeFile(file, data.subarray(0, Math.floor(data.length * 0.4)));
    const err = await expectInputError(file, "input_unreadable");
    expect(err.message).toMatch(/^the file is truncated: it declares 8\.0 s but only (\d+\.\d) s of media is present$/);
    const present = Number(/only (\d+\.\d) s/.exec(err.message)?.[1]);
    expect(present).toBeGreaterThan(1.5);
    expect(present).toBeLessThan(5);

    // The same check in Matroska, whose header declares the duration too.
    const mkv = path.join(dir, "cut.mkv");
    await execFileAsync(await ffmpegBin(), [
      "-v",
      "error",
      "-y",
      "-i",
      full,
      "-c",
      "copy",
      path.join(dir, "whole.mkv"),
    ]);
    const mkvData = await readFile(path.join(dir, "whole.mkv"));
    await writeFile(mkv, mkvData.subarray(0, Math.floor(mkvData.length * 0.4)));
    expect((await expectInputError(mkv, "input_unreadable")).message).toMatch(
      /^the file is truncated: it declares 8\.0 s/,
    );

    // The intact file passes, with its keyframe interval measured in the same packet pass, and so
    // does a long file whose last seconds are read by seeking.
    const facts = await probe(full, { keyframes: true });
    expect(facts.duration).toBeCloseTo(8, 1);
    expect(facts.video?.keyframeInterval).toBeCloseTo(2, 1);
    const long = await makeClip(dir, "long-faststart.mp4", {
      width: 160,
      height: 90,
      duration: 40,
      extra: ["-movflags", "+faststart"],
    });
    expect((await probe(long, { keyframes: true })).video?.keyframeInterval).toBeCloseTo(2, 1);
    const longData = await readFile(long);
    const longCut = path.join(dir, "long-cut.mp4");
    await writeFile(longCut, longData.subarray(0, Math.floor(longData.length * 0.9)));
    expect((await expectInputError(longCut, "input_unreadable")).message).toMatch(
      /^the file is truncated: it declares 40\.0 s but only 3\d\.\d s of media is present$/,
    );
  });

  it("answers keyframes and truncation from a streamed source's packet index (applyPacketIndex), as probe does", async () => {
    const full = await makeClip(dir, "indexed.mp4", { duration: 8, extra: ["-movflags", "+faststart"] });
    const whole = await probe(full, { integrity: false, indexOnly: true });
    applyPacketIndex(whole, await indexPackets(full));
    expect(whole.video?.keyframeInterval).toBeCloseTo(2, 1);

    const data = await readFile(full);
    const cut = path.join(dir, "indexed-cut.mp4");
    await writeFile(cut, data.subarray(0, Math.floor(data.length * 0.4)));
    const facts = await probe(cut, { integrity: false, indexOnly: true });
    expect(facts.duration).toBeCloseTo(8, 1); // the index still declares it all
    let err: unknown;
    try {
      applyPacketIndex(facts, await indexPackets(cut));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).code).toBe("input_unreadable");
    expect((err as InputError).message).toMatch(
      /^the file is truncated: it declares 8\.0 s but only \d\.\d s of media is present$/,
    );
  });

  it("rejects a PDF renamed .mp4 and random bytes as input_unreadable", async () => {
    await expectInputError(await writeFakePdf(path.join(dir, "document.mp4")), "input_unreadable");
    const noise = Buffer.alloc(65536);
    let x = 12345;
    for (let i = 0; i < noise.length; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      noise[i] = x >> 16;
    }
    await writeFile(path.join(dir, "noise.mp4"), noise);
    await expectInputError(path.join(dir, "noise.mp4"), "input_unreadable");
  });

  it("rejects a still image as input_unsupported", async () => {
    const png = path.join(dir, "still.png");
    await execFileAsync(await ffmpegBin(), [
      "-v",
      "error",
      "-y",
      "-f",
      "lavfi",
      "-i",
      "testsrc2=size=320x240",
      "-frames:v",
      "1",
      png,
    ]);
    await copyFile(png, path.join(dir, "still.mp4"));
    await expectInputError(path.join(dir, "still.mp4"), "input_unsupported");
  });

  it("rejects a file without audio or video as input_no_media", async () => {
    const srt = path.join(dir, "subs.srt");
    await writeFile(srt, "1\n00:00:00,000 --> 00:00:02,000\nhello\n");
    const mkv = path.join(dir, "subs.mkv");
    await execFileAsync(await ffmpegBin(), ["-v", "error", "-y", "-i", srt, mkv]);
    const err = await expectInputError(mkv, "input_no_media");
    expect(err.message).toMatch(/subtitle/);
  });
});
