/**
 * A process fed from a stream (the fast remux reads the growing source on stdin) whose input fails: the
 * download failed, or the job was cancelled and the reader threw its reason. The process is stopped with that
 * reason and the transcoder keeps running. pipe() does not forward a source's error; unheard, it was an
 * uncaught 'error' event that ended the transcoder and every job on it (seen when an asset was deleted
 * while its fast path read the source).
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { runProcess } from "../../../transcoder/src/ffmpeg/process.js";
import { GrowingFile } from "../../../transcoder/src/job/growing-file.js";
import { withoutCrashes } from "./helpers/crashes.js";
import { removeDir, tempDir } from "./helpers/media.js";

class Cancelled extends Error {}

/** One chunk, then (after `afterMs`) the error, as GrowingFile.reader does when the download or the job fails. */
function failingInput(err: Error, afterMs = 50): Readable {
  return Readable.from(
    (async function* () {
      yield Buffer.from("first bytes\n");
      await new Promise((r) => setTimeout(r, afterMs));
      throw err;
    })(),
  );
}

describe("a process whose stdin stream fails", () => {
  it("is stopped with the input's error (cat would otherwise wait for more forever)", async () => {
    const { crashes, result } = await withoutCrashes(() =>
      runProcess("cat", [], {
        stdin: failingInput(new Error("the source download failed: HTTP 503")),
        timeoutMs: 5_000,
      }),
    );
    expect(crashes).toEqual([]);
    expect(result.status).toBe("rejected");
    expect(String((result as PromiseRejectedResult).reason)).toMatch(
      /cat failed \(its input failed: the source download failed: HTTP 503\)/,
    );
  });

  it("rejects with the abort's reason when the job is cancelled and its input throws that reason", async () => {
    const stop = new AbortController();
    const reason = new Cancelled("progress answered HTTP 410");
    const input = Readable.from(
      (async function* () {
        yield Buffer.from("first bytes\n");
        await new Promise((r) => setTimeout(r, 50));
        stop.abort(reason);
        stop.signal.throwIfAborted();
      })(),
    );
    const { crashes, result } = await withoutCrashes(() =>
      runProcess("cat", [], { stdin: input, signal: stop.signal, timeoutMs: 5_000 }),
    );
    expect(crashes).toEqual([]);
    expect(result).toEqual({ status: "rejected", reason });
  });

  it("ends its input when it exits before the end (a GrowingFile reader closes its file handle)", async () => {
    const dir = await tempDir();
    try {
      const file = path.join(dir, "source");
      // More than the process reads: `head -c` exits after 1 MiB, as ffmpeg does after an MP4's last sample.
      await writeFile(file, Buffer.alloc(4 * 1024 * 1024, 7));
      const growing = new GrowingFile(file);
      growing.complete(4 * 1024 * 1024);
      const input = growing.reader();
      const closed = new Promise<void>((resolve) => input.once("close", () => resolve()));
      await runProcess("head", ["-c", String(1024 * 1024)], { stdin: input, timeoutMs: 5_000 });
      // Left paused, the reader's generator never reached its `finally` and its FileHandle was closed by the
      // garbage collector (DEP0137), one per streamed job.
      const outcome = await Promise.race([
        closed.then(() => "closed"),
        new Promise((r) => setTimeout(() => r("open"), 2_000)),
      ]);
      expect(outcome).toBe("closed");
      expect(input.destroyed).toBe(true);
    } finally {
      await removeDir(dir);
    }
  });
});
