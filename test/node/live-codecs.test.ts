/**
 * What the LiveStream DO reads from an encoder's bytes (src/live/codecs.ts), checked against ffprobe on
 * real ffmpeg output: MPEG-TS segments and fMP4 init segments, several H.264 profiles and sizes (one
 * needing SPS cropping), AAC LC audio and video-only streams.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { mediaInfoFromInit, mediaInfoFromTs } from "../../src/live/codecs";
import { binaryEnv } from "../../transcoder/src/ffmpeg/static-env.js";
import { ffmpegBin, ffprobeBin } from "./support/media";

const exec = promisify(execFile);
/** ffmpeg/ffprobe as the transcoder finds them (env → PATH → npm), in the env a static build needs. */
const run = async (bin: "ffmpeg" | "ffprobe", args: string[]) => {
  const file = bin === "ffmpeg" ? await ffmpegBin() : await ffprobeBin();
  return exec(file, args, { env: binaryEnv(file) });
};
const dir = mkdtempSync(path.join(tmpdir(), "keyframe-live-codecs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PROFILE_IDC: Record<string, number> = { "Constrained Baseline": 0x42, Baseline: 0x42, Main: 0x4d, High: 0x64 };

async function encode(name: string, size: string, x264: string[], audio: boolean) {
  const common = [
    ...["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", `testsrc2=size=${size}:rate=25`],
    ...(audio ? ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-c:a", "aac"] : []),
    ...["-t", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p", ...x264, "-g", "25"],
  ];
  await run("ffmpeg", [...common, "-f", "mpegts", "-y", path.join(dir, `${name}.ts`)]);
  await run("ffmpeg", [
    ...common,
    ...["-f", "hls", "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", `${name}-init.mp4`],
    ...["-hls_segment_filename", path.join(dir, `${name}-%d.m4s`), "-y", path.join(dir, `${name}.m3u8`)],
  ]);
  const probe = JSON.parse(
    (
      await run("ffprobe", [
        ...["-v", "error", "-show_entries", "stream=codec_type,codec_name,profile,level,width,height"],
        ...["-of", "json", path.join(dir, `${name}.ts`)],
      ])
    ).stdout,
  ).streams as { codec_type: string; codec_name: string; profile: string; level: number; width: number }[];
  return probe;
}

describe("live codecs from the encoder's bytes", () => {
  for (const [name, size, x264, audio] of [
    ["baseline", "320x180", ["-preset", "ultrafast"], true],
    ["main", "640x360", ["-preset", "veryfast", "-profile:v", "main"], true],
    [
      "high-1080",
      "1920x1080",
      ["-preset", "ultrafast", "-profile:v", "high", "-x264-params", "cabac=1:8x8dct=1"],
      false,
    ],
  ] as const) {
    it(`${name} ${size}${audio ? " + AAC" : ""}: matches ffprobe in MPEG-TS and fMP4`, async () => {
      const streams = await encode(name, size, [...x264], audio);
      const v = streams.find((s) => s.codec_type === "video") as { profile: string; level: number; width: number };
      const [w, h] = size.split("x").map(Number);
      const videoCodec = `avc1.${PROFILE_IDC[v.profile].toString(16)}`;
      const level = v.level.toString(16).padStart(2, "0");
      for (const info of [
        mediaInfoFromTs(new Uint8Array(readFileSync(path.join(dir, `${name}.ts`)))),
        mediaInfoFromInit(new Uint8Array(readFileSync(path.join(dir, `${name}-init.mp4`)))),
      ]) {
        expect(info.width).toBe(w);
        expect(info.height).toBe(h);
        const parts = info.codecs?.split(",") ?? [];
        expect(parts[0].startsWith(videoCodec)).toBe(true);
        expect(parts[0].endsWith(level)).toBe(true);
        expect(parts.slice(1)).toEqual(audio ? ["mp4a.40.2"] : []);
      }
    }, 60_000);
  }

  it("leaves CODECS out rather than guess: bytes it cannot read", () => {
    expect(mediaInfoFromTs(new Uint8Array(188 * 4).fill(0x47))).toEqual({ codecs: null, width: null, height: null });
    expect(mediaInfoFromInit(new Uint8Array([0, 0, 0, 8, 0x66, 0x74, 0x79, 0x70]))).toEqual({
      codecs: null,
      width: null,
      height: null,
    });
  });
});
