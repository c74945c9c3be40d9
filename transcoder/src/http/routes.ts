/**
 * The transcoder's routes: health (unsigned), job intake and on-demand thumbnails (signed by the API);
 * the simulcast routes live in ../simulcast/routes.ts.
 * server.ts holds the table that maps method and path to these handlers.
 */
import type http from "node:http";
import {
  THUMBNAIL_HEADER,
  THUMBNAIL_TIME_HEADER,
  TranscoderThumbnailRequestSchema,
} from "../../../src/lib/thumbnails.js";
import { JobDispatchSchema } from "../../../src/lib/transcoder-protocol.js";
import { getBinaries } from "../ffmpeg/binaries.js";
import { FfmpegError } from "../ffmpeg/errors.js";
import { NoVideoError, SourceUnavailableError } from "../ffmpeg/thumbnail.js";
import type { JobQueue } from "../job-queue.js";
import type { Logger } from "../log.js";
import type { SimulcastSupervisor } from "../simulcast/supervisor.js";
import { ThumbnailAbandonedError, ThumbnailBusyError, type ThumbnailService } from "../thumbnails.js";
import { bodyIssues, json, problem, readJsonBody } from "./problem.js";

/** What a route handler gets besides req/res; `bodySha256` is the signed body hash (signed routes). */
export interface RequestContext {
  requestId: string;
  bodySha256: string;
  /** The groups of a pattern route's match. */
  params: string[];
}

/** The route's path parameters when it serves `pathname`, else null. */
export function matchRoute(route: Route, pathname: string): string[] | null {
  if (typeof route.path === "string") return route.path === pathname ? [] : null;
  const m = route.path.exec(pathname);
  return m && m[0] === pathname ? m.slice(1) : null;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, rc: RequestContext) => Promise<void>;

export interface Route {
  method: "GET" | "POST" | "DELETE";
  /** An exact path, or a pattern for paths with a parameter (its groups reach the handler as `params`). */
  path: string | RegExp;
  /** Unsigned routes answer anyone; every other route needs the API's signature, checked before the body is read. */
  signed: boolean;
  handle: Handler;
}

export interface RouteDeps {
  jobs: JobQueue;
  thumbs: ThumbnailService;
  simulcast: SimulcastSupervisor;
  /** Remote ladder chunks this instance is encoding (counted as running work: a container must not sleep). */
  chunks?: { stats(): { running: number; waiting: number; done: number; failed: number } };
  log: Logger;
  /** True once the server is stopping: intake answers 503. */
  closing: () => boolean;
}

export const health =
  ({ jobs, thumbs, simulcast, chunks, closing }: RouteDeps): Handler =>
  async (_req, res, { requestId }) => {
    const chunkStats = chunks?.stats() ?? { running: 0, waiting: 0, done: 0, failed: 0 };
    const stats = jobs.stats();
    // The container's idle check reads `running`: a chunk in progress is running work too.
    const running = stats.running + chunkStats.running;
    const queued = stats.queued;
    try {
      const b = await getBinaries();
      return json(res, requestId, closing() ? 503 : 200, {
        ok: !closing(),
        ffmpeg: { path: b.ffmpeg, source: b.ffmpegSource, version: b.version.raw },
        copier: { path: b.copier, source: b.copierSource },
        ffprobe: { path: b.ffprobe, source: b.ffprobeSource, version: b.ffprobeVersion.raw },
        pid: process.pid,
        ...stats,
        running,
        thumbnails: thumbs.stats(),
        ladder_chunks: chunkStats,
        simulcast: simulcast.stats(),
      });
    } catch (err) {
      return json(res, requestId, 503, {
        ok: false,
        error: err instanceof Error ? err.message : String(err),
        running,
        queued,
      });
    }
  };

export const acceptJob =
  ({ jobs, closing }: RouteDeps): Handler =>
  async (req, res, { requestId, bodySha256 }) => {
    const body = await readJsonBody(req, res, requestId, bodySha256);
    if (!body) return;
    const parsed = JobDispatchSchema.safeParse(body.value);
    if (!parsed.success) {
      const errors = bodyIssues(parsed.error.issues);
      return problem(res, requestId, 400, "validation_failed", "the body is not a valid job dispatch", errors);
    }
    if (closing()) {
      res.setHeader("retry-after", "5");
      return problem(res, requestId, 503, "service_unavailable", "this transcoder is stopping; dispatch elsewhere");
    }
    const dispatch = parsed.data;
    const { duplicate, state } = await jobs.accept(dispatch);
    return json(res, requestId, 202, {
      accepted: true,
      duplicate,
      job_id: dispatch.job_id,
      attempt: dispatch.attempt,
      state,
    });
  };

export const renderThumbnail =
  ({ thumbs, log, closing }: RouteDeps): Handler =>
  async (req, res, { requestId, bodySha256 }) => {
    const body = await readJsonBody(req, res, requestId, bodySha256);
    if (!body) return;
    const parsed = TranscoderThumbnailRequestSchema.safeParse(body.value);
    if (!parsed.success) {
      const errors = bodyIssues(parsed.error.issues);
      return problem(res, requestId, 400, "validation_failed", "the body is not a valid thumbnail request", errors);
    }
    if (closing()) {
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
      if (closing()) {
        res.setHeader("retry-after", "5");
        return problem(res, requestId, 503, "service_unavailable", "this transcoder stopped during the render");
      }
      throw err;
    }
  };
