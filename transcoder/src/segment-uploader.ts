/**
 * Uploads media segments while the ladder is still encoding, so little is left to upload when
 * ffmpeg exits. It watches the rendition folders (a cheap readdir every pollMs) and uploads a
 * segment once it is final: when the next segment of the same rendition exists (ffmpeg closes a
 * segment before it creates the next one, in every version we support) or, for the last one,
 * when the caller says ffmpeg has exited (`finish`).
 *
 * Only `seg_NNNNN.m4s` files are its business. init.mp4 and the media playlists are uploaded by
 * the caller afterwards, so a variant playlist is written once, complete, and never before the
 * segments it lists.
 */
import { readdir } from "node:fs/promises";
import path from "node:path";

const SEGMENT_RE = /^seg_(\d+)\.m4s$/;

export interface SegmentUploaderOptions {
  outputDir: string;
  /** Rendition folders under outputDir (e.g. v1080, v720, audio). */
  dirs: readonly string[];
  /** Uploads one file (path relative to outputDir); resolves to its size in bytes. */
  put: (rel: string) => Promise<number>;
  concurrency: number;
  /** Called once, with the first upload failure; the caller should stop the encoder. */
  onError?: (err: unknown) => void;
  /** Called as each segment is stored. */
  onUploaded?: (rel: string) => void;
  pollMs?: number;
}

export class SegmentUploader {
  private readonly queued = new Set<string>();
  private readonly pending: string[] = [];
  private active = 0;
  private failure: { error: unknown } | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private scans: Promise<void> = Promise.resolve();
  private waiters: (() => void)[] = [];
  /** Segments uploaded, and their bytes. */
  files = 0;
  bytes = 0;
  /** Segments another instance stored (markStored), and their bytes. */
  storedElsewhere = { files: 0, bytes: 0 };

  constructor(private readonly options: SegmentUploaderOptions) {}

  /** Starts watching. Call once; until then nothing is uploaded. */
  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => void this.scan(false), this.options.pollMs ?? 500);
    void this.scan(false);
  }

  /**
   * A segment already in storage (a remote ladder chunk wrote it, ladder-chunks/remote.ts): call before
   * it appears in its folder, and it is never uploaded from here.
   */
  markStored(rel: string, bytes: number): void {
    if (this.queued.has(rel)) return;
    this.queued.add(rel);
    this.storedElsewhere.files++;
    this.storedElsewhere.bytes += bytes;
  }

  /** Every segment uploaded so far, or stored elsewhere (relative paths). */
  get uploaded(): ReadonlySet<string> {
    return this.queued;
  }

  /**
   * ffmpeg has exited successfully: every segment on disk is final. Uploads what is left and
   * resolves when all are done; rejects with the first upload failure.
   */
  async finish(): Promise<void> {
    this.stopTimer();
    await this.scan(true);
    await this.drained();
    if (this.failure) throw this.failure.error;
  }

  /** Stops starting uploads and waits for the ones in flight (before the caller deletes the files). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopTimer();
    this.pending.length = 0;
    await this.scans.catch(() => undefined);
    await this.drained();
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Scans are chained so two never interleave and the final one sees every earlier enqueue. */
  private scan(final: boolean): Promise<void> {
    this.scans = this.scans.then(() => this.scanOnce(final)).catch(() => undefined);
    return this.scans;
  }

  private async scanOnce(final: boolean): Promise<void> {
    if (this.stopped) return;
    for (const dir of this.options.dirs) {
      const names = await readdir(path.join(this.options.outputDir, dir)).catch(() => [] as string[]);
      const segments = names
        .map((name) => ({ name, index: SEGMENT_RE.exec(name)?.[1] }))
        .filter((s): s is { name: string; index: string } => s.index !== undefined)
        .map((s) => ({ name: s.name, index: Number(s.index) }))
        .sort((a, b) => a.index - b.index);
      const last = segments.at(-1)?.index;
      for (const seg of segments) {
        if (!final && seg.index === last) continue;
        const rel = `${dir}/${seg.name}`;
        if (this.queued.has(rel)) continue;
        this.queued.add(rel);
        this.pending.push(rel);
      }
    }
    this.pump();
  }

  private pump(): void {
    while (!this.stopped && !this.failure && this.active < this.options.concurrency && this.pending.length > 0) {
      const rel = this.pending.shift() as string;
      this.active++;
      this.options
        .put(rel)
        .then(
          (size) => {
            this.files++;
            this.bytes += size;
            this.options.onUploaded?.(rel);
          },
          (error) => {
            if (!this.failure) {
              this.failure = { error };
              this.options.onError?.(error);
            }
          },
        )
        .finally(() => {
          this.active--;
          this.pump();
          if (this.active === 0 && (this.pending.length === 0 || this.stopped || this.failure)) {
            for (const wake of this.waiters.splice(0)) wake();
          }
        });
    }
  }

  private drained(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
