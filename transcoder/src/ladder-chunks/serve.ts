/**
 * `POST /ladder-chunks`: this instance encodes one chunk of another instance's ladder
 * (src/lib/ladder-chunk-protocol.ts). ffmpeg reads the source straight from the API by HTTP (an input
 * seek: ranged reads from about the chunk's start, not the whole file), the segments are shifted onto
 * the whole timeline like a local chunk's (placeChunk), PUT to the job's outputs under their global
 * names (so a retried chunk overwrites the same keys) and the answer lists them with each rung's init.
 *
 * Bounded: the whole chunk by KEYFRAME_LADDER_CHUNK_TIMEOUT_MS (default 20 min), ffmpeg by a stall
 * timeout and ffmpeg's own read timeout on the source; everything stops when the caller goes away (the
 * coordinator aborted, or the API's forward timed out). Errors answer problem+json: 5xx when trying again
 * may help (ffmpeg failed, the API was unreachable), 4xx when it cannot (the chunk's output does not
 * match its plan, the job is gone).
 */
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { LadderChunkDispatchSchema, type LadderChunkResult } from "../../../src/lib/ladder-chunk-protocol.js";
import { ApiClient, ApiError } from "../api-client.js";
import { createLane, mapLimit } from "../concurrency.js";
import { getBinaries } from "../ffmpeg/binaries.js";
import { FfmpegError } from "../ffmpeg/errors.js";
import { networkInputArgs } from "../ffmpeg/thumbnail.js";
import { bodyIssues, json, type ProblemCode, problem, readJsonBody } from "../http/problem.js";
import type { Handler } from "../http/routes.js";
import type { Logger } from "../log.js";
import { ChunkError, encodeChunkLocally, segmentName } from "./encode.js";
import { Fmp4Error } from "./fmp4.js";
import { placeChunk } from "./stitch.js";
import { chunkFromWire, videoFromWire } from "./wire.js";

export const DEFAULT_CHUNK_TIMEOUT_MS = 20 * 60_000;
/** ffmpeg writes a segment every 6 s of output; a minute without one is a stuck read or encoder. */
const STALL_TIMEOUT_MS = 120_000;
const UPLOAD_CONCURRENCY = 4;

export interface LadderChunkServiceOptions {
  log: Logger;
  closing: () => boolean;
  timeoutMs?: number;
  /** Where chunk folders go (default: the OS temp folder). */
  tmpDir?: string;
  /** Chunks encoded at once here; more wait their turn (default KEYFRAME_LADDER_CHUNK_SLOTS or 2). */
  slots?: number;
}

export interface LadderChunkService {
  handle: Handler;
  stats(): { running: number; waiting: number; done: number; failed: number };
  abortAll(): void;
  idle(): Promise<void>;
}

export function chunkTimeoutMs(env: Record<string, string | undefined> = process.env): number {
  const n = Number(env.KEYFRAME_LADDER_CHUNK_TIMEOUT_MS);
  return Number.isFinite(n) && n > 0 ? n : DEFAULT_CHUNK_TIMEOUT_MS;
}

export function createLadderChunkService(options: LadderChunkServiceOptions): LadderChunkService {
  const running = new Map<string, { abort: AbortController; done: Promise<void> }>();
  const counts = { done: 0, failed: 0 };
  const timeoutMs = options.timeoutMs ?? chunkTimeoutMs();
  // In production each chunk has an instance of its own; locally (and for a retry landing on an instance
  // still busy with the first attempt) requests share one process, so they queue instead of all encoding at once.
  const lane = createLane(
    Math.max(1, Math.floor(options.slots ?? (Number(process.env.KEYFRAME_LADDER_CHUNK_SLOTS) || 2))),
  );

  const handle: Handler = async (req, res, { requestId, bodySha256 }) => {
    const body = await readJsonBody(req, res, requestId, bodySha256);
    if (!body) return;
    const parsed = LadderChunkDispatchSchema.safeParse(body.value);
    if (!parsed.success) {
      const errors = bodyIssues(parsed.error.issues);
      return problem(res, requestId, 400, "validation_failed", "the body is not a valid ladder chunk", errors);
    }
    if (options.closing()) {
      res.setHeader("retry-after", "5");
      return problem(res, requestId, 503, "service_unavailable", "this transcoder is stopping");
    }
    const d = parsed.data;
    const abort = new AbortController();
    // The caller left (the coordinator aborted, or the API's forward gave up): stop at once.
    res.on("close", () => {
      if (!res.writableFinished) abort.abort(new Error("the caller went away"));
    });
    const signal = AbortSignal.any([abort.signal, AbortSignal.timeout(timeoutMs)]);
    const log = options.log.child({ job_id: d.job_id, chunk: d.chunk.index, request_id: requestId });
    const work = (async () => {
      const release = await lane.acquire(signal);
      try {
        return await encodeRemoteChunk(d, signal, log, options.tmpDir);
      } finally {
        release();
      }
    })();
    const key = `${d.job_id}:${d.chunk.index}:${requestId}`;
    const done = work.then(
      () => undefined,
      () => undefined,
    );
    running.set(key, { abort, done });
    try {
      const result = await work;
      counts.done++;
      return json(res, requestId, 200, result);
    } catch (err) {
      counts.failed++;
      if (abort.signal.aborted || res.destroyed) {
        log.warn("ladder_chunk.abandoned", { error: err });
        if (!res.destroyed) res.destroy();
        return;
      }
      const answer = describeChunkFailure(err, signal, timeoutMs);
      log.error("ladder_chunk.failed", { error: err, status: answer.status, code: answer.code });
      return problem(res, requestId, answer.status, answer.code, answer.detail);
    } finally {
      running.delete(key);
    }
  };

  return {
    handle,
    stats: () => ({ running: running.size, waiting: lane.stats().waiting, ...counts }),
    abortAll() {
      for (const r of running.values()) r.abort.abort(new Error("the transcoder is stopping"));
    },
    async idle() {
      await Promise.all([...running.values()].map((r) => r.done));
    },
  };
}

/** What a failed chunk answers: retryable (5xx) or not (4xx), and a message the job's failure can carry. */
export function describeChunkFailure(
  err: unknown,
  signal: AbortSignal,
  timeoutMs: number,
): { status: number; code: ProblemCode; detail: string } {
  const message = err instanceof Error ? err.message : String(err);
  if (signal.aborted) {
    return { status: 504, code: "chunk_timeout", detail: `the chunk did not finish within ${timeoutMs} ms` };
  }
  if (err instanceof ChunkError || err instanceof Fmp4Error) {
    return { status: 422, code: "chunk_mismatch", detail: message };
  }
  if (err instanceof ApiError) {
    // The job was superseded, cancelled or deleted: nothing a retry would change.
    if (err.status !== undefined && !err.retryable) {
      return { status: 409, code: "chunk_refused", detail: `the API refused the chunk's output: ${message}` };
    }
    return { status: 503, code: "api_unavailable", detail: `writing the chunk's output failed: ${message}` };
  }
  if (err instanceof FfmpegError) {
    const tail = err.details.stderr.trim().split("\n").slice(-3).join(" | ");
    return { status: 500, code: "chunk_encode_failed", detail: `ffmpeg failed: ${message}${tail ? ` (${tail})` : ""}` };
  }
  return { status: 500, code: "chunk_failed", detail: message };
}

async function encodeRemoteChunk(
  d: ReturnType<typeof LadderChunkDispatchSchema.parse>,
  signal: AbortSignal,
  log: Logger,
  tmpDir = os.tmpdir(),
): Promise<LadderChunkResult> {
  const chunk = chunkFromWire(d.chunk);
  const video = videoFromWire(d.video);
  const client = new ApiClient({ job_id: d.job_id, attempt: d.attempt, api_url: d.api_url, token: d.token });
  const source = client.sourceRequest();
  const dir = await mkdtemp(path.join(tmpDir, `keyframe-chunk-${randomUUID().slice(0, 8)}-`));
  try {
    const t0 = performance.now();
    const { ffmpeg } = await getBinaries();
    const encodeDir = path.join(dir, "encode");
    const outDir = path.join(dir, "out");
    const renditions = await encodeChunkLocally(
      video,
      source.url,
      chunk,
      encodeDir,
      { signal, ffmpegPath: ffmpeg, stallTimeoutMs: STALL_TIMEOUT_MS, durationSeconds: chunk.seconds },
      networkInputArgs(source.url, source.headers),
    );
    for (const r of renditions) await mkdir(path.join(outDir, r.name), { recursive: true });
    await placeChunk(chunk, renditions, video.frameRate, encodeDir, outDir);
    const encodeMs = Math.round(performance.now() - t0);
    const t1 = performance.now();
    const files = renditions.flatMap((r) => r.segments.map((s) => `${r.name}/${segmentName(s.number)}`));
    const sizes = new Map<string, number>();
    await mapLimit(files, UPLOAD_CONCURRENCY, async (rel) => {
      sizes.set(rel, await client.putOutput(rel, path.join(outDir, rel), { signal }));
    });
    const uploadMs = Math.round(performance.now() - t1);
    log.info("ladder_chunk.done", { segments: files.length, encode_ms: encodeMs, upload_ms: uploadMs });
    // Every segment was just PUT, and putOutput answered its size.
    return {
      renditions: renditions.map((r) => ({
        name: r.name,
        init: r.init.toString("base64"),
        segments: r.segments.map((s) => ({
          number: s.number,
          duration: s.duration,
          bytes: sizes.get(`${r.name}/${segmentName(s.number)}`) ?? 0,
        })),
      })),
      encode_ms: encodeMs,
      upload_ms: uploadMs,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
