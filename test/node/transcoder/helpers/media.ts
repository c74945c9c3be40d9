/**
 * Test media generated at test time with lavfi (testsrc2 + sine), never committed. Clips are
 * small and short; the ffmpeg the transcoder would use encodes them with ultrafast presets.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Parser } from "m3u8-parser";
import { binaryEnv } from "../../../../transcoder/src/ffmpeg/static-env.js";
import { type FfprobeOutput, ffmpegBin, ffprobeBin } from "../../support/media.js";

const execFileAsync = promisify(execFile);

export async function tempDir(prefix = "kf-transcoder-test-"): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

export async function removeDir(dir: string | undefined): Promise<void> {
  if (dir) await rm(dir, { recursive: true, force: true });
}

export interface ClipSpec {
  width?: number;
  height?: number;
  duration?: number;
  fps?: number | string;
  video?: boolean;
  audio?: boolean;
  /** Seconds between keyframes (default 2). */
  gop?: number;
  videoCodec?: string;
  pixFmt?: string;
  audioCodec?: string;
  audioChannels?: number;
  /** Make the frame timing irregular (variable frame rate). */
  vfr?: boolean;
  /** Extra output options before the file name (e.g. -metadata:s:v rotate=90). */
  extra?: string[];
}

/** Encodes a clip into dir/name; the extension chooses the container. */
export async function makeClip(dir: string, name: string, spec: ClipSpec = {}): Promise<string> {
  const width = spec.width ?? 320;
  const height = spec.height ?? 240;
  const duration = spec.duration ?? 2;
  const fps = spec.fps ?? 30;
  const [num, den = "1"] = String(fps).split("/");
  const fpsValue = Number(num) / Number(den);
  const out = path.join(dir, name);
  const args = ["-hide_banner", "-nostdin", "-y", "-loglevel", "error"];
  const wantVideo = spec.video ?? true;
  const wantAudio = spec.audio ?? true;
  // testsrc2 rounds odd sizes down to even; generate even and scale to the odd size exactly.
  const odd = width % 2 === 1 || height % 2 === 1;
  const genSize = odd ? `${width + (width % 2)}x${height + (height % 2)}` : `${width}x${height}`;
  if (wantVideo) args.push("-f", "lavfi", "-i", `testsrc2=size=${genSize}:rate=${fps}:duration=${duration}`);
  if (wantAudio) args.push("-f", "lavfi", "-i", `sine=frequency=440:sample_rate=44100:duration=${duration}`);
  if (wantVideo) {
    const codec = spec.videoCodec ?? "libx264";
    args.push("-c:v", codec);
    if (codec === "libx264") args.push("-preset", "ultrafast", "-g", String(Math.round(fpsValue * (spec.gop ?? 2))));
    args.push("-pix_fmt", spec.pixFmt ?? "yuv420p");
    const filters: string[] = [];
    if (odd) filters.push(`scale=${width}:${height}`, "setsar=1");
    // First second at full rate, then every other frame dropped, timestamps kept: VFR.
    if (spec.vfr) filters.push(`select='lt(t\\,1)+not(mod(n\\,2))'`);
    if (filters.length) args.push("-vf", filters.join(","));
    if (spec.vfr) args.push("-vsync", "vfr");
  }
  if (wantAudio) {
    args.push("-c:a", spec.audioCodec ?? "aac", "-ac", String(spec.audioChannels ?? 2));
  }
  args.push(...(spec.extra ?? []), out);
  await execFileAsync(await ffmpegBin(), args, { env: binaryEnv(await ffmpegBin()) });
  return out;
}

export async function ffprobeJson(
  file: string,
  extra: string[] = ["-show_format", "-show_streams"],
  cwd?: string,
): Promise<FfprobeOutput> {
  const { stdout } = await execFileAsync(await ffprobeBin(), ["-v", "error", "-print_format", "json", ...extra, file], {
    cwd,
    maxBuffer: 64 * 1024 * 1024,
    env: binaryEnv(await ffprobeBin()),
  });
  return JSON.parse(stdout);
}

type Manifest = Parser["manifest"];
export type ParsedM3u8 = Manifest & {
  playlists: NonNullable<Manifest["playlists"]>;
  mediaGroups: NonNullable<Manifest["mediaGroups"]>;
};

/** m3u8-parser, an independent reader to check what our code and ffmpeg wrote. */
export function parseM3u8(text: string): ParsedM3u8 {
  const parser = new Parser();
  parser.push(text);
  parser.end();
  const m = parser.manifest;
  return { ...m, playlists: m.playlists ?? [], mediaGroups: m.mediaGroups ?? ({} as ParsedM3u8["mediaGroups"]) };
}

export async function readM3u8(file: string) {
  return parseM3u8(await readFile(file, "utf8"));
}

export async function writeFakePdf(file: string): Promise<string> {
  const header = Buffer.from(
    "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
    "latin1",
  );
  const noise = Buffer.alloc(4096);
  for (let i = 0; i < noise.length; i++) noise[i] = (i * 7919 + 13) % 251;
  await writeFile(file, Buffer.concat([header, noise, Buffer.from("\n%%EOF\n")]));
  return file;
}
