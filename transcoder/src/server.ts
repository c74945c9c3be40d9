/**
 * The transcoder's HTTP face: `POST /jobs` accepts a JobDispatch and answers 202 at once; jobs run
 * in the background in two lanes: up to TRANSCODER_FAST_CONCURRENCY (4) jobs at a time do their
 * download, probe and fast path (the rest queued in memory), and up to TRANSCODER_CONCURRENCY (1) ladders
 * encode at once; a job waiting for a ladder slot has left the fast lane, so the next upload's fast path
 * never waits behind a ladder.
 * `POST /thumbnails` renders one thumbnail synchronously and answers image/jpeg (./thumbnails.ts
 * bounds how many run). `POST /ladder-chunks` encodes one chunk of another instance's ladder and answers
 * when it is stored (./ladder-chunks/serve.ts). `GET /health` reports the ffmpeg in use and the load. Every other request must be
 * signed by the API (src/lib/transcoder-auth.ts, key TRANSCODER_AUTH_SECRET); the signature is checked
 * from the headers before the body is read, else 401. SIGTERM stops intake, gives running jobs
 * a grace period, then aborts them (they report a retryable failure so the API re-dispatches).
 *
 * Run directly (`tsx transcoder/src/server.ts`) it listens on KEYFRAME_TRANSCODER_HOST
 * (default 127.0.0.1; 0.0.0.0 in the container) and KEYFRAME_TRANSCODER_PORT (default 8790).
 */
import { randomUUID } from "node:crypto";
import type http from "node:http";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { LADDER_CHUNK_PATH } from "../../src/lib/ladder-chunk-protocol.js";
import { TRANSCODER_AUTH_SECRET_ENV, transcoderSigner } from "../../src/lib/transcoder-auth.js";
import { acceptAudioTrack, createAudioTrackService } from "./audio-track.js";
import { getBinaries } from "./ffmpeg/binaries.js";
import { problem } from "./http/problem.js";
import { acceptJob, health, matchRoute, type Route, type RouteDeps, renderThumbnail } from "./http/routes.js";
import { recoverJournal } from "./job-journal.js";
import { createJobQueue, type JobRunner } from "./job-queue.js";
import { createLadderChunkService } from "./ladder-chunks/serve.js";
import { LIVE_LADDER_STOP_PATH, liveLadderStats, startLiveLadder, stopLiveLadder } from "./live-ladder/routes.js";
import { apiPusher, ffmpegEncoder, LiveLadderSupervisor } from "./live-ladder/supervisor.js";
import { createLogger, type Logger } from "./log.js";
import { type RunJobOptions, runJob } from "./runner.js";
import { SIMULCAST_STOP_PATH, startSimulcast, stopSimulcast } from "./simulcast/routes.js";
import { SimulcastSupervisor } from "./simulcast/supervisor.js";
import { createThumbnailService, type ThumbnailServiceOptions } from "./thumbnails.js";

export { MAX_BODY_BYTES } from "./http/problem.js";
export type { JobRunner } from "./job-queue.js";

export interface ServerOptions {
  port?: number;
  host?: string;
  /** Jobs in their fast phase (download, probe, remux) at once; more are queued. Default TRANSCODER_FAST_CONCURRENCY or 4. */
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

export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const log = options.logger ?? createLogger({ service: "transcoder" });
  const concurrency = Math.max(1, options.concurrency ?? (Number(process.env.TRANSCODER_FAST_CONCURRENCY) || 4));
  const journal = options.journalDir ?? process.env.KEYFRAME_TRANSCODER_JOURNAL_DIR;
  const jobs = createJobQueue({
    concurrency,
    ladderConcurrency: Math.max(1, options.ladderConcurrency ?? (Number(process.env.TRANSCODER_CONCURRENCY) || 1)),
    runner: options.runJob ?? runJob,
    jobOptions: options.jobOptions,
    journal,
    log,
  });
  let closing = false;
  const thumbs = createThumbnailService({ ...options.thumbnails, logger: log });
  const authSecret = options.authSecret ?? process.env[TRANSCODER_AUTH_SECRET_ENV];
  if (!authSecret || authSecret.length < 16) {
    throw new Error(
      `${TRANSCODER_AUTH_SECRET_ENV} is missing or shorter than 16 characters: the API could not sign jobs`,
    );
  }

  const simulcast = new SimulcastSupervisor({
    ffmpeg: async () => (await getBinaries()).ffmpeg,
    authSecret,
    log,
  });

  const ladder = new LiveLadderSupervisor({
    encode: ffmpegEncoder(() => getBinaries()),
    push: apiPusher(authSecret),
    fetch,
    log,
  });

  const chunks = createLadderChunkService({ log, closing: () => closing });
  const deps: RouteDeps = { jobs, thumbs, simulcast, chunks, log, closing: () => closing };
  const dubs = createAudioTrackService({ log });
  const routes: Route[] = [
    { method: "GET", path: "/health", signed: false, handle: health(deps) },
    { method: "POST", path: "/jobs", signed: true, handle: acceptJob(deps) },
    { method: "POST", path: "/thumbnails", signed: true, handle: renderThumbnail(deps) },
    { method: "POST", path: "/audio-tracks", signed: true, handle: acceptAudioTrack(dubs, () => closing) },
    // One chunk of another instance's ladder, answered when it is encoded and stored (ladder-chunks/serve.ts).
    { method: "POST", path: LADDER_CHUNK_PATH, signed: true, handle: chunks.handle },
    { method: "POST", path: "/simulcast", signed: true, handle: startSimulcast(simulcast) },
    { method: "DELETE", path: SIMULCAST_STOP_PATH, signed: true, handle: stopSimulcast(simulcast) },
    { method: "POST", path: "/live-ladder", signed: true, handle: startLiveLadder(ladder) },
    { method: "DELETE", path: LIVE_LADDER_STOP_PATH, signed: true, handle: stopLiveLadder(ladder) },
    // Numbers only (counts, CPU seconds, added latency per rendition), like /health: for operators and bench:live.
    { method: "GET", path: "/live-ladder", signed: false, handle: liveLadderStats(ladder) },
  ];

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const requestId = randomUUID();
    const url = new URL(req.url ?? "/", "http://transcoder");
    const open = routes.find((r) => !r.signed && r.method === req.method && matchRoute(r, url.pathname));
    if (open) return open.handle(req, res, { requestId, bodySha256: "", params: matchRoute(open, url.pathname) ?? [] });
    // Everything else comes from the API: check its signature before reading anything else.
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
    const onPath = routes.filter((r) => r.signed && matchRoute(r, url.pathname));
    const route = onPath.find((r) => r.method === req.method);
    if (route) {
      const params = matchRoute(route, url.pathname) ?? [];
      return route.handle(req, res, { requestId, bodySha256: auth.bodySha256, params });
    }
    if (onPath.length > 0) {
      const allow = onPath.map((r) => r.method).join(", ");
      res.setHeader("allow", allow);
      return problem(res, requestId, 405, "method_not_allowed", `use ${allow} ${url.pathname}`);
    }
    return problem(res, requestId, 404, "not_found", `no route for ${req.method} ${url.pathname}`);
  };

  const server = createServer((req, res) => {
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
        copier: b.copier,
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
      await jobs.dropQueued();
      await simulcast.stopAll();
      await ladder.stopAll();
      const all = Promise.allSettled([jobs.idle(), thumbs.idle(), dubs.idle(), chunks.idle()]);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        all.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), graceMs);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        jobs.abortAll();
        thumbs.abortAll();
        dubs.abortAll();
        chunks.abortAll();
        await Promise.allSettled([jobs.idle(), thumbs.idle(), dubs.idle(), chunks.idle()]);
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
