/**
 * The transcoder's HTTP face: `POST /jobs` accepts a JobDispatch and answers 202 at once; jobs run
 * in the background in two lanes: up to TRANSCODER_FAST_CONCURRENCY (2) jobs at a time do their
 * download, probe and fast path (the rest queued in memory), and up to TRANSCODER_CONCURRENCY (1) ladders
 * encode at once; a job waiting for a ladder slot has left the fast lane, so the next upload's fast path
 * never waits behind a ladder.
 * `POST /thumbnails` renders one thumbnail synchronously and answers image/jpeg (./thumbnails.ts
 * bounds how many run). `GET /health` reports the ffmpeg in use and the load. Every other request must be
 * signed by the API (src/lib/transcoder-auth.ts, key TRANSCODER_AUTH_SECRET); the signature is checked
 * from the headers before the body is read, else 401. SIGTERM stops intake, gives running jobs
 * a grace period, then aborts them (they report a retryable failure so the API re-dispatches).
 *
 * Run directly (`tsx transcoder/src/server.ts`) it listens on KEYFRAME_TRANSCODER_HOST
 * (default 127.0.0.1; 0.0.0.0 in the container) and KEYFRAME_TRANSCODER_PORT (default 8790).
 */
import { randomUUID } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { PROBLEM_CONTENT_TYPE, problemDocument } from "../../src/lib/problem.js";
import { bodyMatches } from "../../src/lib/signed-requests.js";
import { THUMBNAIL_HEADER, THUMBNAIL_TIME_HEADER, TranscoderThumbnailRequestSchema } from "../../src/lib/thumbnails.js";
import { TRANSCODER_AUTH_SECRET_ENV, transcoderSigner } from "../../src/lib/transcoder-auth.js";
import { type JobDispatch, JobDispatchSchema } from "../../src/lib/transcoder-protocol.js";
import { ApiClient } from "./api-client.js";
import { createLane } from "./concurrency.js";
import { getBinaries } from "./ffmpeg/binaries.js";
import { FfmpegError } from "./ffmpeg/errors.js";
import { NoVideoError, SourceUnavailableError } from "./ffmpeg/thumbnail.js";
import { createLogger, type Logger } from "./log.js";
import { type JobOutcome, type RunJobOptions, runJob, ShutdownError } from "./runner.js";
import { handleSimulcast } from "./simulcast/routes.js";
import { SimulcastSupervisor } from "./simulcast/supervisor.js";
import {
  createThumbnailService,
  ThumbnailAbandonedError,
  ThumbnailBusyError,
  type ThumbnailServiceOptions,
} from "./thumbnails.js";

export const MAX_BODY_BYTES = 64 * 1024;

export type JobRunner = (dispatch: JobDispatch, options: RunJobOptions) => Promise<JobOutcome | unknown>;

export interface ServerOptions {
  port?: number;
  host?: string;
  /** Jobs in their fast phase (download, probe, remux) at once; more are queued. Default TRANSCODER_FAST_CONCURRENCY or 2. */
  concurrency?: number;
  /** Ladder encodes at once; other jobs' ladders wait. Default TRANSCODER_CONCURRENCY or 1. */
  ladderConcurrency?: number;
  /** How long close() lets running jobs finish before aborting them. */
  shutdownGraceMs?: number;
  logger?: Logger;
  /** Replaces the real runner (tests). */
  runJob?: JobRunner;
  /** Passed to every runJob call. */
  jobOptions?: Omit<RunJobOptions, "signal" | "logger">;
  /**
   * A folder where each accepted job is written down until it ends (default KEYFRAME_TRANSCODER_JOURNAL_DIR;
   * none when unset). A process that died mid-job leaves its entries behind; the next start reports each
   * as a retryable failure, so the API re-dispatches it at once instead of waiting for the heartbeat reaper.
   */
  journalDir?: string;
  /** On-demand thumbnail limits (defaults from THUMBNAIL_* environment variables). */
  thumbnails?: Omit<ThumbnailServiceOptions, "logger">;
  /** The key API requests are signed with. Default: the TRANSCODER_AUTH_SECRET environment variable. */
  authSecret?: string;
}

export interface RunningServer {
  url: string;
  server: http.Server;
  /** Stops intake, waits up to the grace period for running jobs, then aborts them. */
  close(options?: { graceMs?: number }): Promise<void>;
}

interface QueuedJob {
  key: string;
  dispatch: JobDispatch;
  controller: AbortController;
}

/**
 * RFC 9457 bodies in the same shape and vocabulary as the API's (src/lib/errors.ts), written
 * out here so the container image does not need the API's web framework.
 */
const PROBLEM_TITLES = {
  unauthenticated: "Authentication required",
  malformed_json: "Malformed JSON body",
  validation_failed: "Request validation failed",
  not_found: "Not found",
  method_not_allowed: "Method not allowed",
  payload_too_large: "Payload too large",
  internal_error: "Internal error",
  service_unavailable: "Service unavailable",
  no_video: "The source has no video",
  source_unavailable: "The source could not be read",
  render_failed: "The thumbnail could not be rendered",
  render_timeout: "The thumbnail render timed out",
} as const;
type ProblemCode = keyof typeof PROBLEM_TITLES;

function problem(
  res: http.ServerResponse,
  requestId: string,
  status: number,
  code: ProblemCode,
  detail: string,
  errors: { location: string; message: string }[] = [],
): void {
  const body = problemDocument(code, status, PROBLEM_TITLES[code], detail, requestId, errors);
  res.writeHead(status, { "content-type": PROBLEM_CONTENT_TYPE, "x-request-id": requestId });
  res.end(JSON.stringify(body));
}

function json(res: http.ServerResponse, requestId: string, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json", "x-request-id": requestId });
  res.end(JSON.stringify(body));
}

class TooLargeError extends Error {}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? Number.NaN);
    if (Number.isFinite(declared) && declared > limit) {
      // Drain what the client sends so it reads our 413 instead of a reset connection.
      req.resume();
      return reject(new TooLargeError());
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(new TooLargeError());
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on("error", (err) => {
      if (!failed) reject(err);
    });
  });
}

function journalFile(dir: string, key: string): string {
  return path.join(dir, `${encodeURIComponent(key)}.json`);
}

async function rememberJob(dir: string, key: string, dispatch: JobDispatch): Promise<void> {
  await mkdir(dir, { recursive: true });
  const file = journalFile(dir, key);
  await writeFile(`${file}.tmp`, JSON.stringify(dispatch), { mode: 0o600 });
  await rename(`${file}.tmp`, file);
}

async function forgetJob(dir: string, key: string): Promise<void> {
  await rm(journalFile(dir, key), { force: true });
}

/**
 * Jobs a previous process accepted and never finished (it was killed): each is failed as retryable under
 * its own attempt, which the API turns into a new attempt right away. A job that did finish, or that the
 * API already moved on from, answers with an error that is only logged (the attempt check fences it off).
 */
async function recoverJournal(dir: string, log: Logger): Promise<void> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith(".json"));
  } catch {
    return;
  }
  await Promise.all(
    names.map(async (name) => {
      const file = path.join(dir, name);
      try {
        const parsed = JobDispatchSchema.safeParse(JSON.parse(await readFile(file, "utf8")));
        if (!parsed.success) return;
        const dispatch = parsed.data;
        log.warn("job.orphaned", { job_id: dispatch.job_id, attempt: dispatch.attempt });
        await new ApiClient(dispatch, { retries: 2, retryDelayMs: 500 }).fail({
          code: "internal_error",
          retryable: true,
          message: "the transcoder restarted while running this job",
        });
      } catch (err) {
        log.warn("job.orphan_report_failed", { file: name, error: err });
      } finally {
        await rm(file, { force: true });
      }
    }),
  );
}

/** zod issues as problem `errors[]`, located in the request body. */
function bodyIssues(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>) {
  return issues.map((i) => ({ location: ["body", ...i.path.map(String)].join("."), message: i.message }));
}

export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const log = options.logger ?? createLogger({ service: "transcoder" });
  const concurrency = Math.max(1, options.concurrency ?? (Number(process.env.TRANSCODER_FAST_CONCURRENCY) || 2));
  const ladderLane = createLane(
    Math.max(1, options.ladderConcurrency ?? (Number(process.env.TRANSCODER_CONCURRENCY) || 1)),
  );
  const runner: JobRunner = options.runJob ?? runJob;
  const running = new Map<string, QueuedJob>();
  const queue: QueuedJob[] = [];
  const finished: Promise<unknown>[] = [];
  let inFastLane = 0;
  let closing = false;
  const thumbs = createThumbnailService({ ...options.thumbnails, logger: log });
  const simulcast = new SimulcastSupervisor({
    ffmpeg: async () => (await getBinaries()).ffmpeg,
    authSecret: options.authSecret ?? process.env[TRANSCODER_AUTH_SECRET_ENV] ?? "",
    log,
  });
  const journal = options.journalDir ?? process.env.KEYFRAME_TRANSCODER_JOURNAL_DIR;
  const authSecret = options.authSecret ?? process.env[TRANSCODER_AUTH_SECRET_ENV];
  if (!authSecret || authSecret.length < 16) {
    throw new Error(
      `${TRANSCODER_AUTH_SECRET_ENV} is missing or shorter than 16 characters: the API could not sign jobs`,
    );
  }

  const pump = () => {
    while (!closing && inFastLane < concurrency && queue.length > 0) {
      const job = queue.shift() as QueuedJob;
      running.set(job.key, job);
      inFastLane++;
      let leftFastLane = false;
      const leaveFastLane = () => {
        if (leftFastLane) return;
        leftFastLane = true;
        inFastLane--;
        pump();
      };
      const done = Promise.resolve()
        .then(() =>
          runner(job.dispatch, {
            ...options.jobOptions,
            signal: job.controller.signal,
            logger: log,
            ladderLane,
            onFastPhaseDone: leaveFastLane,
          }),
        )
        .catch((err) =>
          log.error("job.crashed", { job_id: job.dispatch.job_id, attempt: job.dispatch.attempt, error: err }),
        )
        .finally(async () => {
          running.delete(job.key);
          finished.splice(finished.indexOf(done), 1);
          if (journal) await forgetJob(journal, job.key);
          leaveFastLane();
        });
      finished.push(done);
    }
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const requestId = randomUUID();
    const url = new URL(req.url ?? "/", "http://transcoder");
    if (url.pathname === "/health" && req.method === "GET") {
      try {
        const b = await getBinaries();
        return json(res, requestId, closing ? 503 : 200, {
          ok: !closing,
          ffmpeg: { path: b.ffmpeg, source: b.ffmpegSource, version: b.version.raw },
          ffprobe: { path: b.ffprobe, source: b.ffprobeSource, version: b.ffprobeVersion.raw },
          pid: process.pid,
          running: running.size,
          queued: queue.length,
          concurrency,
          fast_lane: { running: inFastLane, concurrency },
          ladder_lane: ladderLane.stats(),
          thumbnails: thumbs.stats(),
          simulcast: simulcast.stats(),
        });
      } catch (err) {
        return json(res, requestId, 503, {
          ok: false,
          error: err instanceof Error ? err.message : String(err),
          running: running.size,
          queued: queue.length,
        });
      }
    }
    // Everything but /health comes from the API: check its signature before reading anything else.
    const auth = await transcoderSigner.verifyHeaders(authSecret, {
      method: req.method ?? "GET",
      path: url.pathname,
      header: (name) => {
        const v = req.headers[name];
        return typeof v === "string" ? v : null;
      },
    });
    if (!auth.ok) {
      log.warn("http.unauthenticated", { method: req.method, path: url.pathname, reason: auth.reason });
      res.setHeader("connection", "close");
      req.resume();
      return problem(res, requestId, 401, "unauthenticated", `requests must be signed by the API (${auth.reason})`);
    }
    const bodySha256 = auth.bodySha256;
    if (url.pathname === "/thumbnails") return handleThumbnail(req, res, requestId, bodySha256);
    if (url.pathname.startsWith("/simulcast")) {
      const read = () => readJsonBody(req, res, requestId, bodySha256);
      return handleSimulcast(simulcast, { req, res, path: url.pathname, read, requestId, problem, json });
    }
    if (url.pathname === "/jobs") {
      if (req.method !== "POST") {
        res.setHeader("allow", "POST");
        return problem(res, requestId, 405, "method_not_allowed", "use POST /jobs");
      }
      const body = await readJsonBody(req, res, requestId, bodySha256);
      if (!body) return;
      const parsed = JobDispatchSchema.safeParse(body.value);
      if (!parsed.success) {
        const errors = bodyIssues(parsed.error.issues);
        return problem(res, requestId, 400, "validation_failed", "the body is not a valid job dispatch", errors);
      }
      if (closing) {
        res.setHeader("retry-after", "5");
        return problem(res, requestId, 503, "service_unavailable", "this transcoder is stopping; dispatch elsewhere");
      }
      const dispatch = parsed.data;
      const key = `${dispatch.job_id}#${dispatch.attempt}`;
      const known = running.has(key) || queue.some((j) => j.key === key);
      if (!known) {
        if (journal) await rememberJob(journal, key, dispatch);
        queue.push({ key, dispatch, controller: new AbortController() });
        log.info("job.accepted", {
          job_id: dispatch.job_id,
          asset_id: dispatch.asset_id,
          attempt: dispatch.attempt,
          correlation_id: dispatch.correlation_id ?? null,
          queued: queue.length,
          running: running.size,
        });
        pump();
      } else {
        log.info("job.duplicate", { job_id: dispatch.job_id, attempt: dispatch.attempt });
      }
      return json(res, requestId, 202, {
        accepted: true,
        duplicate: known,
        job_id: dispatch.job_id,
        attempt: dispatch.attempt,
        state: running.has(key) ? "running" : "queued",
      });
    }
    return problem(res, requestId, 404, "not_found", `no route for ${req.method} ${url.pathname}`);
  };

  /** Reads and validates a JSON body; answers the problem itself and returns undefined when it is off. */
  const readJsonBody = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    requestId: string,
    bodySha256: string,
  ): Promise<{ value: unknown } | undefined> => {
    let raw: Buffer;
    try {
      raw = await readBody(req, MAX_BODY_BYTES);
    } catch (err) {
      if (err instanceof TooLargeError) {
        res.setHeader("connection", "close");
        problem(res, requestId, 413, "payload_too_large", `the body exceeds ${MAX_BODY_BYTES} bytes`);
        return undefined;
      }
      throw err;
    }
    if (!(await bodyMatches(bodySha256, raw))) {
      problem(res, requestId, 401, "unauthenticated", "requests must be signed by the API (body_mismatch)");
      return undefined;
    }
    try {
      return { value: JSON.parse(raw.toString("utf8")) };
    } catch {
      problem(res, requestId, 400, "malformed_json", "the body is not valid JSON", [
        { location: "body", message: "malformed JSON" },
      ]);
      return undefined;
    }
  };

  const handleThumbnail = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    requestId: string,
    bodySha256: string,
  ) => {
    if (req.method !== "POST") {
      res.setHeader("allow", "POST");
      return problem(res, requestId, 405, "method_not_allowed", "use POST /thumbnails");
    }
    const body = await readJsonBody(req, res, requestId, bodySha256);
    if (!body) return;
    const parsed = TranscoderThumbnailRequestSchema.safeParse(body.value);
    if (!parsed.success) {
      const errors = bodyIssues(parsed.error.issues);
      return problem(res, requestId, 400, "validation_failed", "the body is not a valid thumbnail request", errors);
    }
    if (closing) {
      res.setHeader("retry-after", "5");
      return problem(res, requestId, 503, "service_unavailable", "this transcoder is stopping");
    }
    // The API gave up (its timeout, or its own caller left): stop waiting for a slot on its behalf.
    const gone = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) gone.abort();
    });
    try {
      const out = await thumbs.render(parsed.data, gone.signal);
      res.writeHead(200, {
        "content-type": out.contentType ?? "image/jpeg",
        "content-length": String(out.jpeg.length),
        "x-request-id": requestId,
        [THUMBNAIL_HEADER]: out.joined ? "joined" : "rendered",
        [THUMBNAIL_TIME_HEADER]: out.atSeconds.toFixed(1),
        "x-keyframe-render-ms": String(out.renderMs),
      });
      res.end(out.jpeg);
    } catch (err) {
      if (err instanceof ThumbnailAbandonedError) {
        if (!res.destroyed) problem(res, requestId, 503, "service_unavailable", err.message);
        return;
      }
      if (err instanceof ThumbnailBusyError) {
        res.setHeader("retry-after", String(err.retryAfterSeconds));
        return problem(res, requestId, 503, "service_unavailable", `too many thumbnail renders: ${err.message}`);
      }
      if (err instanceof NoVideoError) return problem(res, requestId, 422, "no_video", err.message);
      if (err instanceof SourceUnavailableError) {
        return problem(res, requestId, 502, "source_unavailable", err.message);
      }
      if (err instanceof FfmpegError) {
        log.warn("thumbnail.failed", { asset_id: parsed.data.asset_id, error: err, stderr: err.details.stderr });
        return /timed out/.test(err.message)
          ? problem(res, requestId, 504, "render_timeout", err.message)
          : problem(res, requestId, 502, "render_failed", err.message);
      }
      if (closing) {
        res.setHeader("retry-after", "5");
        return problem(res, requestId, 503, "service_unavailable", "this transcoder stopped during the render");
      }
      throw err;
    }
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      log.error("http.error", { error: err });
      if (!res.headersSent) problem(res, randomUUID(), 500, "internal_error", "the request could not be handled");
      else res.destroy();
    });
  });

  const host = options.host ?? process.env.KEYFRAME_TRANSCODER_HOST ?? "127.0.0.1";
  const port = options.port ?? (Number(process.env.KEYFRAME_TRANSCODER_PORT) || 8790);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
  if (journal) void recoverJournal(journal, log);
  getBinaries().then(
    (b) =>
      log.info("server.started", {
        url,
        concurrency,
        ffmpeg: b.ffmpeg,
        ffmpeg_source: b.ffmpegSource,
        ffmpeg_version: b.version.raw,
        ffprobe: b.ffprobe,
        ffprobe_source: b.ffprobeSource,
        ffprobe_version: b.ffprobeVersion.raw,
      }),
    (err) => log.error("server.started", { url, concurrency, error: err }),
  );

  let closed: Promise<void> | undefined;
  const close = (closeOptions: { graceMs?: number } = {}) => {
    closed ??= (async () => {
      closing = true;
      thumbs.stopIntake();
      const graceMs =
        closeOptions.graceMs ?? options.shutdownGraceMs ?? (Number(process.env.TRANSCODER_SHUTDOWN_GRACE_MS) || 10_000);
      const stopListening = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections?.();
      // Queued jobs never started: tell the API so it re-dispatches now rather than after a heartbeat timeout.
      const dropped = queue.splice(0);
      await Promise.all(
        dropped.map(async (job) => {
          log.warn("job.dropped", { job_id: job.dispatch.job_id, attempt: job.dispatch.attempt });
          if (journal) await forgetJob(journal, job.key);
          await new ApiClient(job.dispatch, { retries: 1, retryDelayMs: 200 })
            .fail({
              code: "internal_error",
              retryable: true,
              message: "the transcoder shut down before the job started",
            })
            .catch((err) => log.error("job.fail_report_failed", { job_id: job.dispatch.job_id, error: err }));
        }),
      );
      await simulcast.stopAll();
      const all = Promise.allSettled([...finished, thumbs.idle()]);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        all.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), graceMs);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        for (const job of running.values()) job.controller.abort(new ShutdownError("the transcoder is shutting down"));
        thumbs.abortAll();
        await Promise.allSettled([...finished, thumbs.idle()]);
      }
      server.closeAllConnections?.();
      await stopListening;
      log.info("server.stopped", {});
    })();
    return closed;
  };

  return { url, server, close };
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return import.meta.url === pathToFileURL(entry).href;
  } catch {
    return false;
  }
}

if (isMain()) {
  const log = createLogger({ service: "transcoder" });
  startServer({ logger: log }).then(
    (running) => {
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) {
          log.warn("server.forced_exit", { signal });
          process.exit(1);
        }
        stopping = true;
        log.info("server.stopping", { signal });
        running.close().then(
          () => process.exit(0),
          (err) => {
            log.error("server.stop_failed", { error: err });
            process.exit(1);
          },
        );
      };
      process.on("SIGTERM", stop);
      process.on("SIGINT", stop);
    },
    (err) => {
      log.error("server.start_failed", { error: err });
      process.exit(1);
    },
  );
}
