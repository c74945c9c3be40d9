/**
 * Sends progress on every stage change, at most once a second otherwise, and every heartbeatMs
 * regardless. One request in flight at a time, so the API sees reports in order; percent is the
 * whole job's and never goes down. An answer saying the job is gone cancels it.
 */
import type { JobStage } from "../../../src/lib/transcoder-protocol.js";
import type { ApiClient, ApiError } from "../api-client.js";
import type { Logger } from "../log.js";
import { isJobGone } from "./errors.js";

export class ProgressReporter {
  private stage: JobStage = "downloading";
  private percent = 0;
  private lastSent = 0;
  private inflight: Promise<void> | undefined;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly client: ApiClient,
    private readonly log: Logger,
    private readonly onCancel: (why: string) => void,
    private readonly heartbeatMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.send(), this.heartbeatMs);
    void this.send();
  }

  update(stage: JobStage, percent: number): void {
    const stageChanged = stage !== this.stage;
    this.stage = stage;
    this.percent = Math.max(this.percent, Math.min(100, Math.max(0, percent)));
    if (this.timer && (stageChanged || Date.now() - this.lastSent >= 1000)) void this.send();
  }

  private send(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.inflight) {
      this.dirty = true;
      return this.inflight;
    }
    const body = { stage: this.stage, percent: Math.round(this.percent * 10) / 10 };
    this.lastSent = Date.now();
    this.inflight = this.client
      .progress(body)
      .then((reply) => {
        if (reply.cancel) this.onCancel("the API asked to cancel");
      })
      .catch((err) => {
        if (isJobGone(err)) this.onCancel(`progress answered HTTP ${(err as ApiError).status}`);
        else this.log.warn("progress.failed", { error: err });
      })
      .finally(() => {
        this.inflight = undefined;
        if (this.dirty && !this.stopped) {
          this.dirty = false;
          void this.send();
        }
      });
    return this.inflight;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.inflight;
  }
}
