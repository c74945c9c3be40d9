/**
 * Static renditions (progressive downloads): one faststart MP4 (`highest.mp4`: the top ladder rung
 * plus the audio rendition) or, for audio-only assets, one M4A (`audio.m4a`), made by stream copy
 * from the HLS renditions the ladder already wrote — no second decode or encode. Each fMP4
 * rendition (init section + segments in playlist order) is first joined into one fragmented file,
 * which every ffmpeg from 4.x on reads as a plain MP4 input (no concat protocol, no argument-length
 * limit on long videos); ffmpeg then rewrites it progressive with the moov atom in front.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readFile, rm, stat } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { parseMediaPlaylist } from "../hls/media-playlist.js";
import { INIT_NAME, PLAYLIST_NAME } from "./hls-output.js";
import { type RunFfmpegOptions, runFfmpeg } from "./process.js";

export interface ProgressiveOptions {
  kind: "progressive";
  /** Fragmented MP4 inputs (absolute paths): the video-only rung and/or the audio rendition. */
  videoInput?: string;
  audioInput?: string;
  /** Output path, relative to the output directory, e.g. `downloads/highest.mp4`. */
  output: string;
}

export function buildProgressiveArgs(options: ProgressiveOptions): string[] {
  const args: string[] = [];
  const maps: string[] = [];
  if (options.videoInput) {
    maps.push("-map", `${args.length / 2}:v:0`);
    args.push("-i", options.videoInput);
  }
  if (options.audioInput) {
    maps.push("-map", `${args.length / 2}:a:0`);
    args.push("-i", options.audioInput);
  }
  if (maps.length === 0) throw new Error("a progressive download needs a video or an audio input");
  return [
    ...args,
    ...maps,
    "-c",
    "copy",
    // As for HLS outputs: source tags never reach viewers.
    "-map_metadata",
    "-1",
    "-map_chapters",
    "-1",
    // moov before mdat: players start and seek before the whole file has arrived.
    "-movflags",
    "+faststart",
    "-f",
    "mp4",
    options.output,
  ];
}

/** Joins a rendition's init section and segments (playlist order) into one fragmented MP4 file. */
export async function joinRendition(renditionDir: string, target: string): Promise<void> {
  const playlist = parseMediaPlaylist(await readFile(path.join(renditionDir, PLAYLIST_NAME), "utf8"));
  if (!playlist.endList || playlist.segments.length === 0) {
    throw new Error(`${renditionDir} has no complete playlist to make a download from`);
  }
  const parts = [playlist.mapUri ?? INIT_NAME, ...playlist.segments.map((s) => s.uri)];
  const out = createWriteStream(target);
  try {
    for (const part of parts) {
      await pipeline(createReadStream(path.join(renditionDir, part)), out, { end: false });
    }
  } finally {
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
}

export interface ProgressiveResult {
  /** Absolute path of the written file. */
  file: string;
  bytes: number;
}

/**
 * Writes `output` under outputDir from the rendition folders `videoDir` / `audioDir` (relative to
 * outputDir). Scratch files go to `scratchDir` and are removed whatever happens.
 */
export async function runProgressive(
  dirs: { videoDir?: string; audioDir?: string; output: string; scratchDir: string },
  outputDir: string,
  run: RunFfmpegOptions = {},
): Promise<ProgressiveResult> {
  await mkdir(dirs.scratchDir, { recursive: true });
  await mkdir(path.dirname(path.join(outputDir, dirs.output)), { recursive: true });
  try {
    const join = async (dir: string | undefined, name: string) => {
      if (!dir) return undefined;
      const target = path.join(dirs.scratchDir, name);
      await joinRendition(path.join(outputDir, dir), target);
      return target;
    };
    const [videoInput, audioInput] = await Promise.all([
      join(dirs.videoDir, "video.fmp4"),
      join(dirs.audioDir, "audio.fmp4"),
    ]);
    await runFfmpeg(buildProgressiveArgs({ kind: "progressive", videoInput, audioInput, output: dirs.output }), {
      ...run,
      cwd: outputDir,
    });
    const file = path.join(outputDir, dirs.output);
    return { file, bytes: (await stat(file)).size };
  } finally {
    await rm(dirs.scratchDir, { recursive: true, force: true });
  }
}
