/**
 * Multipart outputs end to end: with the transcoder's multipart threshold lowered to 1 KiB, every
 * output over it (the MP4 download, segments, init sections) goes through the real API's
 * outputs-multipart endpoints into local R2; the asset becomes ready, plays, and the download the
 * edge serves is the size the API measured and a valid faststart MP4.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type E2E, startE2E, uploadFile } from "./support/e2e";
import { ffprobeJson, makeClip } from "./support/media";
import { topLevelBoxes } from "./support/mp4-boxes";

describe("multipart outputs end to end", () => {
  let e: E2E;
  const work = mkdtempSync(path.join(tmpdir(), "keyframe-mp-"));

  beforeAll(async () => {
    e = await startE2E({}, { KEYFRAME_MULTIPART_THRESHOLD_BYTES: "1024" });
  });
  afterAll(async () => {
    await e?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("stores every large output through multipart and serves the download whole", async () => {
    const clip = await makeClip(path.join(work, "clip.mp4"), { width: 640, height: 360, seconds: 4 });
    const up = await uploadFile(e, new Uint8Array(readFileSync(clip)), {
      playback_policy: "public",
      mp4_support: "standard",
    });
    expect(up.putStatus).toBe(200);
    const ready = await e.waitForAsset(
      up.assetId as string,
      (a) => a.status === "errored" || (a.status === "ready" && a.static_renditions.status !== "preparing"),
      60_000,
    );
    expect(ready.status).toBe("ready");
    expect(ready.static_renditions.status).toBe("ready");
    const playbackId = ready.playback_ids[0].id;

    const master = await fetch(`${e.stack.edgeUrl}/${playbackId}.m3u8`);
    expect(master.status).toBe(200);
    await master.arrayBuffer();

    let res: Response | undefined;
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
      res = await fetch(`${e.stack.edgeUrl}/${playbackId}/downloads/highest.mp4`);
      if (res.status !== 404) break;
      await res.arrayBuffer();
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(res?.status).toBe(200);
    // R2 gives an object assembled from parts an ETag ending in -<part count>: proof it went multipart.
    expect(res?.headers.get("etag")).toMatch(/-1"?$/);
    const bytes = new Uint8Array(await (res as Response).arrayBuffer());
    expect(bytes.byteLength).toBe(ready.static_renditions.files[0].filesize);
    const file = path.join(work, "downloaded.mp4");
    writeFileSync(file, bytes);
    const probed = await ffprobeJson(file);
    expect(probed.streams[0].height).toBe(360);
    expect(Math.abs(Number(probed.format.duration) - ready.duration!)).toBeLessThan(0.2);
    const boxes = topLevelBoxes(bytes);
    expect(boxes.indexOf("moov")).toBeLessThan(boxes.indexOf("mdat"));
  });
});
