/**
 * A file being downloaded, readable while it grows: the download reports how far it has written, and
 * each reader streams the bytes from the start, waiting at the write position until more arrive, and
 * ends when the download is complete. This is how the remux reads the source as it streams in while the
 * same bytes land on disk for the ladder.
 */
import { open } from "node:fs/promises";
import { Readable } from "node:stream";

const CHUNK = 1024 * 1024;

export class GrowingFile {
  private written = 0;
  private done = false;
  private failure: unknown;
  private wakers: (() => void)[] = [];

  constructor(readonly path: string) {}

  /** The download has written `bytes` from the start. A smaller number means it started over. */
  progress(bytes: number): void {
    if (bytes < this.written) this.fail(new Error("the source download started over"));
    this.written = bytes;
    this.wake();
  }

  complete(bytes: number): void {
    this.written = bytes;
    this.done = true;
    this.wake();
  }

  fail(err: unknown): void {
    this.failure ??= err;
    this.wake();
  }

  private wake(): void {
    for (const w of this.wakers.splice(0)) w();
  }

  private waitPast(position: number, signal?: AbortSignal): Promise<void> {
    if (this.failure || this.done || this.written > position || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => this.wakers.push(resolve));
  }

  /** The file from byte 0 to the end of the download, as it arrives. */
  reader(signal?: AbortSignal): Readable {
    const self = this;
    return Readable.from(
      (async function* () {
        // A reader stopped while it waits (a remux the probe discarded, ./streaming-remux.ts) ends then, not
        // whenever the download next moves, or never.
        const onAbort = () => self.wake();
        signal?.addEventListener("abort", onAbort, { once: true });
        try {
          yield* self.read(signal);
        } finally {
          signal?.removeEventListener("abort", onAbort);
        }
      })(),
      { objectMode: false },
    );
  }

  private async *read(signal?: AbortSignal): AsyncGenerator<Buffer> {
    // The download creates the file: wait for its first bytes before opening it.
    await this.waitPast(0, signal);
    signal?.throwIfAborted();
    if (this.failure) throw this.failure;
    if (this.written === 0) return;
    const fh = await open(this.path, "r");
    try {
      let position = 0;
      for (;;) {
        await this.waitPast(position, signal);
        signal?.throwIfAborted();
        if (this.failure) throw this.failure;
        if (position >= this.written) {
          if (this.done) return;
          continue;
        }
        const length = Math.min(CHUNK, this.written - position);
        const buf = Buffer.allocUnsafe(length);
        const { bytesRead } = await fh.read(buf, 0, length, position);
        if (bytesRead === 0) throw new Error("the source file is shorter than the download said");
        position += bytesRead;
        yield buf.subarray(0, bytesRead);
      }
    } finally {
      await fh.close();
    }
  }
}
