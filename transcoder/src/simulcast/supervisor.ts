/**
 * Simulcast, transcoder side: for each live session the API starts, one ffmpeg per target pulls the live HLS
 * from the edge and pushes it to the target with stream copy (`-c copy -f flv rtmp(s)://…`). Each target is
 * independent: a refusing or dropping target is retried with backoff (1 s doubling to 30 s) and reported
 * `errored`, and never touches the main stream (it only reads the edge, like any viewer) or the other targets.
 * Status goes to the API as it changes: starting → broadcasting (once ffmpeg has sent media for 2 s) →
 * errored / idle.
 */
import { type ChildProcess, spawn } from "node:child_process";
import {
  SIMULCAST_STATUS_PATH,
  type SimulcastStart,
  type SimulcastStatus,
} from "../../../src/lib/simulcast-protocol.js";
import { transcoderSigner } from "../../../src/lib/transcoder-auth.js";
import { binaryEnv } from "../ffmpeg/static-env.js";
import type { Logger } from "../log.js";

const BACKOFF_MS = [1000, 2000, 4000, 8000, 16_000, 30_000];

/** KEYFRAME_SIMULCAST_BACKOFF_MS="500,1000" shortens the schedule (tests); anything malformed keeps the default. */
function envBackoff(): number[] | undefined {
  const raw = process.env.KEYFRAME_SIMULCAST_BACKOFF_MS;
  const list = raw?.split(",").map(Number);
  return list?.length && list.every((n) => Number.isInteger(n) && n > 0) ? list : undefined;
}
/** Media flowing this long (ffmpeg's progress advancing) counts as broadcasting. */
const BROADCASTING_AFTER_S = 2;

export interface SimulcastOptions {
  ffmpeg: () => Promise<string>;
  authSecret: string;
  log: Logger;
  backoffMs?: number[];
}

class TargetWorker {
  private proc: ChildProcess | null = null;
  private stopped = false;
  private status: SimulcastStatus | null = null;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  readonly done: Promise<void>;

  constructor(
    private readonly job: SimulcastStart,
    private readonly target: SimulcastStart["targets"][number],
    private readonly opts: SimulcastOptions,
    private readonly log: Logger,
  ) {
    this.done = this.loop();
  }

  private async loop() {
    const ffmpeg = await this.opts.ffmpeg();
    while (!this.stopped) {
      // A target being retried stays `errored` until media flows again (no starting/errored flapping).
      if (this.status !== "errored") this.report("starting", null);
      // The session starts with its first segment, a moment before the edge lists it: wait for the playlist
      // rather than count the edge's 412 as the target failing.
      await this.sourceListed();
      if (this.stopped) break;
      const { code, stderr, broadcasted } = await this.runOnce(ffmpeg);
      if (this.stopped) break;
      if (code === 0) {
        // The source ended (ENDLIST): the broadcast is over for this target.
        this.report("idle", null);
        return;
      }
      const error = lastLine(stderr) || `ffmpeg exited with ${code}`;
      this.report("errored", error);
      if (broadcasted) this.attempt = 0;
      const backoff = this.opts.backoffMs ?? envBackoff() ?? BACKOFF_MS;
      const delay = backoff[Math.min(this.attempt++, backoff.length - 1)];
      this.log.warn("simulcast.target_retry", { target_id: this.target.id, delay_ms: delay, error });
      await new Promise<void>((resolve) => {
        this.timer = setTimeout(resolve, delay);
      });
    }
    this.report("idle", null);
  }

  private async sourceListed(timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    while (!this.stopped && Date.now() < deadline) {
      try {
        const res = await fetch(this.job.source_url, { signal: AbortSignal.timeout(5000) });
        await res.arrayBuffer();
        if (res.ok) return;
      } catch {
        // not yet
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  private runOnce(ffmpeg: string): Promise<{ code: number | null; stderr: string; broadcasted: boolean }> {
    const args = [
      "-hide_banner",
      "-loglevel",
      "error",
      "-nostats",
      "-progress",
      "pipe:1",
      // The live playlist: start at its live edge, reload as it advances.
      "-live_start_index",
      "-1",
      "-i",
      this.job.source_url,
      "-map",
      "0:v?",
      "-map",
      "0:a?",
      "-c",
      "copy",
      // ADTS AAC (from MPEG-TS) into FLV needs AudioSpecificConfig: ffmpeg ≥ 5 inserts this filter itself, the
      // npm 4.1 build fails on the first audio packet ("Malformed AAC bitstream detected"). Other input passes.
      "-bsf:a",
      "aac_adtstoasc",
      "-f",
      "flv",
      this.target.publish_url,
    ];
    return new Promise((resolve) => {
      const proc = spawn(ffmpeg, args, { env: binaryEnv(ffmpeg), stdio: ["ignore", "pipe", "pipe"] });
      this.proc = proc;
      let stderr = "";
      let broadcasted = false;
      proc.stderr?.on("data", (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-2000);
      });
      proc.stdout?.on("data", (d: Buffer) => {
        const times = [...d.toString().matchAll(/out_time_us=(\d+)/g)].map((x) => Number(x[1]));
        if (!broadcasted && times.some((t) => t >= BROADCASTING_AFTER_S * 1e6)) {
          broadcasted = true;
          this.attempt = 0;
          this.report("broadcasting", null);
        }
      });
      proc.on("exit", (code) => resolve({ code, stderr, broadcasted }));
      proc.on("error", (err) => resolve({ code: null, stderr: err.message, broadcasted }));
    });
  }

  private report(status: SimulcastStatus, error: string | null) {
    if (status === this.status && status !== "errored") return;
    this.status = status;
    this.log.info("simulcast.target_status", { target_id: this.target.id, status, error });
    void postStatus(this.job, this.opts.authSecret, {
      live_stream_id: this.job.live_stream_id,
      session_id: this.job.session_id,
      target_id: this.target.id,
      status,
      error: error?.slice(0, 500) ?? null,
    }).catch((err) => this.log.warn("simulcast.status_report_failed", { error: (err as Error).message }));
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.proc?.kill("SIGTERM");
  }
}

/** The target URL carries its stream key: keep only ffmpeg's message, never the URL it names. */
function lastLine(stderr: string): string {
  const line =
    stderr
      .trim()
      .split("\n")
      .filter((l) => l.trim())
      .pop() ?? "";
  return line.replace(/rtmps?:\/\/\S+/g, "<target>");
}

async function postStatus(job: SimulcastStart, secret: string, report: object) {
  const body = JSON.stringify(report);
  const path = new URL(job.status_url).pathname;
  if (path !== SIMULCAST_STATUS_PATH) throw new Error(`unexpected status_url path ${path}`);
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      const res = await fetch(job.status_url, {
        method: "POST",
        headers: { "content-type": "application/json", ...(await transcoderSigner.sign(secret, "POST", path, body)) },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      await res.arrayBuffer();
      if (res.ok || (res.status >= 400 && res.status < 500)) return;
    } catch {
      // retried below
    }
    await new Promise((r) => setTimeout(r, 500 * attempt));
  }
}

export class SimulcastSupervisor {
  /** live_stream_id → the running session's workers. */
  private readonly jobs = new Map<string, { sessionId: string; workers: TargetWorker[] }>();

  constructor(private readonly opts: SimulcastOptions) {}

  /** Starts (or, for a new session, restarts) a stream's simulcast. Idempotent per session. */
  start(job: SimulcastStart): { duplicate: boolean } {
    const current = this.jobs.get(job.live_stream_id);
    if (current?.sessionId === job.session_id) return { duplicate: true };
    if (current) this.stop(job.live_stream_id);
    const log = this.opts.log.child({ live_stream_id: job.live_stream_id, session_id: job.session_id });
    const workers = job.targets.map((t) => new TargetWorker(job, t, this.opts, log));
    this.jobs.set(job.live_stream_id, { sessionId: job.session_id, workers });
    log.info("simulcast.started", { targets: job.targets.length });
    return { duplicate: false };
  }

  stop(liveStreamId: string): boolean {
    const current = this.jobs.get(liveStreamId);
    if (!current) return false;
    this.jobs.delete(liveStreamId);
    for (const w of current.workers) w.stop();
    return true;
  }

  async stopAll(): Promise<void> {
    const all = [...this.jobs.values()].flatMap((j) => j.workers);
    this.jobs.clear();
    for (const w of all) w.stop();
    await Promise.allSettled(all.map((w) => w.done));
  }

  stats() {
    return { streams: this.jobs.size, targets: [...this.jobs.values()].reduce((n, j) => n + j.workers.length, 0) };
  }
}
