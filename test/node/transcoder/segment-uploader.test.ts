/** SegmentUploader on a real folder: a segment goes up only once it is final, never twice. */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SegmentUploader } from "../../../transcoder/src/segment-uploader.js";
import { removeDir, tempDir } from "./helpers/media.js";

let dir: string;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await removeDir(dir);
});

async function until(check: () => boolean, ms = 2000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(10);
  }
}

describe("SegmentUploader", () => {
  it("uploads a segment once the next exists, the last ones on finish, and nothing else", async () => {
    const out = path.join(dir, "ok");
    for (const d of ["v720", "audio"]) await mkdir(path.join(out, d), { recursive: true });
    const put: string[] = [];
    const up = new SegmentUploader({
      outputDir: out,
      dirs: ["v720", "audio"],
      concurrency: 2,
      pollMs: 20,
      put: async (rel) => {
        put.push(rel);
        return 10;
      },
    });
    await writeFile(path.join(out, "v720/init.mp4"), "i");
    await writeFile(path.join(out, "v720/seg_00000.m4s"), "a");
    await writeFile(path.join(out, "audio/seg_00000.m4s"), "a");
    // Not started yet (the fast path still runs): nothing goes up.
    await sleep(60);
    expect(put).toEqual([]);
    up.start();
    await sleep(80);
    // Each is the newest of its rendition: ffmpeg may still be writing it.
    expect(put).toEqual([]);
    await writeFile(path.join(out, "v720/seg_00001.m4s"), "b");
    await until(() => put.length === 1);
    expect(put).toEqual(["v720/seg_00000.m4s"]);
    await writeFile(path.join(out, "v720/seg_00002.m4s"), "c");
    await writeFile(path.join(out, "v720/index.m3u8"), "#EXTM3U");
    await until(() => put.length === 2);
    await up.finish();
    expect(put.sort()).toEqual([
      "audio/seg_00000.m4s",
      "v720/seg_00000.m4s",
      "v720/seg_00001.m4s",
      "v720/seg_00002.m4s",
    ]);
    expect([...up.uploaded].sort()).toEqual(put);
    expect(up.files).toBe(4);
    expect(up.bytes).toBe(40);
  });

  it("reports the first failure once, starts nothing after it, and rethrows it from finish", async () => {
    const out = path.join(dir, "fail");
    await mkdir(path.join(out, "v360"), { recursive: true });
    for (let i = 0; i < 6; i++) await writeFile(path.join(out, `v360/seg_0000${i}.m4s`), "x");
    const errors: unknown[] = [];
    let calls = 0;
    const up = new SegmentUploader({
      outputDir: out,
      dirs: ["v360"],
      concurrency: 1,
      pollMs: 20,
      put: async () => {
        calls++;
        throw new Error("R2 is down");
      },
      onError: (err) => errors.push(err),
    });
    up.start();
    await until(() => errors.length === 1);
    await expect(up.finish()).rejects.toThrow("R2 is down");
    expect(calls).toBe(1);
    expect(errors).toHaveLength(1);
    await up.stop();
  });
});
