/**
 * Test media, generated with lavfi sources at test time (never committed), and ffprobe helpers.
 * Tests find ffmpeg/ffprobe the way the transcoder does (env var → PATH → npm package), so they run on a
 * machine with no system ffmpeg too.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { getBinaries } from "../../../transcoder/src/ffmpeg/binaries.js";
import { binaryEnv } from "../../../transcoder/src/ffmpeg/static-env.js";

const run = promisify(execFile);

/**
 * Runs the transcoder's ffmpeg quietly (banner off, overwrite, errors only) in its environment, and returns
 * what it wrote to stdout (raw frames, PCM…).
 */
export async function runFfmpeg(args: string[], cwd?: string): Promise<Buffer> {
  const bin = await ffmpegBin();
  const { stdout } = await run(bin, ["-hide_banner", "-nostdin", "-y", "-loglevel", "error", ...args], {
    cwd,
    env: binaryEnv(bin),
    encoding: "buffer",
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

/** The ffmpeg the transcoder would use in this process. */
export async function ffmpegBin(): Promise<string> {
  return (await getBinaries()).ffmpeg;
}

/** The ffprobe the transcoder would use in this process. */
export async function ffprobeBin(): Promise<string> {
  return (await getBinaries()).ffprobe;
}

export interface ClipOptions {
  width?: number;
  height?: number;
  seconds?: number;
  fps?: number;
  audio?: boolean;
  video?: boolean;
  /** Variable frame rate: drops frames irregularly. */
  vfr?: boolean;
  codec?: "libx264" | "mpeg4";
  /** Write the MP4 index before the media (`-movflags +faststart`), as most upload tools do. */
  faststart?: boolean;
}

export async function makeClip(out: string, o: ClipOptions = {}): Promise<string> {
  const { width = 640, height = 360, seconds = 4, fps = 30, audio = true, video = true } = o;
  const args = ["-y", "-v", "error"];
  // testsrc2 rounds odd sizes down, so odd dimensions are made by cropping a larger even frame.
  const odd = width % 2 === 1 || height % 2 === 1;
  const srcW = width + (width % 2);
  const srcH = height + (height % 2);
  if (video) args.push("-f", "lavfi", "-i", `testsrc2=size=${srcW}x${srcH}:rate=${fps}:duration=${seconds}`);
  if (audio) args.push("-f", "lavfi", "-i", `sine=frequency=440:sample_rate=48000:duration=${seconds}`);
  if (video) {
    const filters: string[] = [];
    if (odd) filters.push(`format=yuv444p,crop=${width}:${height}:0:0`);
    if (o.vfr) filters.push("select='not(mod(n\\,3))+lt(mod(n\\,7)\\,2)'");
    if (filters.length) args.push("-vf", filters.join(","));
    if (o.vfr) args.push("-vsync", "vfr");
    // 4:2:0 needs even dimensions; odd sources are 4:4:4 (a non-standard input, as real odd files are).
    args.push("-c:v", o.codec ?? "libx264", "-pix_fmt", odd ? "yuv444p" : "yuv420p");
    if ((o.codec ?? "libx264") === "libx264") args.push("-preset", "veryfast", "-g", String(fps * 2));
  }
  if (audio) args.push("-c:a", "aac", "-b:a", "96k");
  if (o.faststart) args.push("-movflags", "+faststart");
  args.push("-t", String(seconds), out);
  await run(await ffmpegBin(), args, { env: binaryEnv(await ffmpegBin()) });
  return out;
}

/**
 * ffprobe's `-of json` output as tests read it: ffprobe prints numbers of the format section as strings, and
 * which fields a stream has depends on its kind, so most fields are optional.
 */
export interface FfprobeStream {
  index: number;
  codec_type: "video" | "audio" | "subtitle" | "data" | "attachment";
  codec_name: string;
  profile?: string;
  level?: number;
  width?: number;
  height?: number;
  pix_fmt?: string;
  r_frame_rate?: string;
  avg_frame_rate?: string;
  channels?: number;
  channel_layout?: string;
  sample_rate?: string;
  duration?: string;
  bit_rate?: string;
  nb_frames?: string;
  nb_read_frames?: string;
  disposition?: Record<string, number>;
  tags?: Record<string, string>;
}

export interface FfprobeOutput {
  streams: FfprobeStream[];
  format: { format_name?: string; duration?: string; size?: string; bit_rate?: string; tags?: Record<string, string> };
  /** With `-show_packets`. */
  packets?: { pts_time: string; dts_time?: string; duration_time?: string; size?: string; flags: string }[];
  frames?: { pict_type?: string; key_frame?: number; pts_time?: string; best_effort_timestamp_time?: string }[];
}

export async function ffprobeJson(target: string): Promise<FfprobeOutput> {
  const { stdout } = await run(
    await ffprobeBin(),
    ["-v", "error", "-show_format", "-show_streams", "-of", "json", target],
    {
      maxBuffer: 10 * 1024 * 1024,
      env: binaryEnv(await ffprobeBin()),
    },
  );
  return JSON.parse(stdout);
}
