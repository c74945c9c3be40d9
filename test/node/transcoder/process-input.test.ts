/**
 * A process fed from a stream (the fast remux reads the growing source on stdin) whose input fails: the
 * download failed, or the job was cancelled and the reader threw its reason. The process is stopped with that
 * reason and the transcoder keeps running. pipe() does not forward a source's error; unheard, it was an
 * uncaught 'error' event that ended the transcoder and every job on it (seen when an asset was deleted
 * while its fast path read the source).
 */
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { runProcess } from "../../../transcoder/src/ffmpeg/process.js";
import { withoutCrashes } from "./helpers/crashes.js";

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
});
