/**
 * Puts chunks together into the single-process ladder's layout: each rendition folder gets its
 * segments under their global names (moved in whole, once the chunk's ffmpeg has exited, so the
 * SegmentUploader only ever sees finished files), chunk 0's init.mp4 and one VOD playlist.
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { INIT_NAME, PLAYLIST_NAME } from "../ffmpeg/hls-output.js";
import type { Rational } from "../ffmpeg/probe.js";
import { renderVodPlaylist } from "../hls/media-playlist.js";
import { ChunkError, type ChunkRendition, type ChunkSegment, segmentName } from "./encode.js";
import { sameInit, shiftSegment, trackTimescale } from "./fmp4.js";
import type { Chunk } from "./plan.js";

/**
 * Keeps the first init seen per rendition and refuses a chunk whose init differs from it (other
 * than in its edit list): one EXT-X-MAP per rendition is only right when every chunk's track is
 * the same (SPS/PPS, sizes, timescale). x264 with the same settings writes the same headers, so a
 * mismatch means the source changed under the encoder (colour properties mid-file, say); the job
 * then fails with this message rather than publishing a rendition some players cannot decode.
 */
export class InitRegistry {
  private readonly first = new Map<string, { chunk: number; init: Buffer }>();
  private readonly byChunk = new Map<string, Buffer>();

  check(chunk: Chunk, rendition: ChunkRendition): void {
    const seen = this.first.get(rendition.name);
    if (!seen) this.first.set(rendition.name, { chunk: chunk.index, init: rendition.init });
    else if (!sameInit(seen.init, rendition.init)) {
      throw new ChunkError(
        `chunk ${chunk.index} ${rendition.name}: its init segment differs from chunk ${seen.chunk}'s (SPS/PPS or track setup); ` +
          "a rendition needs one init for all its segments",
      );
    }
    this.byChunk.set(`${chunk.index}/${rendition.name}`, rendition.init);
  }

  /** Chunk 0's init: it starts at 0, so it is byte for byte what the single-process ladder writes. */
  initOf(rendition: string): Buffer {
    const init = this.byChunk.get(`0/${rendition}`);
    if (!init) throw new ChunkError(`${rendition}: chunk 0 has not been encoded`);
    return init;
  }
}

/** The chunk's first frame on its track's timescale. */
export function chunkTicks(chunk: Chunk, rate: Rational, timescale: number): number {
  return Math.round((chunk.startFrame * rate.den * timescale) / rate.num);
}

/**
 * Shifts the chunk's segments onto the whole timeline and moves them into outputDir/<rendition>/
 * (a rename: atomic, the same file system). `sourceDir` holds the chunk's <rendition>/ folders.
 */
export async function placeChunk(
  chunk: Chunk,
  renditions: readonly ChunkRendition[],
  rate: Rational,
  sourceDir: string,
  outputDir: string,
): Promise<void> {
  for (const r of renditions) {
    const ticks = chunkTicks(chunk, rate, trackTimescale(r.init));
    for (const seg of r.segments) {
      const from = path.join(sourceDir, r.name, segmentName(seg.number));
      const bytes = await readFile(from);
      shiftSegment(bytes, ticks, seg.number + 1);
      await writeFile(from, bytes);
      await rename(from, path.join(outputDir, r.name, segmentName(seg.number)));
    }
  }
}

/** A rendition's stitched playlist: ffmpeg's own format, segments under their global names. */
export function vodPlaylist(segments: readonly ChunkSegment[]): string {
  return renderVodPlaylist(
    segments.map((s) => ({ duration: s.duration, uri: segmentName(s.number) })),
    INIT_NAME,
  );
}

/** Writes each rendition's init.mp4 and index.m3u8 once every chunk is placed. */
export async function writeRenditions(
  outputDir: string,
  inits: InitRegistry,
  segments: ReadonlyMap<string, ChunkSegment[]>,
): Promise<void> {
  for (const [name, list] of segments) {
    const sorted = [...list].sort((a, b) => a.number - b.number);
    sorted.forEach((s, i) => {
      if (s.number !== i) throw new ChunkError(`${name}: segment ${i} is missing after stitching`);
    });
    await writeFile(path.join(outputDir, name, INIT_NAME), inits.initOf(name));
    await writeFile(path.join(outputDir, name, PLAYLIST_NAME), vodPlaylist(sorted));
  }
}
