/**
 * One chunk of the video ladder, encoded by a local ffmpeg into its own work folder (one sub-folder
 * per rung, the same names as the rendition folders), and what it produced: each rung's init and its
 * segments with their global numbers and durations, read back from the chunk's own playlist.
 */
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { INIT_NAME, PLAYLIST_NAME } from "../ffmpeg/hls-output.js";
import { buildVideoSliceArgs, type LadderVideo } from "../ffmpeg/ladder.js";
import { type RunFfmpegOptions, runFfmpeg } from "../ffmpeg/process.js";
import type { Chunk } from "./plan.js";

export interface ChunkSegment {
  /** Global segment number (`seg_%05d.m4s`). */
  number: number;
  duration: number;
}

export interface ChunkRendition {
  name: string;
  init: Buffer;
  segments: ChunkSegment[];
}

export class ChunkError extends Error {
  override name = "ChunkError";
}

export function segmentName(n: number): string {
  return `seg_${String(n).padStart(5, "0")}.m4s`;
}

/** Decoding stops this long after a chunk's end, so the fps filter has the frames it needs there. */
const INPUT_MARGIN_SECONDS = 1;

export function chunkSliceArgs(
  video: LadderVideo,
  input: string,
  chunk: Chunk,
  inputArgs: readonly string[] = [],
): string[] {
  return buildVideoSliceArgs(video, input, {
    inputArgs,
    seekSeconds: chunk.startSeconds,
    inputSeconds:
      chunk.frames === undefined
        ? undefined
        : (chunk.frames * video.frameRate.den) / video.frameRate.num + INPUT_MARGIN_SECONDS,
    frames: chunk.frames,
    startNumber: chunk.firstSegment,
  });
}

/** The segments a chunk's playlist lists, with their numbers checked against the plan. */
export function parseChunkPlaylist(text: string, chunk: Chunk, rendition: string): ChunkSegment[] {
  const segments: ChunkSegment[] = [];
  let duration: number | undefined;
  for (const line of text.split("\n").map((l) => l.trim())) {
    const inf = /^#EXTINF:([\d.]+)/.exec(line);
    if (inf) duration = Number(inf[1]);
    else if (line && !line.startsWith("#")) {
      const m = /^seg_(\d+)\.m4s$/.exec(line);
      if (!m || duration === undefined)
        throw new ChunkError(`chunk ${chunk.index} ${rendition}: unexpected line '${line}'`);
      segments.push({ number: Number(m[1]), duration });
      duration = undefined;
    }
  }
  const expected = chunk.segments;
  const numbersOk = segments.every((s, i) => s.number === chunk.firstSegment + i);
  if (!segments.length || !numbersOk || (expected !== undefined && segments.length !== expected)) {
    throw new ChunkError(
      `chunk ${chunk.index} ${rendition}: expected segments ${chunk.firstSegment}…${expected === undefined ? "end" : chunk.firstSegment + expected - 1}, ` +
        `got ${segments.map((s) => s.number).join(",") || "none"}`,
    );
  }
  return segments;
}

/**
 * Encodes the chunk into workDir/<rung>/ and reads back what each rung produced. `inputArgs` go before
 * `-i` (an HTTP input's options, for a remote chunk).
 */
export async function encodeChunkLocally(
  video: LadderVideo,
  input: string,
  chunk: Chunk,
  workDir: string,
  run: RunFfmpegOptions,
  inputArgs: readonly string[] = [],
): Promise<ChunkRendition[]> {
  for (const rung of video.rungs) await mkdir(path.join(workDir, rung.name), { recursive: true });
  await runFfmpeg(chunkSliceArgs(video, input, chunk, inputArgs), { ...run, cwd: workDir });
  return Promise.all(
    video.rungs.map(async (rung) => ({
      name: rung.name,
      init: await readFile(path.join(workDir, rung.name, INIT_NAME)),
      segments: parseChunkPlaylist(
        await readFile(path.join(workDir, rung.name, PLAYLIST_NAME), "utf8"),
        chunk,
        rung.name,
      ),
    })),
  );
}
