/**
 * The remote chunk runner (issue 14, goal 5): each chunk but the first is encoded by a transcoder
 * instance of its own, through the API (`POST /internal/jobs/{job_id}/ladder-chunks/{index}`, see
 * src/lib/ladder-chunk-protocol.ts), which stores the chunk's segments under their global names and
 * answers each rung's init and segment list. The coordinator then reads the segments back into its
 * rendition folders, marked as already stored (`onStored`) so the SegmentUploader does not send them
 * again: the master's measurements, the storyboard (smallest rung) and the MP4 download (top rung) read
 * every rendition from disk, exactly as after a local ladder.
 *
 * Chunk 0 always runs here (the `local` runner): its init is each rendition's init and its first segment
 * is what the master probes, and it starts at once while the remote instances start up.
 *
 * A chunk whose instance answers 5xx, or does not answer, is asked again up to `retries` more times
 * (the instance overwrites the same output keys); a 4xx is final. Either way the job fails with the
 * chunk's index and the instance's own words.
 */
import { mkdir, rename } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { LadderChunkResult } from "../../../src/lib/ladder-chunk-protocol.js";
import { type ApiClient, ApiError } from "../api-client.js";
import { mapLimit } from "../concurrency.js";
import type { LadderVideo } from "../ffmpeg/ladder.js";
import type { Logger } from "../log.js";
import { ChunkError, type ChunkRendition, segmentName } from "./encode.js";
import type { ChunkRunner } from "./index.js";
import type { Chunk } from "./plan.js";
import { chunkToWire, videoToWire } from "./wire.js";

export const DEFAULT_CHUNK_RETRIES = 2;
/** What the coordinator waits for one chunk attempt: the instance's own bound (20 min) plus its start-up. */
export const DEFAULT_REMOTE_CHUNK_TIMEOUT_MS = 25 * 60_000;
const FETCH_CONCURRENCY = 4;

export type ChunkRunnerKind = "local" | "remote";

/**
 * KEYFRAME_LADDER_CHUNK_RUNNER=local|remote; unset: remote inside a container (the TranscoderContainer
 * sets KEYFRAME_TRANSCODER_CONTAINER=1), local otherwise.
 */
export function chunkRunnerKind(env: Record<string, string | undefined> = process.env): ChunkRunnerKind {
  const raw = env.KEYFRAME_LADDER_CHUNK_RUNNER?.trim().toLowerCase();
  if (raw === "local" || raw === "remote") return raw;
  return env.KEYFRAME_TRANSCODER_CONTAINER === "1" ? "remote" : "local";
}

/** KEYFRAME_LADDER_CHUNK_RETRIES: retries after a chunk's first attempt (default 2). */
export function chunkRetries(env: Record<string, string | undefined> = process.env): number {
  const n = Number(env.KEYFRAME_LADDER_CHUNK_RETRIES);
  return env.KEYFRAME_LADDER_CHUNK_RETRIES?.trim() && Number.isInteger(n) && n >= 0 ? n : DEFAULT_CHUNK_RETRIES;
}

export interface RemoteChunkRunnerOptions {
  client: Pick<ApiClient, "ladderChunk" | "getOutput">;
  video: LadderVideo;
  outputDir: string;
  /** Where read-back segments land before they are renamed into outputDir (same file system). */
  workDir: string;
  /** Encodes chunk 0. */
  local: ChunkRunner;
  retries?: number;
  timeoutMs?: number;
  /** First retry delay (doubles per retry). */
  retryDelayMs?: number;
  /** Called for each read-back segment before it appears in outputDir (it is stored already). */
  onStored?: (rel: string, bytes: number) => void;
  /** Each remote chunk's answer and how long it took end to end (logs, bench). */
  onRemote?: (
    chunk: Chunk,
    result: LadderChunkResult,
    timing: { attempts: number; requestMs: number; fetchMs: number },
  ) => void;
  log?: Logger;
}

export function remoteChunkRunner(o: RemoteChunkRunnerOptions): ChunkRunner {
  const wireVideo = videoToWire(o.video);
  const retries = o.retries ?? DEFAULT_CHUNK_RETRIES;
  const timeoutMs = o.timeoutMs ?? DEFAULT_REMOTE_CHUNK_TIMEOUT_MS;
  return async (chunk, run) => {
    if (chunk.index === 0) return o.local(chunk, run);
    const t0 = performance.now();
    let result: LadderChunkResult | undefined;
    let attempts = 0;
    for (;;) {
      attempts++;
      try {
        result = await o.client.ladderChunk(
          { chunk: chunkToWire(chunk), video: wireVideo },
          { signal: run.signal, timeoutMs },
        );
        break;
      } catch (err) {
        if (run.signal?.aborted) throw run.signal.reason ?? err;
        // 409/410: the job itself is superseded or gone; the runner's usual handling applies.
        if (err instanceof ApiError && (err.status === 409 || err.status === 410)) throw err;
        const retryable = err instanceof ApiError && (err.status === undefined || err.status >= 500);
        if (!retryable || attempts > retries) {
          throw new ChunkError(
            `ladder chunk ${chunk.index} (${chunk.startSeconds.toFixed(3)} s +${chunk.seconds.toFixed(1)} s) failed ` +
              `on its transcoder after ${attempts} attempt${attempts === 1 ? "" : "s"}: ${(err as Error).message}`,
          );
        }
        o.log?.warn("ladder_chunk.retry", { chunk: chunk.index, attempt: attempts, error: err });
        await sleep((o.retryDelayMs ?? 1000) * 2 ** (attempts - 1), undefined, { signal: run.signal });
      }
    }
    const requestMs = Math.round(performance.now() - t0);
    const renditions = checkResult(chunk, o.video, result);
    const t1 = performance.now();
    const staging = path.join(o.workDir, `remote_${String(chunk.index).padStart(4, "0")}`);
    for (const r of renditions) await mkdir(path.join(staging, r.name), { recursive: true });
    const files = renditions.flatMap((r) => r.segments.map((s) => `${r.name}/${segmentName(s.number)}`));
    await mapLimit(files, FETCH_CONCURRENCY, async (rel) => {
      const tmp = path.join(staging, rel);
      const bytes = await o.client.getOutput(rel, tmp, { signal: run.signal });
      o.onStored?.(rel, bytes);
      await rename(tmp, path.join(o.outputDir, rel));
    });
    const fetchMs = Math.round(performance.now() - t1);
    run.onProgress?.({ outTimeSeconds: chunk.seconds, percent: 100, done: true });
    o.onRemote?.(chunk, result, { attempts, requestMs, fetchMs });
    o.log?.info("ladder_chunk.remote_done", {
      chunk: chunk.index,
      attempts,
      request_ms: requestMs,
      fetch_ms: fetchMs,
      encode_ms: result.encode_ms ?? null,
      upload_ms: result.upload_ms ?? null,
    });
    return renditions;
  };
}

/** The answer as the stitcher takes it, checked against the plan: every rung, the planned segment numbers. */
function checkResult(chunk: Chunk, video: LadderVideo, result: LadderChunkResult): ChunkRendition[] {
  const names = video.rungs.map((r) => r.name);
  const got = result.renditions.map((r) => r.name);
  if (got.length !== names.length || names.some((n) => !got.includes(n))) {
    throw new ChunkError(
      `ladder chunk ${chunk.index}: the transcoder answered rungs ${got.join(",")}, not ${names.join(",")}`,
    );
  }
  return result.renditions.map((r) => {
    const numbersOk = r.segments.every((s, i) => s.number === chunk.firstSegment + i);
    if (!r.segments.length || !numbersOk || (chunk.segments !== undefined && r.segments.length !== chunk.segments)) {
      throw new ChunkError(
        `ladder chunk ${chunk.index} ${r.name}: the transcoder answered segments ${r.segments.map((s) => s.number).join(",") || "none"}`,
      );
    }
    return {
      name: r.name,
      init: Buffer.from(r.init, "base64"),
      segments: r.segments.map((s) => ({ number: s.number, duration: s.duration })),
    };
  });
}
