/**
 * The bad-input list from the VOD issue, through the real stack: every case ends in the right state
 * with a precise error, and nothing is left in `processing`.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Asset } from "../support/api-types";
import { type E2E, startE2E, uploadFile } from "./support/e2e";
import { ffprobeJson, makeClip } from "./support/media";

const settled = (a: Asset) => a.status === "errored" || (a.status === "ready" && a.renditions_status === "complete");

describe("VOD bad input, end to end", () => {
  let e: E2E;
  let files: http.Server;
  let filesUrl = "";
  const work = mkdtempSync(path.join(tmpdir(), "keyframe-bad-"));

  beforeAll(async () => {
    // Private ingest URLs allowed so a local file server can play "the internet"; the refusal of
    // 127.0.0.1 / 169.254.169.254 under the default policy is covered in test/workers/pipeline-jobs.
    e = await startE2E({ ALLOW_PRIVATE_INGEST_URLS: "true" });
    files = http.createServer((req, res) => {
      if (req.url === "/clip.mp4") {
        const bytes = readFileSync(path.join(work, "url-clip.mp4"));
        res.writeHead(200, { "content-type": "video/mp4", "content-length": bytes.byteLength });
        res.end(bytes);
        return;
      }
      res.writeHead(404).end("not here");
    });
    await new Promise<void>((r) => files.listen(0, "127.0.0.1", r));
    filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
    await makeClip(path.join(work, "url-clip.mp4"), { seconds: 2, width: 320, height: 240 });
  });

  afterAll(async () => {
    await new Promise((r) => files?.close(r));
    await e?.close();
    rmSync(work, { recursive: true, force: true });
  });

  async function uploadAndSettle(bytes: Uint8Array, settings: Record<string, unknown> = { playback_policy: "public" }) {
    const up = await uploadFile(e, bytes, settings);
    expect(up.putStatus).toBe(200);
    return e.waitForAsset(up.assetId as string, settled, 180_000);
  }

  it("refuses a zero-byte file at the upload URL and creates no asset", async () => {
    const up = await uploadFile(e, new Uint8Array(0));
    expect(up.putStatus).toBe(400);
    expect(up.assetId).toBeNull();
    const upload = await e.api("GET", `/v1/uploads/${up.uploadId}`);
    expect(upload.body.status).toBe("waiting");
    expect(upload.body.asset_id).toBeNull();
  });

  it("errors a truncated MP4 as input_unreadable", async () => {
    const clip = readFileSync(await makeClip(path.join(work, "full.mp4"), { seconds: 2 }));
    const asset = await uploadAndSettle(new Uint8Array(clip.subarray(0, Math.floor(clip.byteLength / 2))));
    expect(asset.status).toBe("errored");
    expect(asset.error?.code).toBe("input_unreadable");
  });

  it("errors a PDF renamed .mp4 as input_unreadable", async () => {
    const pdf = Buffer.from(
      "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n".repeat(
        50,
      ),
    );
    const asset = await uploadAndSettle(new Uint8Array(pdf));
    expect(asset.status).toBe("errored");
    expect(asset.error?.code).toBe("input_unreadable");
    expect(asset.error?.message.length).toBeGreaterThan(5);
  });

  it("turns an audio-only file into an audio-only asset", async () => {
    const m4a = path.join(work, "audio.m4a");
    await makeClip(m4a, { video: false, seconds: 3 });
    const asset = await uploadAndSettle(new Uint8Array(readFileSync(m4a)));
    expect(asset.status).toBe("ready");
    expect(asset.tracks.map((t) => t.type)).toEqual(["audio"]);
    expect(asset.renditions.every((r) => r.type === "audio")).toBe(true);
    expect(asset.resolution).toBeNull();
    const master = await (await fetch(`${e.stack.edgeUrl}/${asset.playback_ids[0].id}.m3u8`)).text();
    expect(master).toContain("mp4a.40.2");
    expect(master).not.toContain("avc1");
  });

  it("caps a 4K source at max_resolution 1080p", async () => {
    const uhd = await makeClip(path.join(work, "uhd.mp4"), { width: 3840, height: 2160, seconds: 1, fps: 24 });
    const asset = await uploadAndSettle(new Uint8Array(readFileSync(uhd)), {
      playback_policy: "public",
      max_resolution: "1080p",
    });
    expect(asset.status).toBe("ready");
    const heights = asset.renditions.filter((r) => r.type === "video").map((r) => r.height!);
    expect(Math.max(...heights)).toBe(1080);
    expect(asset.resolution).toBe("1080p");
  });

  it("handles odd dimensions (853x481)", async () => {
    const odd = await makeClip(path.join(work, "odd.mp4"), { width: 853, height: 481, seconds: 2 });
    const asset = await uploadAndSettle(new Uint8Array(readFileSync(odd)));
    expect(asset.status).toBe("ready");
    for (const r of asset.renditions.filter((x) => x.type === "video")) {
      expect(r.width! % 2).toBe(0);
      expect(r.height! % 2).toBe(0);
      expect(r.height).toBeLessThanOrEqual(481);
    }
    const pb = asset.playback_ids[0].id;
    const probe = await ffprobeJson(
      `${e.stack.edgeUrl}/${pb}/${asset.renditions.find((r) => r.type === "video")?.playlist}`,
    );
    expect(probe.streams[0].codec_name).toBe("h264");
  });

  it("normalises a variable-frame-rate source", async () => {
    const vfr = await makeClip(path.join(work, "vfr.mp4"), { vfr: true, seconds: 3 });
    const asset = await uploadAndSettle(new Uint8Array(readFileSync(vfr)));
    expect(asset.status).toBe("ready");
    expect(asset.renditions_status).toBe("complete");
  });

  it("makes a video-only asset from a source without audio", async () => {
    const silent = await makeClip(path.join(work, "silent.mp4"), { audio: false, seconds: 2 });
    const asset = await uploadAndSettle(new Uint8Array(readFileSync(silent)));
    expect(asset.status).toBe("ready");
    expect(asset.tracks.map((t) => t.type)).toEqual(["video"]);
    expect(asset.renditions.some((r) => r.type === "audio")).toBe(false);
    const master = await (await fetch(`${e.stack.edgeUrl}/${asset.playback_ids[0].id}.m3u8`)).text();
    expect(master).not.toContain("mp4a");
  });

  it("errors an ingest URL that 404s as input_fetch_failed", async () => {
    const created = await e.api<Asset>("POST", "/v1/assets", {
      input: { url: `${filesUrl}/missing.mp4` },
      playback_policy: "public",
    });
    expect(created.status).toBe(201);
    const asset = await e.waitForAsset(created.body.id, settled, 120_000);
    expect(asset.status).toBe("errored");
    expect(asset.error?.code).toBe("input_fetch_failed");
  });

  it("ingests from a URL off the request path", async () => {
    const created = await e.api<Asset>("POST", "/v1/assets", {
      input: { url: `${filesUrl}/clip.mp4` },
      playback_policy: "public",
    });
    expect(created.status).toBe(201);
    expect(created.body.status).toBe("waiting");
    const asset = await e.waitForAsset(created.body.id, settled, 120_000);
    expect(asset.status).toBe("ready");
  });

  it("leaves nothing stuck in processing", async () => {
    const res = await e.api("GET", "/v1/assets?status=processing&limit=100");
    expect(res.body.data).toEqual([]);
  });
});
