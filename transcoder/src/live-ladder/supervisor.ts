/**
 * The live ladder, transcoder side: for each live session the API starts, one poller reads the stream's live
 * playlist at the edge (like any viewer; it never touches ingest) and fetches each new source segment once;
 * one worker per rendition re-encodes it (encode.ts, one short ffmpeg run per segment) and PUTs the result to
 * the API, signed over its bytes, under the source segment's sequence number.
 *
 * Failure isolation. Workers share nothing but the fetched bytes: a worker that falls behind keeps only the
 * newest MAX_PENDING segments (it skips to the live edge; the skipped numbers become gaps in its playlist), and
 * one whose encode or push fails waits with backoff (1 s doubling to 30 s) before it takes the newest segment
 * again. Neither ever slows the poller, the other renditions, or the source rendition (ingest does not wait
 * for the ladder). A rendition at or above the source's own size is never started.
 */
import { type ChildProcess, spawn } from "node:child_process";
import {
  type LiveLadderStart,
  type LiveRendition,
  ladderPushPath,
  renditionHeight,
} from "../../../src/lib/live-ladder-protocol.js";
import { transcoderSigner } from "../../../src/lib/transcoder-auth.js";
import { mediaInfoFromInit, mediaInfoFromTs } from "../../../src/live/codecs.js";
import type { Binaries } from "../ffmpeg/binaries.js";
import { binaryEnv } from "../ffmpeg/static-env.js";
import type { Logger } from "../log.js";
import { keepsSourceTimeBase, parseBenchmark, renditionArgs } from "./encode.js";
import { parseSourcePlaylist, type SourceSegment } from "./source-playlist.js";

const BACKOFF_MS = [1000, 2000, 4000, 8000, 16_000, 30_000];
/** Segments a rendition may have waiting; older ones are dropped (it skips to the live edge). */
export const MAX_PENDING = 2;
const POLL_MS = 250;
/** The job ends itself when the source has been off air this long (a lost stop call). */
const OFF_AIR_GIVE_UP_MS = 120_000;

export interface SourceItem {
  seq: number;
  bytes: Uint8Array;
  fetchedAt: number;
}

/** What one rendition encode did: its output, or why not. */
export type EncodeResult =
  | { ok: true; bytes: Uint8Array; cpuSeconds: number | null; wallSeconds: number }
  | { ok: false; error: string };

export interface LadderDeps {
  encode: (rendition: LiveRendition, input: Uint8Array) => Promise<EncodeResult>;
  push: (job: LiveLadderStart, rendition: LiveRendition, seq: number, bytes: Uint8Array) => Promise<number>;
  fetch: typeof fetch;
  log: Logger;
  backoffMs?: number[];
}

export interface RenditionStats {
  rendition: LiveRendition;
  encoded: number;
  skipped: number;
  failures: number;
  last_seq: number | null;
  cpu_seconds: number;
  encode_seconds: number;
  /** Per segment: source fetched → rendition accepted by the API (ms), the last 50. */
  added_ms: number[];
  /** Per segment, the last 50: waiting behind earlier segments, ffmpeg's wall time, the PUT to the API (ms). */
  queued_ms: number[];
  encode_ms: number[];
  push_ms: number[];
}

export class RenditionWorker {
  private pending: SourceItem[] = [];
  private wake: (() => void) | null = null;
  private stopped = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  readonly stats: RenditionStats;
  readonly done: Promise<void>;

  constructor(
    private readonly job: LiveLadderStart,
    readonly rendition: LiveRendition,
    private readonly deps: LadderDeps,
  ) {
    this.stats = {
      rendition,
      encoded: 0,
      skipped: 0,
      failures: 0,
      last_seq: null,
      cpu_seconds: 0,
      encode_seconds: 0,
      added_ms: [],
      queued_ms: [],
      encode_ms: [],
      push_ms: [],
    };
    this.done = this.loop();
  }

  offer(item: SourceItem) {
    this.pending.push(item);
    while (this.pending.length > MAX_PENDING) {
      this.pending.shift();
      this.stats.skipped++;
    }
    this.wake?.();
  }

  private async next(): Promise<SourceItem | null> {
    while (!this.stopped && this.pending.length === 0) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = null;
    }
    return this.stopped ? null : (this.pending.shift() ?? null);
  }

  private async loop() {
    for (;;) {
      const item = await this.next();
      if (!item) return;
      const error = await this.one(item);
      if (error === null) {
        this.attempt = 0;
        continue;
      }
      this.stats.failures++;
      const backoff = this.deps.backoffMs ?? BACKOFF_MS;
      const delay = backoff[Math.min(this.attempt++, backoff.length - 1)];
      this.deps.log.warn("live_ladder.rendition_retry", {
        rendition: this.rendition,
        seq: item.seq,
        delay_ms: delay,
        error,
      });
      await new Promise<void>((resolve) => {
        this.timer = setTimeout(resolve, delay);
        this.wake = resolve;
      });
      this.wake = null;
      // Back at the live edge: whatever waited during the pause is older than the newest segment.
      while (this.pending.length > 1) {
        this.pending.shift();
        this.stats.skipped++;
      }
    }
  }

  /** Encodes and pushes one segment; null when it landed, else the error. */
  private async one(item: SourceItem): Promise<string | null> {
    try {
      const began = Date.now();
      const out = await this.deps.encode(this.rendition, item.bytes);
      if (!out.ok) return out.error;
      const encoded = Date.now();
      const status = await this.deps.push(this.job, this.rendition, item.seq, out.bytes);
      const keep = (xs: number[], x: number) => [...xs, x].slice(-50);
      this.stats.queued_ms = keep(this.stats.queued_ms, began - item.fetchedAt);
      this.stats.encode_ms = keep(this.stats.encode_ms, encoded - began);
      this.stats.push_ms = keep(this.stats.push_ms, Date.now() - encoded);
      if (status < 200 || status >= 300) return `the API answered ${status}`;
      this.stats.encoded++;
      this.stats.last_seq = item.seq;
      this.stats.cpu_seconds += out.cpuSeconds ?? 0;
      this.stats.encode_seconds += out.wallSeconds;
      this.stats.added_ms = [...this.stats.added_ms, Date.now() - item.fetchedAt].slice(-50);
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.wake?.();
  }
}

/** One session's ladder: the poller and its rendition workers. */
export class LadderJob {
  private stopped = false;
  private workers: RenditionWorker[] = [];
  private lastSeq = -1;
  private sourceHeight: number | null = null;
  private inits = new Map<string, Uint8Array>();
  readonly done: Promise<void>;

  constructor(
    readonly job: LiveLadderStart,
    private readonly deps: LadderDeps,
  ) {
    this.done = this.poll();
  }

  private async poll() {
    let offAirSince = Date.now();
    while (!this.stopped) {
      try {
        const res = await this.deps.fetch(this.job.source_url, { signal: AbortSignal.timeout(5000) });
        const text = await res.text();
        const parsed = res.ok ? parseSourcePlaylist(text, this.job.source_url) : null;
        if (parsed) {
          offAirSince = Date.now();
          await this.take(parsed.segments);
          if (parsed.ended) break;
        } else if (Date.now() - offAirSince > OFF_AIR_GIVE_UP_MS) break;
      } catch (err) {
        this.deps.log.warn("live_ladder.poll_failed", { error: (err as Error).message });
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    this.stop();
  }

  /** New segments (from the newest two on the first read: the ladder starts at the live edge). */
  private async take(segments: SourceSegment[]) {
    const fresh = segments.filter((s) => s.seq > this.lastSeq).slice(this.lastSeq < 0 ? -2 : 0);
    for (const s of fresh) {
      if (this.stopped) return;
      const bytes = await this.segmentBytes(s);
      this.lastSeq = s.seq;
      if (!bytes) continue;
      if (this.workers.length === 0 && this.sourceHeight === null) this.startWorkers(s, bytes);
      const item = { seq: s.seq, bytes, fetchedAt: Date.now() };
      for (const w of this.workers) w.offer(item);
    }
  }

  private async segmentBytes(s: SourceSegment): Promise<Uint8Array | null> {
    try {
      const res = await this.deps.fetch(s.url, { signal: AbortSignal.timeout(10_000) });
      if (!res.ok) {
        await res.arrayBuffer();
        return null;
      }
      const media = new Uint8Array(await res.arrayBuffer());
      if (!s.map) return media;
      let init = this.inits.get(s.map);
      if (!init) {
        const r = await this.deps.fetch(s.map, { signal: AbortSignal.timeout(10_000) });
        if (!r.ok) return null;
        init = new Uint8Array(await r.arrayBuffer());
        this.inits.set(s.map, init);
      }
      const out = new Uint8Array(init.byteLength + media.byteLength);
      out.set(init, 0);
      out.set(media, init.byteLength);
      return out;
    } catch (err) {
      this.deps.log.warn("live_ladder.segment_fetch_failed", { seq: s.seq, error: (err as Error).message });
      return null;
    }
  }

  /** From the first segment: the source's short side decides which renditions are worth encoding. */
  private startWorkers(s: SourceSegment, bytes: Uint8Array) {
    const info = s.map ? mediaInfoFromInit(bytes) : mediaInfoFromTs(bytes);
    this.sourceHeight = info.width && info.height ? Math.min(info.width, info.height) : 0;
    const wanted = this.job.renditions.filter(
      (r) => !this.sourceHeight || renditionHeight(r) < (this.sourceHeight as number),
    );
    const skipped = this.job.renditions.filter((r) => !wanted.includes(r));
    if (skipped.length > 0) {
      this.deps.log.info("live_ladder.renditions_skipped", { renditions: skipped, source_height: this.sourceHeight });
    }
    this.workers = wanted.map((r) => new RenditionWorker(this.job, r, this.deps));
  }

  stop() {
    this.stopped = true;
    for (const w of this.workers) w.stop();
  }

  async settled() {
    await this.done;
    await Promise.allSettled(this.workers.map((w) => w.done));
  }

  stats() {
    return {
      session_id: this.job.session_id,
      source_height: this.sourceHeight,
      last_source_seq: this.lastSeq,
      renditions: this.workers.map((w) => w.stats),
    };
  }
}

/**
 * The real encoder: one ffmpeg per segment, bytes in on stdin and out on stdout, with the arguments that
 * binary's version supports (keepsSourceTimeBase) and its environment (binaryEnv: the npm builds are static).
 */
export function ffmpegEncoder(binaries: () => Promise<Pick<Binaries, "ffmpeg" | "version">>) {
  return async (rendition: LiveRendition, input: Uint8Array): Promise<EncodeResult> => {
    const { ffmpeg: bin, version } = await binaries();
    const args = renditionArgs(rendition, { sourceTimeBase: keepsSourceTimeBase(version) });
    const started = Date.now();
    return new Promise((resolve) => {
      let proc: ChildProcess;
      try {
        proc = spawn(bin, args, { env: binaryEnv(bin), stdio: ["pipe", "pipe", "pipe"] });
      } catch (err) {
        resolve({ ok: false, error: (err as Error).message });
        return;
      }
      const chunks: Buffer[] = [];
      let stderr = "";
      proc.stdout?.on("data", (d: Buffer) => chunks.push(d));
      proc.stderr?.on("data", (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-4000);
      });
      proc.stdin?.on("error", () => {});
      proc.stdin?.end(input);
      proc.on("error", (err) => resolve({ ok: false, error: err.message }));
      proc.on("exit", (code) => {
        if (code !== 0) {
          const line =
            stderr
              .trim()
              .split("\n")
              .filter((l) => !l.startsWith("bench:"))
              .pop() ?? "";
          resolve({ ok: false, error: `ffmpeg exited with ${code}: ${line}` });
          return;
        }
        const bench = parseBenchmark(stderr);
        resolve({
          ok: true,
          bytes: new Uint8Array(Buffer.concat(chunks)),
          cpuSeconds: bench?.cpuSeconds ?? null,
          wallSeconds: bench?.wallSeconds ?? (Date.now() - started) / 1000,
        });
      });
    });
  };
}

/** The real push: PUT to the API, signed over the segment's bytes with the transcoder key. */
export function apiPusher(authSecret: string) {
  return async (job: LiveLadderStart, rendition: LiveRendition, seq: number, bytes: Uint8Array): Promise<number> => {
    const path = ladderPushPath(job.live_stream_id, job.session_id, rendition, seq);
    const res = await fetch(`${job.api_url}${path}`, {
      method: "PUT",
      headers: { "content-type": "video/mp2t", ...(await transcoderSigner.sign(authSecret, "PUT", path, bytes)) },
      body: bytes,
      signal: AbortSignal.timeout(15_000),
    });
    await res.arrayBuffer();
    return res.status;
  };
}

export class LiveLadderSupervisor {
  private readonly jobs = new Map<string, LadderJob>();

  constructor(private readonly deps: LadderDeps) {}

  /** Starts a session's ladder (a new session replaces the stream's previous one). Idempotent per session. */
  start(job: LiveLadderStart): { duplicate: boolean } {
    const current = this.jobs.get(job.live_stream_id);
    if (current && current.job.session_id === job.session_id) return { duplicate: true };
    current?.stop();
    const log = this.deps.log.child({ live_stream_id: job.live_stream_id, session_id: job.session_id });
    const ladder = new LadderJob(job, { ...this.deps, log });
    this.jobs.set(job.live_stream_id, ladder);
    void ladder.done.then(() => {
      if (this.jobs.get(job.live_stream_id) === ladder) this.jobs.delete(job.live_stream_id);
    });
    log.info("live_ladder.started", { renditions: job.renditions });
    return { duplicate: false };
  }

  stop(liveStreamId: string): boolean {
    const current = this.jobs.get(liveStreamId);
    if (!current) return false;
    this.jobs.delete(liveStreamId);
    current.stop();
    return true;
  }

  async stopAll() {
    const all = [...this.jobs.values()];
    this.jobs.clear();
    for (const j of all) j.stop();
    await Promise.allSettled(all.map((j) => j.settled()));
  }

  /** Per running stream, per rendition: encoded/skipped/failed counts, CPU and added latency. */
  stats() {
    return Object.fromEntries([...this.jobs.entries()].map(([id, j]) => [id, j.stats()]));
  }
}
