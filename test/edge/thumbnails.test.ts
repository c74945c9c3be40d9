/**
 * On-demand thumbnails at the edge: normalisation into one R2 key, rendering through the API service
 * binding on a miss (a Node stub that checks the HMAC, see thumbnail-api-stub.ts), serving the stored
 * object afterwards without calling the API, pinned token parameters, and every failure mapped to a
 * precise status.
 */
import { env, SELF } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { deriveEdgeApiSecret, signEdgeRequest, verifyEdgeRequest } from "../../src/lib/edge-auth";
import { normalizeThumbnail, type ThumbnailParams, thumbnailKey } from "../../src/lib/thumbnails";
import { clearEdgeCaches } from "../../workers/edge/src/index";
import { type SeededAsset, seedAsset, seedPlaybackId, seedSigningKey, sign } from "./seed";
import { STUB_JPEG } from "./thumbnail-api-stub";

const EDGE = "https://edge.test";
const get = (path: string, headers: Record<string, string> = {}) => SELF.fetch(`${EDGE}${path}`, { headers });
const api = () => (env as unknown as { API: Fetcher }).API;

async function stubCalls(): Promise<Record<string, unknown>[]> {
  return (await api().fetch("http://api/__stub/calls")).json();
}
async function stubNext(next: { status: number; code?: string; retry_after?: string }) {
  await api().fetch("http://api/__stub/next", { method: "POST", body: JSON.stringify(next) });
}

const VIDEO_TRACKS = JSON.stringify([{ type: "video", codec: "h264", width: 1280, height: 720 }]);

async function videoAsset(durationMs = 4000, tracks = VIDEO_TRACKS): Promise<SeededAsset> {
  const asset = await seedAsset();
  await env.DB.prepare("update assets set duration_ms = ?, tracks = ? where id = ?")
    .bind(durationMs, tracks, asset.assetId)
    .run();
  return asset;
}

/** What the API does after rendering: store the JPEG at the normalised key. */
async function storeAsApiWould(asset: SeededAsset, p: ThumbnailParams, bytes: Uint8Array = STUB_JPEG) {
  await env.MEDIA.put(thumbnailKey(asset.assetId, asset.runId, p), bytes, {
    httpMetadata: { contentType: "image/jpeg" },
  });
}

beforeEach(() => clearEdgeCaches());

describe("thumbnail.jpg with parameters", () => {
  it("renders a miss through the API, then serves the stored object without calling it", async () => {
    const asset = await videoAsset();
    const pb = await seedPlaybackId(asset);
    const before = (await stubCalls()).length;

    const first = await get(`/${pb}/thumbnail.jpg?time=1&width=320&height=180&fit_mode=crop`);
    expect(first.status).toBe(200);
    expect(first.headers.get("content-type")).toBe("image/jpeg");
    expect(first.headers.get("x-keyframe-thumbnail")).toBe("rendered");
    expect(first.headers.get("cache-control")).toBe("public, max-age=86400");
    expect(first.headers.get("access-control-allow-origin")).toBe("*");
    expect(new Uint8Array(await first.arrayBuffer())).toEqual(STUB_JPEG);
    const calls = (await stubCalls()).slice(before);
    // The stub verified the edge's HMAC before recording the call.
    expect(calls).toEqual([
      { asset_id: asset.assetId, playback_id: pb, time: 1, width: 320, height: 180, fit_mode: "crop" },
    ]);

    await storeAsApiWould(asset, { time: 1, width: 320, height: 180, fit_mode: "crop" });
    // Same image, differently spelled: 1.04 s rounds to 1.0 s.
    for (const q of ["time=1&width=320&height=180&fit_mode=crop", "time=1.04&width=320&height=180&fit_mode=crop"]) {
      const again = await get(`/${pb}/thumbnail.jpg?${q}`);
      expect(again.status).toBe(200);
      expect(again.headers.get("x-keyframe-thumbnail")).toBe("cached");
      expect(again.headers.get("cache-control")).toBe("public, max-age=86400");
      expect(again.headers.get("access-control-allow-origin")).toBe("*");
      expect(new Uint8Array(await again.arrayBuffer())).toEqual(STUB_JPEG);
    }
    // Range and conditional requests, as for other media.
    const ranged = await get(`/${pb}/thumbnail.jpg?time=1&width=320&height=180&fit_mode=crop`, { range: "bytes=0-1" });
    expect(ranged.status).toBe(206);
    expect(new Uint8Array(await ranged.arrayBuffer())).toEqual(STUB_JPEG.slice(0, 2));
    const etag = ranged.headers.get("etag") as string;
    const conditional = await get(`/${pb}/thumbnail.jpg?time=1&width=320&height=180&fit_mode=crop`, {
      "if-none-match": etag,
      range: "bytes=0-1",
    });
    expect(conditional.status).toBe(304);
    expect((await stubCalls()).length - before).toBe(1);
  }, 30_000);

  it("normalises before the lookup: clamps past the end, defaults the time and the fit mode", async () => {
    const asset = await videoAsset(4000);
    const pb = await seedPlaybackId(asset);
    const before = (await stubCalls()).length;
    await (await get(`/${pb}/thumbnail.jpg?time=3600&width=160&height=90`)).arrayBuffer();
    await (await get(`/${pb}/thumbnail.jpg?width=640&fit_mode=crop`)).arrayBuffer();
    await (await get(`/${pb}/thumbnail.jpg?fit_mode=pad`)).arrayBuffer();
    expect((await stubCalls()).slice(before)).toEqual([
      { asset_id: asset.assetId, playback_id: pb, time: 3.9, width: 160, height: 90, fit_mode: "preserve" },
      // No time: the poster's (1 s for a short clip). One dimension: the fit mode cannot matter.
      { asset_id: asset.assetId, playback_id: pb, time: 1, width: 640, height: null, fit_mode: "preserve" },
      { asset_id: asset.assetId, playback_id: pb, time: 1, width: null, height: null, fit_mode: "preserve" },
    ]);
    expect(normalizeThumbnail({ time: 3600 }, 4)).toEqual({
      time: 3.9,
      width: null,
      height: null,
      fit_mode: "preserve",
    });
    expect(thumbnailKey("as_1", "job_1", normalizeThumbnail({ time: 2.25, width: 320, height: 180 }, 10))).toBe(
      "assets/as_1/thumbs/job_1/2.3_320x180_preserve.jpg",
    );
  });

  it("refuses bad parameters, video-less assets and API failures precisely (never a 500)", async () => {
    const asset = await videoAsset();
    const pb = await seedPlaybackId(asset);
    const before = (await stubCalls()).length;
    for (const q of ["width=-1", "width=0", "height=3841", "fit_mode=zoom", "time=abc", "time=-1", "time=1e3"]) {
      const res = await get(`/${pb}/thumbnail.jpg?${q}`);
      expect(res.status, q).toBe(400);
      expect(await res.json()).toMatchObject({ reason: "invalid_thumbnail_params" });
    }
    const audio = await videoAsset(4000, JSON.stringify([{ type: "audio", codec: "aac" }]));
    const audioPb = await seedPlaybackId(audio);
    const noVideo = await get(`/${audioPb}/thumbnail.jpg?time=1`);
    expect(noVideo.status).toBe(404);
    expect(await noVideo.json()).toMatchObject({ reason: "no_video" });
    expect((await stubCalls()).length).toBe(before);

    const cases: [{ status: number; code?: string; retry_after?: string }, number, string, string | null][] = [
      [{ status: 503, code: "service_unavailable", retry_after: "7" }, 503, "thumbnail_rendering_busy", "7"],
      // The playback ID's render budget is spent (issue 10): the viewer is told when to retry.
      [{ status: 429, code: "rate_limited", retry_after: "60" }, 429, "thumbnail_rate_limited", "60"],
      [{ status: 404, code: "not_found" }, 404, "thumbnail_unavailable", null],
      [{ status: 409, code: "invalid_state" }, 404, "asset_not_ready", null],
      // The API refusing the edge's signature is an operator problem: unavailable, logged.
      [{ status: 401, code: "unauthenticated" }, 503, "thumbnail_rendering_unavailable", "30"],
      [{ status: 500, code: "internal_error" }, 503, "thumbnail_rendering_unavailable", "30"],
    ];
    for (const [next, status, reason, retryAfter] of cases) {
      await stubNext(next);
      const res = await get(`/${pb}/thumbnail.jpg?time=2`);
      expect(res.status, JSON.stringify(next)).toBe(status);
      expect(res.headers.get("retry-after")).toBe(retryAfter);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(await res.json()).toMatchObject({ reason });
    }
  }, 30_000);

  it("retries once when the connection to the API fails, never on an HTTP answer", async () => {
    const pb = await seedPlaybackId(await videoAsset());
    const before = (await stubCalls()).length;
    await stubNext({ status: 0 });
    const res = await get(`/${pb}/thumbnail.jpg?time=2&width=64`);
    expect(res.status).toBe(200);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(STUB_JPEG);
    expect((await stubCalls()).length - before).toBe(2);
  });

  it("serves signed thumbnails privately and enforces parameters pinned in the token", async () => {
    const asset = await videoAsset(10_000);
    const pb = await seedPlaybackId(asset, { policy: "signed" });
    const key = await seedSigningKey(asset.environmentId);
    const pinned = await sign(key, pb, "t", { claims: { time: 5, width: 320 } });
    const before = (await stubCalls()).length;

    const mismatch = await get(`/${pb}/thumbnail.jpg?token=${pinned}&time=6`);
    expect(mismatch.status).toBe(403);
    expect(await mismatch.json()).toMatchObject({ reason: "thumbnail_params_mismatch" });
    expect((await get(`/${pb}/thumbnail.jpg?time=1`)).status).toBe(401);

    // The pinned values apply without being repeated, and may be repeated in any numeric spelling.
    const res = await get(`/${pb}/thumbnail.jpg?token=${pinned}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("private, max-age=86400");
    await res.arrayBuffer();
    const same = await get(`/${pb}/thumbnail.jpg?token=${pinned}&time=5.0&width=320&height=200&fit_mode=pad`);
    expect(same.status).toBe(200);
    await same.arrayBuffer();
    expect((await stubCalls()).slice(before)).toEqual([
      { asset_id: asset.assetId, playback_id: pb, time: 5, width: 320, height: null, fit_mode: "preserve" },
      { asset_id: asset.assetId, playback_id: pb, time: 5, width: 320, height: 200, fit_mode: "pad" },
    ]);

    // Stored thumbnails of a signed playback ID still need the token.
    await storeAsApiWould(asset, { time: 5, width: 320, height: null, fit_mode: "preserve" });
    expect((await get(`/${pb}/thumbnail.jpg?time=5&width=320`)).status).toBe(401);
    const cached = await get(`/${pb}/thumbnail.jpg?token=${pinned}`);
    expect(cached.headers.get("x-keyframe-thumbnail")).toBe("cached");
    expect(cached.headers.get("cache-control")).toBe("private, max-age=86400");
    await cached.arrayBuffer();
  });

  it("signs with a secret derived from JOB_TOKEN_SECRET, bound to method, path, body and time", async () => {
    const e = env as unknown as { JOB_TOKEN_SECRET: string; EDGE_API_SECRET: string };
    // The binding the stub verifies against was derived with node:crypto; the Workers derivation agrees.
    expect(await deriveEdgeApiSecret(e.JOB_TOKEN_SECRET)).toBe(e.EDGE_API_SECRET);
    const secret = e.EDGE_API_SECRET;
    const body = '{"asset_id":"as_1"}';
    const h = await signEdgeRequest(secret, "POST", "/internal/thumbnails", body);
    const input = (over: Record<string, unknown> = {}) => ({
      method: "POST",
      path: "/internal/thumbnails",
      body,
      timestamp: h["x-keyframe-edge-timestamp"],
      signature: h["x-keyframe-edge-signature"],
      ...over,
    });
    expect(await verifyEdgeRequest(secret, input())).toEqual({ ok: true });
    expect(await verifyEdgeRequest(secret, input({ body: '{"asset_id":"as_2"}' }))).toEqual({
      ok: false,
      reason: "signature_invalid",
    });
    expect(await verifyEdgeRequest(secret, input({ path: "/internal/other" }))).toMatchObject({ ok: false });
    expect(await verifyEdgeRequest(`${secret}x`, input())).toMatchObject({ ok: false });
    expect(await verifyEdgeRequest(secret, input({ signature: null }))).toMatchObject({ reason: "signature_missing" });
    expect(await verifyEdgeRequest(secret, input(), Date.now() + 120_000)).toMatchObject({
      reason: "timestamp_skewed",
    });
  });

  it("still serves the pipeline's poster when no parameter is given", async () => {
    const pb = await seedPlaybackId(await videoAsset());
    const before = (await stubCalls()).length;
    const poster = await get(`/${pb}/thumbnail.jpg`);
    expect(poster.status).toBe(200);
    expect(poster.headers.get("x-keyframe-thumbnail")).toBeNull();
    expect(poster.headers.get("cache-control")).toBe("public, max-age=300");
    await poster.arrayBuffer();
    expect((await stubCalls()).length).toBe(before);
  });
});
