/**
 * Typed client for the API's internal job endpoints (see src/lib/transcoder-protocol.ts). Every
 * call carries the job-scoped Bearer token. Transient failures (network errors, 408/429/5xx) are
 * retried with backoff; a dropped source download resumes with a Range request.
 */
import { createReadStream } from "node:fs";
import { open, readFile, rename, stat, writeFile } from "node:fs/promises";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type { z } from "zod";
import {
  type LadderChunkRequest,
  LadderChunkRequestSchema,
  type LadderChunkResult,
  LadderChunkResultSchema,
} from "../../src/lib/ladder-chunk-protocol.js";
import { contentTypeFor } from "../../src/lib/media-types.js";
import {
  type JobDispatch,
  type JobFailure,
  JobFailureSchema,
  type JobProgress,
  JobProgressSchema,
  type JobPublish,
  JobPublishSchema,
  type MultipartComplete,
  MultipartCompletedSchema,
  MultipartCompleteSchema,
  MultipartCreatedSchema,
  MultipartCreateSchema,
  MultipartPartReplySchema,
  OUTPUT_PATH_RE,
  type ProgressReply,
  ProgressReplySchema,
} from "../../src/lib/transcoder-protocol.js";

/** A failed call to the API. `status` is absent when no HTTP response arrived. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    message: string,
    readonly endpoint: string,
    readonly status: number | undefined,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface ApiClientOptions {
  /** Retries after the first attempt for transient failures. */
  retries?: number;
  /** First backoff delay; doubles per retry, with jitter. */
  retryDelayMs?: number;
  /** Per-request timeout for small JSON calls (not for streaming bodies). */
  requestTimeoutMs?: number;
  /** A source download may be resumed this many times in total when it keeps making progress. */
  maxResumes?: number;
  /** Abort and resume a source download that delivers no bytes for this long. */
  idleTimeoutMs?: number;
  /** Give up on (and retry) one output PUT after this long. */
  uploadTimeoutMs?: number;
  /**
   * Files larger than this go through a multipart upload (a Worker request body is capped at ~100 MB
   * in production). Default: KEYFRAME_MULTIPART_THRESHOLD_BYTES, else 64 MiB.
   */
  multipartThresholdBytes?: number;
  /** Parts of one multipart upload in flight at once (each is one part-size slice of the file). */
  multipartConcurrency?: number;
}

export const DEFAULT_MULTIPART_THRESHOLD_BYTES = 64 * 1024 * 1024;

function envThreshold(): number | undefined {
  const raw = process.env.KEYFRAME_MULTIPART_THRESHOLD_BYTES;
  const n = raw ? Number(raw) : Number.NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** An output path as URL path segments. */
function encodeOutputPath(relPath: string): string {
  return relPath.split("/").map(encodeURIComponent).join("/");
}

/** An abort signal that fires when `arm()` has not been called for `ms`. */
class IdleTimer {
  private controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly ms: number,
    private readonly reason: () => Error,
  ) {}
  arm(): void {
    if (this.controller.signal.aborted) this.controller = new AbortController();
    clearTimeout(this.timer);
    const controller = this.controller;
    this.timer = setTimeout(() => controller.abort(this.reason()), this.ms);
  }
  signal(outer?: AbortSignal): AbortSignal {
    return outer ? AbortSignal.any([outer, this.controller.signal]) : this.controller.signal;
  }
  clear(): void {
    clearTimeout(this.timer);
  }
}

export type ClientJob = Pick<JobDispatch, "job_id" | "attempt" | "api_url" | "token">;

function isTransientStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

function isAbort(err: unknown, signal: AbortSignal | undefined): boolean {
  return !!signal?.aborted || (err instanceof Error && err.name === "AbortError");
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : "";
    return `${err.message}${cause}`;
  }
  return String(err);
}

/** Parses `Content-Range: bytes start-end/total`. */
function parseContentRange(header: string | null): { start: number; total?: number } | undefined {
  const m = header ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header.trim()) : null;
  if (!m) return undefined;
  return { start: Number(m[1]), total: m[3] === "*" ? undefined : Number(m[3]) };
}

/** Outputs up to this size are read into memory and sent as one body (a 6 s 1080p segment is ~4 MB). */
const WHOLE_BODY_MAX_BYTES = 16 * 1024 * 1024;

export class ApiClient {
  private readonly base: URL;
  private readonly retries: number;
  private readonly retryDelayMs: number;
  private readonly requestTimeoutMs: number;
  private readonly maxResumes: number;
  private readonly idleTimeoutMs: number;
  private readonly uploadTimeoutMs: number;
  private readonly multipartThresholdBytes: number;
  private readonly multipartConcurrency: number;

  constructor(
    private readonly job: ClientJob,
    options: ApiClientOptions = {},
  ) {
    this.base = new URL(job.api_url.endsWith("/") ? job.api_url : `${job.api_url}/`);
    this.retries = options.retries ?? 4;
    this.retryDelayMs = options.retryDelayMs ?? 500;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.maxResumes = options.maxResumes ?? 20;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    this.uploadTimeoutMs = options.uploadTimeoutMs ?? 10 * 60_000;
    this.multipartThresholdBytes =
      options.multipartThresholdBytes ?? envThreshold() ?? DEFAULT_MULTIPART_THRESHOLD_BYTES;
    this.multipartConcurrency = Math.max(1, options.multipartConcurrency ?? 2);
  }

  private url(suffix: string): URL {
    return new URL(`internal/jobs/${encodeURIComponent(this.job.job_id)}/${suffix}`, this.base);
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.job.token}`, ...extra };
  }

  private async backoff(attempt: number, signal?: AbortSignal): Promise<void> {
    const delay = this.retryDelayMs * 2 ** attempt * (0.75 + Math.random() * 0.5);
    await sleep(delay, undefined, { signal });
  }

  /** Runs `once` until it succeeds, fails permanently, or runs out of retries. */
  private async withRetries<T>(endpoint: string, signal: AbortSignal | undefined, once: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await once();
      } catch (err) {
        if (isAbort(err, signal)) throw signal?.reason ?? err;
        const apiErr =
          err instanceof ApiError
            ? err
            : new ApiError(`${endpoint}: ${describe(err)}`, endpoint, undefined, true, { cause: err });
        if (!apiErr.retryable || attempt >= this.retries) throw apiErr;
        await this.backoff(attempt, signal);
      }
    }
  }

  private async check(res: Response, endpoint: string): Promise<Response> {
    if (res.ok) return res;
    const body = await res.text().catch(() => "");
    throw new ApiError(
      `${endpoint}: HTTP ${res.status}${body ? ` ${body.slice(0, 300)}` : ""}`,
      endpoint,
      res.status,
      isTransientStatus(res.status),
    );
  }

  /**
   * POSTs a validated JSON body with retries. `path` is the URL suffix when it differs from the endpoint
   * name (encoded output paths); `timeoutMs` bounds each attempt (default: the request timeout).
   */
  private async postJson<S extends z.ZodType>(
    endpoint: string,
    schema: S,
    body: z.input<S>,
    signal?: AbortSignal,
    opts: { path?: string; timeoutMs?: number } = {},
  ): Promise<unknown> {
    // Validate our own output before it leaves: a contract bug should fail here, loudly.
    const payload = JSON.stringify(schema.parse(body));
    return this.withRetries(endpoint, signal, async () => {
      const timeout = AbortSignal.timeout(opts.timeoutMs ?? this.requestTimeoutMs);
      const res = await fetch(this.url(opts.path ?? endpoint), {
        method: "POST",
        headers: this.headers({ "content-type": "application/json" }),
        body: payload,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      await this.check(res, endpoint);
      const text = await res.text();
      return text ? JSON.parse(text) : {};
    });
  }

  /**
   * The first `length` bytes of the source and its total size (one ranged GET), so the runner can read a
   * container's index before the rest of the source has arrived.
   */
  async readSourceHead(
    length: number,
    options: { signal?: AbortSignal } = {},
  ): Promise<{ bytes: Buffer; total: number }> {
    const endpoint = "source";
    return this.withRetries(endpoint, options.signal, async () => {
      const res = await fetch(this.url(endpoint), {
        headers: this.headers({ range: `bytes=0-${length - 1}` }),
        signal: options.signal,
      });
      await this.check(res, endpoint);
      const bytes = Buffer.from(await res.arrayBuffer());
      const total = res.status === 206 ? parseContentRange(res.headers.get("content-range"))?.total : bytes.length;
      if (total === undefined) throw new ApiError(`${endpoint}: no total size in Content-Range`, endpoint, 206, false);
      return { bytes: bytes.subarray(0, length), total };
    });
  }

  /**
   * Streams the source into `dest`. Resumes with `Range: bytes=N-` when the connection drops
   * mid-body; starts over if the server ignores the range. Returns the bytes written. `head` is the
   * source's first bytes, already read (readSourceHead): written first, and not asked for again.
   */
  async downloadSource(
    dest: string,
    options: {
      signal?: AbortSignal;
      onProgress?: (bytes: number, total: number | undefined) => void;
      head?: { bytes: Uint8Array; total: number };
      /** Awaited before each chunk past the head is read (`bytes` so far): a bulk download yields here. */
      pace?: (bytes: number) => Promise<unknown> | undefined;
    } = {},
  ): Promise<{ bytes: number; contentType?: string }> {
    const { signal, head } = options;
    const endpoint = "source";
    const file = await open(dest, "w");
    let written = 0;
    let total: number | undefined;
    if (head && head.bytes.length > 0) {
      try {
        await file.write(head.bytes, 0, head.bytes.length, 0);
      } catch (err) {
        await file.close();
        throw err;
      }
      written = head.bytes.length;
      total = head.total;
      options.onProgress?.(written, total);
      if (written >= head.total) {
        await file.close();
        return { bytes: written };
      }
    }
    let contentType: string | undefined;
    let failures = 0;
    let resumes = 0;
    const idle = new IdleTimer(
      this.idleTimeoutMs,
      () => new ApiError(`${endpoint}: no data for ${this.idleTimeoutMs} ms`, endpoint, undefined, true),
    );
    try {
      for (;;) {
        const before = written;
        try {
          const headers = this.headers(written > 0 ? { range: `bytes=${written}-` } : {});
          // A connection that stays silent is as dead as a dropped one: abort it and resume.
          idle.arm();
          const res = await fetch(this.url(endpoint), { headers, signal: idle.signal(signal) });
          if (res.status === 416 && total !== undefined && written >= total) {
            await res.body?.cancel();
            break;
          }
          await this.check(res, endpoint);
          contentType ??= res.headers.get("content-type") ?? undefined;
          if (res.status === 206) {
            const range = parseContentRange(res.headers.get("content-range"));
            if (!range || range.start !== written)
              throw new ApiError(`${endpoint}: unexpected Content-Range`, endpoint, 206, true);
            total = range.total ?? total;
          } else {
            // A full response: (re)start from byte 0.
            if (written > 0) await file.truncate(0);
            written = 0;
            const length = res.headers.get("content-length");
            total = length !== null ? Number(length) : undefined;
          }
          if (!res.body) throw new ApiError(`${endpoint}: empty response body`, endpoint, res.status, true);
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
            idle.arm();
            await file.write(chunk, 0, chunk.length, written);
            written += chunk.length;
            options.onProgress?.(written, total);
            const paced = options.pace?.(written);
            if (paced) {
              // Not reading is backpressure on the connection, not silence: the idle timer waits too.
              idle.clear();
              await paced;
              idle.arm();
            }
          }
          if (total !== undefined && written < total) {
            throw new ApiError(`${endpoint}: body ended at ${written} of ${total} bytes`, endpoint, res.status, true);
          }
          break;
        } catch (err) {
          if (isAbort(err, signal)) throw signal?.reason ?? err;
          const apiErr =
            err instanceof ApiError
              ? err
              : new ApiError(`${endpoint}: ${describe(err)}`, endpoint, undefined, true, { cause: err });
          if (!apiErr.retryable) throw apiErr;
          // A drop after progress is a resume, not a failure; it has its own, larger budget.
          if (written > before && resumes < this.maxResumes) {
            resumes++;
            continue;
          }
          if (failures >= this.retries) throw apiErr;
          await this.backoff(failures++, signal);
        }
      }
      // No fsync: the file is this attempt's scratch copy (a process that dies takes the job with it, and a
      // retry downloads again), and ffmpeg reads it through the same page cache. It cost 25–45 ms per 41.7 MB
      // here, on the ladder's critical path.
    } finally {
      idle.clear();
      await file.close();
    }
    return { bytes: written, contentType };
  }

  private uploadSignal(signal: AbortSignal | undefined): AbortSignal {
    const timeout = AbortSignal.timeout(this.uploadTimeoutMs);
    return signal ? AbortSignal.any([signal, timeout]) : timeout;
  }

  /**
   * Writes one output file (path relative to the run prefix); returns its size. Up to the multipart
   * threshold it is one PUT with a known Content-Length, above it a multipart upload.
   */
  async putOutput(
    relPath: string,
    file: string,
    options: { signal?: AbortSignal; contentType?: string } = {},
  ): Promise<number> {
    if (!OUTPUT_PATH_RE.test(relPath)) throw new Error(`invalid output path: ${relPath}`);
    const { size } = await stat(file);
    if (size > this.multipartThresholdBytes) return this.putOutputMultipart(relPath, file, size, options);
    const endpoint = `outputs/${relPath}`;
    const encoded = encodeOutputPath(relPath);
    // A segment-sized file is read whole, once: a Buffer body costs undici far less CPU than a Node stream
    // wrapped as a web stream, and the CPU is the ladder's (it shares the machine). Larger ones stream.
    const whole = size <= WHOLE_BODY_MAX_BYTES ? await readFile(file) : undefined;
    if (whole && whole.length !== size) throw new Error(`${relPath} changed while it was read`);
    await this.withRetries(endpoint, options.signal, async () => {
      const res = await fetch(this.url(`outputs/${encoded}`), {
        method: "PUT",
        headers: this.headers({
          "content-type": options.contentType ?? contentTypeFor(relPath),
          "content-length": String(size),
        }),
        // A larger file gets a fresh stream per attempt; undici enforces that either matches Content-Length.
        body: whole ?? (Readable.toWeb(createReadStream(file)) as unknown as ReadableStream<Uint8Array>),
        duplex: "half",
        signal: this.uploadSignal(options.signal),
      } as RequestInit);
      await this.check(res, endpoint);
      await res.body?.cancel();
    });
    return size;
  }

  /**
   * A multipart upload: create (the API fixes the part size), then the parts as part-size slices read
   * from disk, at most `multipartConcurrency` in flight, each retried like a single PUT; then complete.
   * On a final failure the upload is aborted (best effort) so no parts linger, and the error is thrown.
   */
  private async putOutputMultipart(
    relPath: string,
    file: string,
    size: number,
    options: { signal?: AbortSignal },
  ): Promise<number> {
    const endpoint = `outputs-multipart/${relPath}`;
    const encoded = `outputs-multipart/${encodeOutputPath(relPath)}`;
    const upload = { timeoutMs: this.uploadTimeoutMs };
    const created = MultipartCreatedSchema.parse(
      await this.postJson(endpoint, MultipartCreateSchema, { attempt: this.job.attempt, size }, options.signal, {
        ...upload,
        path: encoded,
      }),
    );
    const uploadQuery = `upload_id=${encodeURIComponent(created.upload_id)}`;
    const stop = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
    const etags: MultipartComplete["parts"] = [];
    try {
      let next = 1;
      const worker = async () => {
        while (!signal.aborted && next <= created.part_count) {
          const part = next++;
          const start = (part - 1) * created.part_size;
          const length = Math.min(created.part_size, size - start);
          const partEndpoint = `${endpoint} part ${part}/${created.part_count}`;
          const reply = await this.withRetries(partEndpoint, signal, async () => {
            const res = await fetch(this.url(`${encoded}?${uploadQuery}&part=${part}`), {
              method: "PUT",
              headers: this.headers({ "content-length": String(length) }),
              // Only this slice is read, freshly per attempt: memory stays bounded by the stream buffers.
              body: Readable.toWeb(
                createReadStream(file, { start, end: start + length - 1 }),
              ) as unknown as ReadableStream<Uint8Array>,
              duplex: "half",
              signal: this.uploadSignal(signal),
            } as RequestInit);
            await this.check(res, partEndpoint);
            return MultipartPartReplySchema.parse(await res.json());
          });
          etags.push({ part, etag: reply.etag });
        }
      };
      const workers = Array.from({ length: Math.min(this.multipartConcurrency, created.part_count) }, () =>
        worker().catch((err) => {
          // First failure stops the other workers from starting (and finishing) more parts.
          stop.abort(err);
          throw err;
        }),
      );
      const settled = await Promise.allSettled(workers);
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw stop.signal.reason ?? failed.reason;
      if (options.signal?.aborted) throw options.signal.reason;
      const done = MultipartCompletedSchema.parse(
        await this.postJson(
          `${endpoint}/complete`,
          MultipartCompleteSchema,
          { attempt: this.job.attempt, upload_id: created.upload_id, parts: etags.sort((a, b) => a.part - b.part) },
          options.signal,
          { ...upload, path: `${encoded}/complete` },
        ),
      );
      if (done.size !== size) {
        throw new ApiError(`${endpoint}: stored ${done.size} bytes of ${size}`, endpoint, undefined, false);
      }
      return size;
    } catch (err) {
      await fetch(this.url(`${encoded}?${uploadQuery}`), {
        method: "DELETE",
        headers: this.headers(),
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      })
        .then((res) => res.body?.cancel())
        .catch(() => undefined);
      throw err;
    }
  }

  /** Reports progress (the heartbeat). `cancel: true` in the reply means stop working on this job. */
  async progress(
    progress: Omit<JobProgress, "attempt">,
    options: { signal?: AbortSignal } = {},
  ): Promise<ProgressReply> {
    const body: JobProgress = { attempt: this.job.attempt, ...progress };
    const reply = await this.postJson("progress", JobProgressSchema, body, options.signal);
    return ProgressReplySchema.parse(reply);
  }

  async publish(publish: Omit<JobPublish, "attempt">, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.postJson("publish", JobPublishSchema, { attempt: this.job.attempt, ...publish }, options.signal);
  }

  async fail(failure: Omit<JobFailure, "attempt">, options: { signal?: AbortSignal } = {}): Promise<void> {
    const message = failure.message.length > 2000 ? `${failure.message.slice(0, 1997)}...` : failure.message;
    await this.postJson("fail", JobFailureSchema, { attempt: this.job.attempt, ...failure, message }, options.signal);
  }

  /**
   * The source's URL and the headers that read it: what ffmpeg opens when it reads the source itself
   * by HTTP (a remote ladder chunk seeks into it with Range requests instead of downloading it).
   */
  sourceRequest(): { url: string; headers: Record<string, string> } {
    return { url: this.url("source").href, headers: this.headers() };
  }

  /**
   * One remote ladder chunk (src/lib/ladder-chunk-protocol.ts), one attempt: the caller decides what to
   * retry (ladder-chunks/remote.ts). Resolves to the instance's answer; an ApiError carries its status.
   */
  async ladderChunk(
    request: Omit<LadderChunkRequest, "attempt">,
    options: { signal?: AbortSignal; timeoutMs: number },
  ): Promise<LadderChunkResult> {
    const endpoint = `ladder-chunks/${request.chunk.index}`;
    const body = JSON.stringify(LadderChunkRequestSchema.parse({ attempt: this.job.attempt, ...request }));
    const timeout = AbortSignal.timeout(options.timeoutMs);
    let res: Response;
    try {
      res = await fetch(this.url(endpoint), {
        method: "POST",
        headers: this.headers({ "content-type": "application/json" }),
        body,
        signal: options.signal ? AbortSignal.any([options.signal, timeout]) : timeout,
      });
    } catch (err) {
      if (isAbort(err, options.signal)) throw options.signal?.reason ?? err;
      const why = timeout.aborted ? `no answer within ${options.timeoutMs} ms` : describe(err);
      throw new ApiError(`${endpoint}: ${why}`, endpoint, undefined, true, { cause: err });
    }
    await this.check(res, endpoint);
    const parsed = LadderChunkResultSchema.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success)
      throw new ApiError(`${endpoint}: the answer is not a chunk result`, endpoint, res.status, false);
    return parsed.data;
  }

  /** Reads one of this run's outputs back into `dest` (written to a temp name, then renamed); returns its size. */
  async getOutput(relPath: string, dest: string, options: { signal?: AbortSignal } = {}): Promise<number> {
    if (!OUTPUT_PATH_RE.test(relPath)) throw new Error(`invalid output path: ${relPath}`);
    const endpoint = `outputs/${relPath}`;
    return this.withRetries(endpoint, options.signal, async () => {
      const res = await fetch(this.url(`outputs/${encodeOutputPath(relPath)}`), {
        headers: this.headers(),
        signal: this.uploadSignal(options.signal),
      });
      await this.check(res, endpoint);
      const bytes = Buffer.from(await res.arrayBuffer());
      await writeFile(`${dest}.tmp`, bytes);
      await rename(`${dest}.tmp`, dest);
      return bytes.length;
    });
  }

  /**
   * A dubbed audio track's outcome (src/lib/audio-tracks.ts): `POST tracks/{track_id}/ready|fail`, with the
   * track-scoped token this client was built with.
   */
  async trackOutcome<S extends z.ZodType>(
    trackId: string,
    outcome: "ready" | "fail",
    schema: S,
    body: z.input<S>,
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    await this.postJson(`tracks/${outcome}`, schema, body, options.signal, {
      path: `tracks/${encodeURIComponent(trackId)}/${outcome}`,
    });
  }
}
