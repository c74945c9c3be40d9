/**
 * MP4 downloads end to end: a clip uploaded with mp4_support "standard" through the real stack (API,
 * queue, transcoder with ffmpeg, edge) becomes ready, then its static rendition becomes ready; the
 * edge serves it as an attachment to a download token (aud d) and refuses the video token; ffprobe
 * reads the bytes as a faststart H.264 + AAC MP4 at the ladder's top height.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Event, Page, PlaybackTokens } from "../support/api-types";
import { type E2E, startE2E, uploadFile } from "./support/e2e";
import { ffprobeJson, makeClip } from "./support/media";
import { topLevelBoxes } from "./support/mp4-boxes";

describe("MP4 downloads end to end", () => {
  let e: E2E;
  const work = mkdtempSync(path.join(tmpdir(), "keyframe-dl-"));

  beforeAll(async () => {
    e = await startE2E();
  });
  afterAll(async () => {
    await e?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("uploads with mp4_support standard and downloads highest.mp4 through the edge with an aud d token", async () => {
    const clip = await makeClip(path.join(work, "clip.mp4"), { width: 640, height: 360, seconds: 4 });
    const up = await uploadFile(e, new Uint8Array(readFileSync(clip)), {
      playback_policy: "signed",
      mp4_support: "standard",
      title: "Démo clip",
    });
    expect(up.putStatus).toBe(200);
    const assetId = up.assetId as string;
    const ready = await e.waitForAsset(
      assetId,
      (a) => a.status === "errored" || (a.status === "ready" && a.static_renditions.status !== "preparing"),
      60_000,
    );
    expect(ready.status).toBe("ready");
    expect(ready.mp4_support).toBe("standard");
    expect(ready.static_renditions).toEqual({
      status: "ready",
      files: [
        {
          name: "highest.mp4",
          ext: "mp4",
          width: 640,
          height: 360,
          bitrate: expect.any(Number),
          filesize: expect.any(Number),
        },
        { name: "audio.m4a", ext: "m4a", bitrate: expect.any(Number), filesize: expect.any(Number) },
      ],
    });
    const playbackId = ready.playback_ids[0].id;
    expect(ready.playback_ids[0].urls.download).toBe(`${e.stack.edgeUrl}/${playbackId}/downloads/highest.mp4`);

    const tokens = await e.api<PlaybackTokens>("POST", `/v1/playback-ids/${playbackId}/tokens`, {});
    expect(tokens.status).toBe(200);
    expect(tokens.body.urls.download).toBe(
      `${e.stack.edgeUrl}/${playbackId}/downloads/highest.mp4?token=${tokens.body.download}`,
    );

    // The edge caches "preparing" for at most 5 s per isolate: allow for it.
    let res: Response | undefined;
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
      res = await fetch(tokens.body.urls.download!);
      if (res.status !== 404) break;
      await res.arrayBuffer();
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(res?.status).toBe(200);
    expect(res?.headers.get("content-type")).toBe("video/mp4");
    expect(res?.headers.get("content-disposition")).toBe(
      `attachment; filename="D_mo clip.mp4"; filename*=UTF-8''D%C3%A9mo%20clip.mp4`,
    );
    const bytes = new Uint8Array(await (res as Response).arrayBuffer());
    expect(bytes.byteLength).toBe(ready.static_renditions.files[0].filesize);
    const file = path.join(work, "downloaded.mp4");
    writeFileSync(file, bytes);

    const probed = await ffprobeJson(file);
    const streams = probed.streams.map((s) => [s.codec_type, s.codec_name]);
    expect(streams).toEqual([
      ["video", "h264"],
      ["audio", "aac"],
    ]);
    expect(probed.streams[0].height).toBe(360);
    expect(Math.abs(Number(probed.format.duration) - ready.duration!)).toBeLessThan(0.2);
    const boxes = topLevelBoxes(bytes);
    expect(boxes.indexOf("moov")).toBeLessThan(boxes.indexOf("mdat"));

    const part = await fetch(tokens.body.urls.download!, { headers: { range: "bytes=0-99" } });
    expect(part.status).toBe(206);
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(bytes.slice(0, 100));

    // The video token plays the stream but does not download.
    const withVideoToken = await fetch(
      `${e.stack.edgeUrl}/${playbackId}/downloads/highest.mp4?token=${tokens.body.video}`,
    );
    expect(withVideoToken.status).toBe(403);
    expect(((await withVideoToken.json()) as { reason: string }).reason).toBe("wrong_audience");
    const master = await fetch(tokens.body.urls.master);
    expect(master.status).toBe(200);
    await master.arrayBuffer();

    const events = await e.api<Page<Event>>("GET", "/v1/events?limit=100");
    const types = events.body.data.filter((ev) => ev.data.asset_id === assetId).map((ev) => ev.type);
    expect(types.filter((t: string) => t === "asset.static_renditions.ready")).toHaveLength(1);
  });
});
