/**
 * On-demand thumbnails, synchronous: `POST /thumbnails` (server.ts) hands a request here and answers
 * with the JPEG. A thumbnail storm must not become an ffmpeg storm, so renders are bounded three ways:
 *
 * - identical requests in flight share one render (single flight, keyed by asset + normalised params);
 * - at most `concurrency` ffmpegs run (default 2), the next `queueLimit` requests wait up to
 *   `queueTimeoutMs` for a slot, and anything beyond is refused at once (Busy → 503 + Retry-After);
 * - every render is killed after `renderTimeoutMs`;
 * - a request whose caller went away (the API gave up) leaves the queue; a render whose callers
 *   all went away before it started never starts.
 *
 * Jobs have their own limit (TRANSCODER_CONCURRENCY); thumbnails never take a job's slot or wait
 * behind a transcode.
 */

import { ANIMATED_CONTENT_TYPES } from "../../src/lib/animated.js";
import { lastThumbnailTime, type TranscoderThumbnailRequest } from "../../src/lib/thumbnails.js";
import { renderAnimated } from "./animated.js";
import { getBinaries } from "./ffmpeg/binaries.js";
import { renderThumbnail } from "./ffmpeg/thumbnail.js";
import type { Logger } from "./log.js";

export interface ThumbnailServiceOptions {
  /** Renders at once. Default THUMBNAIL_CONCURRENCY or 2. */
  concurrency?: number;
  /** Requests that may wait for a slot. Default THUMBNAIL_QUEUE_LIMIT or 16. */
  queueLimit?: number;
  /** How long a request waits for a slot before it is refused. Default THUMBNAIL_QUEUE_TIMEOUT_MS or 10 s. */
  queueTimeoutMs?: number;
  /** ffmpeg is killed after this long. Default THUMBNAIL_TIMEOUT_MS or 20 s. */
  renderTimeoutMs?: number;
  /** Override the discovered ffmpeg (tests). */
  ffmpegPath?: string;
  logger: Logger;
}

/** No slot now and no room to wait: the caller should come back later. */
export class ThumbnailBusyError extends Error {
  override readonly name = "ThumbnailBusyError";
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

export interface RenderedThumbnail {
  jpeg: Buffer;
  /** The time the frame was taken at (after clamping and fallback). */
  atSeconds: number;
  renderMs: number;
  /** True when this request joined a render another request had started. */
  joined: boolean;
  /** image/jpeg unless the request was for an animated preview. */
  contentType?: string;
}

/** The caller went away before the render started. */
export class ThumbnailAbandonedError extends Error {
  override readonly name = "ThumbnailAbandonedError";
}

export interface ThumbnailService {
  /** `signal`: the caller's interest; when every caller of a render has gone, a waiting render is dropped. */
  render(req: TranscoderThumbnailRequest, signal?: AbortSignal): Promise<RenderedThumbnail>;
  stats(): { running: number; queued: number; concurrency: number; queue_limit: number };
  /** Refuses everything waiting and anything new; running renders go on. */
  stopIntake(): void;
  /** Kills running renders. */
  abortAll(): void;
  /** Settles when nothing is running or waiting. */
  idle(): Promise<void>;
}

/** An animated render may take this many times a still's render timeout. */
const ANIMATED_TIMEOUT_FACTOR = 4;

function envNumber(name: string): number | undefined {
  const n = Number(process.env[name]);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout;
}

interface Flight {
  promise: Promise<Omit<RenderedThumbnail, "joined">>;
  /** Callers still waiting for this render. */
  interest: number;
  /** Drops the render if it is still waiting for a slot. */
  abandon: AbortController;
}

export function createThumbnailService(options: ThumbnailServiceOptions): ThumbnailService {
  const concurrency = Math.max(1, options.concurrency ?? envNumber("THUMBNAIL_CONCURRENCY") ?? 2);
  const queueLimit = Math.max(0, options.queueLimit ?? envNumber("THUMBNAIL_QUEUE_LIMIT") ?? 16);
  const queueTimeoutMs = options.queueTimeoutMs ?? envNumber("THUMBNAIL_QUEUE_TIMEOUT_MS") ?? 10_000;
  const renderTimeoutMs = options.renderTimeoutMs ?? envNumber("THUMBNAIL_TIMEOUT_MS") ?? 20_000;
  const log = options.logger;
  const controller = new AbortController();
  const waiters: Waiter[] = [];
  const inflight = new Map<string, Flight>();
  let running = 0;
  let accepting = true;
  let idleWaiters: (() => void)[] = [];

  const retryAfter = () => Math.max(1, Math.ceil((renderTimeoutMs / 1000) * 0.1));

  const settleIdle = () => {
    if (running === 0 && waiters.length === 0 && inflight.size === 0) {
      const list = idleWaiters;
      idleWaiters = [];
      for (const fn of list) fn();
    }
  };

  const acquire = (abandon: AbortSignal): Promise<void> => {
    if (!accepting) return Promise.reject(new ThumbnailBusyError("the transcoder is stopping", 5));
    if (running < concurrency) {
      running++;
      return Promise.resolve();
    }
    if (waiters.length >= queueLimit) {
      return Promise.reject(
        new ThumbnailBusyError(`${running} renders running and ${waiters.length} waiting`, retryAfter()),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const leave = (err: Error) => {
        const i = waiters.indexOf(waiter);
        if (i < 0) return;
        waiters.splice(i, 1);
        clearTimeout(waiter.timer);
        abandon.removeEventListener("abort", onAbandon);
        reject(err);
      };
      const onAbandon = () => leave(new ThumbnailAbandonedError("every caller went away"));
      const waiter: Waiter = {
        resolve: () => {
          abandon.removeEventListener("abort", onAbandon);
          resolve();
        },
        reject,
        timer: setTimeout(
          () => leave(new ThumbnailBusyError(`no render slot within ${queueTimeoutMs} ms`, retryAfter())),
          queueTimeoutMs,
        ),
      };
      abandon.addEventListener("abort", onAbandon, { once: true });
      waiters.push(waiter);
    });
  };

  const release = () => {
    const next = waiters.shift();
    if (next) {
      clearTimeout(next.timer);
      next.resolve(); // the slot passes straight to the next waiter
    } else running--;
  };

  const renderNew = async (
    req: TranscoderThumbnailRequest,
    abandon: AbortSignal,
  ): Promise<Omit<RenderedThumbnail, "joined">> => {
    await acquire(abandon);
    const started = Date.now();
    try {
      const ffmpegPath = options.ffmpegPath ?? (await getBinaries()).ffmpeg;
      if (req.animated) {
        // Animated previews share the slots and the queue; they decode up to 10 s, so get a longer deadline.
        const bytes = await renderAnimated(
          { input: req.source_url, headers: { authorization: `Bearer ${req.source_token}` }, animated: req.animated },
          { ffmpegPath, signal: controller.signal, timeoutMs: renderTimeoutMs * ANIMATED_TIMEOUT_FACTOR },
        );
        const renderMs = Date.now() - started;
        log.info("animated.rendered", {
          asset_id: req.asset_id,
          ...req.animated,
          bytes: bytes.length,
          render_ms: renderMs,
        });
        return {
          jpeg: bytes,
          atSeconds: req.animated.start,
          renderMs,
          contentType: ANIMATED_CONTENT_TYPES[req.animated.format],
        };
      }
      const at = req.duration ? Math.min(req.time, lastThumbnailTime(req.duration)) : req.time;
      const { jpeg, atSeconds } = await renderThumbnail(
        {
          kind: "thumbnail",
          input: req.source_url,
          headers: { authorization: `Bearer ${req.source_token}` },
          atSeconds: at,
          width: req.width,
          height: req.height,
          fit: req.fit_mode,
        },
        { ffmpegPath, signal: controller.signal, timeoutMs: renderTimeoutMs },
      );
      const renderMs = Date.now() - started;
      log.info("thumbnail.rendered", {
        asset_id: req.asset_id,
        time: atSeconds,
        width: req.width,
        height: req.height,
        fit_mode: req.fit_mode,
        bytes: jpeg.length,
        render_ms: renderMs,
      });
      return { jpeg, atSeconds, renderMs };
    } finally {
      release();
    }
  };

  return {
    render(req, signal) {
      const key = [
        req.asset_id,
        req.time,
        req.duration ?? "",
        req.width,
        req.height,
        req.fit_mode,
        JSON.stringify(req.animated ?? null),
      ].join("|");
      let flight = inflight.get(key);
      const joined = flight !== undefined;
      if (!flight) {
        const abandon = new AbortController();
        const created: Flight = {
          interest: 0,
          abandon,
          promise: renderNew(req, abandon.signal).finally(() => {
            inflight.delete(key);
            settleIdle();
          }),
        };
        inflight.set(key, created);
        flight = created;
      }
      const f = flight;
      f.interest++;
      const onGone = () => {
        if (--f.interest === 0) f.abandon.abort();
      };
      if (signal?.aborted) onGone();
      else signal?.addEventListener("abort", onGone, { once: true });
      return f.promise.then((r) => ({ ...r, joined })).finally(() => signal?.removeEventListener("abort", onGone));
    },
    stats: () => ({ running, queued: waiters.length, concurrency, queue_limit: queueLimit }),
    stopIntake() {
      accepting = false;
      for (const w of waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new ThumbnailBusyError("the transcoder is stopping", 5));
      }
    },
    abortAll() {
      controller.abort(new Error("the transcoder is shutting down"));
    },
    idle() {
      return new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        settleIdle();
      });
    },
  };
}
