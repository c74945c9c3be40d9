/**
 * On-demand thumbnails for real: the edge misses R2, asks the API over its service binding (two
 * separate `wrangler dev` processes, joined by wrangler's dev registry), the API has the Node
 * transcoder render the frame with ffmpeg from the source (read back through a source-read token),
 * stores it in R2, and the next request is served from there. Tokens may pin the parameters.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PlaybackTokens } from "../support/api-types";
import { type E2E, startE2E, uploadFile } from "./support/e2e";
import { ffprobeJson, makeClip } from "./support/media";

describe("on-demand thumbnails end to end", () => {
  let e: E2E;
  let assetId: string;
  let playbackId: string;
  const work = mkdtempSync(path.join(tmpdir(), "keyframe-thumbs-"));

  async function probeJpeg(bytes: Uint8Array) {
    const file = path.join(work, `t-${Math.random().toString(36).slice(2)}.jpg`);
    writeFileSync(file, bytes);
    const s = (await ffprobeJson(file)).streams[0];
    return { codec: s.codec_name, width: s.width, height: s.height };
  }

  async function timedGet(p: string) {
    const started = performance.now();
    const res = await fetch(`${e.stack.edgeUrl}${p}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    return { res, bytes, ms: Math.round(performance.now() - started) };
  }

  beforeAll(async () => {
    e = await startE2E();
    // A 1080p source, so the render latency below is a 1080p decode.
    const clip = await makeClip(path.join(work, "clip.mp4"), { width: 1920, height: 1080, seconds: 6, fps: 30 });
    const up = await uploadFile(e, new Uint8Array(readFileSync(clip)));
    expect(up.putStatus).toBe(200);
    assetId = up.assetId as string;
    const asset = await e.waitForAsset(assetId, (a) => a.status === "ready" || a.status === "errored");
    expect(asset.status).toBe("ready");
    playbackId = asset.playback_ids[0].id;
  });

  afterAll(async () => {
    await e?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("renders a 320x180 crop on the first request and serves it from R2 on the second", async () => {
    const url = `/${playbackId}/thumbnail.jpg?time=1&width=320&height=180&fit_mode=crop`;
    const first = await timedGet(url);
    expect(first.res.status, new TextDecoder().decode(first.bytes.slice(0, 300))).toBe(200);
    expect(first.res.headers.get("content-type")).toBe("image/jpeg");
    expect(first.res.headers.get("x-keyframe-thumbnail")).toBe("rendered");
    expect(first.res.headers.get("cache-control")).toBe("public, max-age=86400");
    expect(await probeJpeg(first.bytes)).toEqual({ codec: "mjpeg", width: 320, height: 180 });

    const second = await timedGet(url);
    expect(second.res.status).toBe(200);
    expect(second.res.headers.get("x-keyframe-thumbnail")).toBe("cached");
    expect(Buffer.from(second.bytes).equals(Buffer.from(first.bytes))).toBe(true);

    // Other modes through the whole chain; a time past the end clamps to the last frame.
    const pad = await timedGet(`/${playbackId}/thumbnail.jpg?time=60&width=100&height=100&fit_mode=pad`);
    expect(pad.res.status).toBe(200);
    expect(pad.res.headers.get("x-keyframe-thumbnail-time")).toBe("5.9");
    expect(await probeJpeg(pad.bytes)).toEqual({ codec: "mjpeg", width: 100, height: 100 });
    const wide = await timedGet(`/${playbackId}/thumbnail.jpg?time=3&width=1280`);
    expect(await probeJpeg(wide.bytes)).toEqual({ codec: "mjpeg", width: 1280, height: 720 });

    console.log(
      `[thumbnails] 1080p source: first (rendered) ${first.ms} ms, second (R2) ${second.ms} ms, ` +
        `pad ${pad.ms} ms, 1280 wide ${wide.ms} ms`,
    );
  });

  it("refuses a different time than the one a thumbnail token pins (403)", async () => {
    const signed = await e.api("POST", `/v1/assets/${assetId}/playback-ids`, { policy: "signed" });
    expect(signed.status).toBe(201);
    const pb = signed.body.id as string;
    const minted = await e.api<PlaybackTokens>("POST", `/v1/playback-ids/${pb}/tokens`, {
      expires_in: 600,
      thumbnail: { time: 2, width: 320, height: 180, fit_mode: "crop" },
    });
    expect(minted.status).toBe(200);
    const token = minted.body.thumbnail as string;

    const other = await timedGet(`/${pb}/thumbnail.jpg?token=${token}&time=3`);
    expect(other.res.status).toBe(403);
    expect(JSON.parse(new TextDecoder().decode(other.bytes))).toMatchObject({ reason: "thumbnail_params_mismatch" });
    expect((await timedGet(`/${pb}/thumbnail.jpg?time=2&width=320&height=180&fit_mode=crop`)).res.status).toBe(401);

    const pinned = await timedGet(`/${pb}/thumbnail.jpg?token=${token}`);
    expect(pinned.res.status).toBe(200);
    expect(pinned.res.headers.get("cache-control")).toBe("private, max-age=86400");
    expect(await probeJpeg(pinned.bytes)).toEqual({ codec: "mjpeg", width: 320, height: 180 });
  });
});
