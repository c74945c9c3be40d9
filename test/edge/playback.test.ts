/** Public playback at the edge: playlist rewriting, segments with Range, 404s, CORS, caching headers. */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { clearEdgeCaches } from "../../workers/edge/src/index";
import { SEGMENT, seedAsset, seedPlaybackId } from "./seed";

const EDGE = "https://edge.test";
const get = (path: string, headers: Record<string, string> = {}, method = "GET") =>
  SELF.fetch(`${EDGE}${path}`, { method, headers });
const text = async (res: Response) => new TextDecoder().decode(await res.arrayBuffer());

describe("public playback", () => {
  it("serves the master with variants rewritten to absolute /{playback_id}/ paths", async () => {
    const pb = await seedPlaybackId(await seedAsset());
    const res = await get(`/${pb}.m3u8`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/vnd.apple.mpegurl");
    expect(res.headers.get("cache-control")).toBe("public, max-age=60");
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    const body = await text(res);
    expect(body).toContain(`URI="/${pb}/audio/index.m3u8"`);
    expect(body).toContain(`\n/${pb}/v720/index.m3u8\n`);
    expect(body).toContain(`\n/${pb}/fast/index.m3u8\n`);
    expect(body).not.toContain("token=");
    expect(body).toContain("#EXT-X-INDEPENDENT-SEGMENTS");
  });

  it("short-caches the master while renditions are still preparing", async () => {
    const pb = await seedPlaybackId(await seedAsset({ renditionsStatus: "preparing" }));
    const res = await get(`/${pb}.m3u8`);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("public, max-age=5");
  });

  it("rewrites variant playlists: segments and EXT-X-MAP become absolute", async () => {
    const pb = await seedPlaybackId(await seedAsset());
    const res = await get(`/${pb}/v720/index.m3u8`);
    expect(res.status).toBe(200);
    const body = await text(res);
    expect(body).toContain(`#EXT-X-MAP:URI="/${pb}/v720/init.mp4"`);
    expect(body).toContain(`\n/${pb}/v720/seg_00000.m4s\n`);
    expect(body).toContain("#EXT-X-ENDLIST");
    expect(res.headers.get("cache-control")).toBe("public, max-age=300");
  });

  it("serves segments whole and by Range (206), with immutable caching and exposed headers", async () => {
    const pb = await seedPlaybackId(await seedAsset());
    const full = await get(`/${pb}/v720/seg_00000.m4s`);
    expect(full.status).toBe(200);
    expect(full.headers.get("content-type")).toBe("video/iso.segment");
    expect(full.headers.get("content-length")).toBe("1000");
    expect(full.headers.get("accept-ranges")).toBe("bytes");
    expect(full.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(full.headers.get("access-control-expose-headers")).toContain("Content-Range");
    expect(new Uint8Array(await full.arrayBuffer())).toEqual(SEGMENT);

    const part = await get(`/${pb}/v720/seg_00000.m4s`, { range: "bytes=100-199" });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe("bytes 100-199/1000");
    expect(part.headers.get("content-length")).toBe("100");
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(SEGMENT.slice(100, 200));

    const open = await get(`/${pb}/v720/seg_00000.m4s`, { range: "bytes=990-" });
    expect(open.status).toBe(206);
    expect(open.headers.get("content-range")).toBe("bytes 990-999/1000");
    expect(new Uint8Array(await open.arrayBuffer())).toEqual(SEGMENT.slice(990));

    const suffix = await get(`/${pb}/v720/seg_00000.m4s`, { range: "bytes=-10" });
    expect(suffix.status).toBe(206);
    expect(suffix.headers.get("content-range")).toBe("bytes 990-999/1000");
    await suffix.arrayBuffer();

    const past = await get(`/${pb}/v720/seg_00000.m4s`, { range: "bytes=5000-6000" });
    expect(past.status).toBe(416);
    expect(past.headers.get("content-range")).toBe("bytes */1000");

    const init = await get(`/${pb}/v720/init.mp4`);
    expect(init.status).toBe(200);
    expect(init.headers.get("content-type")).toBe("video/mp4");
    expect(init.headers.get("content-length")).toBe("100");
    await init.arrayBuffer();

    // The second whole-object GET comes from the colo cache (keyed by R2 key, not URL or token).
    const again = await get(`/${pb}/v720/seg_00000.m4s`);
    expect(again.headers.get("x-keyframe-cache")).toBe("HIT");
    expect(again.headers.get("content-length")).toBe("1000");
    expect(new Uint8Array(await again.arrayBuffer())).toEqual(SEGMENT);

    const etag = full.headers.get("etag") as string;
    const notModified = await get(`/${pb}/v720/seg_00000.m4s`, { "if-none-match": etag });
    expect(notModified.status).toBe(304);

    const head = await get(`/${pb}/v720/seg_00000.m4s`, {}, "HEAD");
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe("1000");
  });

  it("serves the poster and the storyboard (VTT cues rewritten to absolute sprite URLs)", async () => {
    const pb = await seedPlaybackId(await seedAsset());
    const poster = await get(`/${pb}/thumbnail.jpg`);
    expect(poster.status).toBe(200);
    expect(poster.headers.get("content-type")).toBe("image/jpeg");
    await poster.arrayBuffer();
    const vtt = await get(`/${pb}/storyboard.vtt`);
    expect(vtt.status).toBe(200);
    expect(vtt.headers.get("content-type")).toContain("text/vtt");
    expect(await text(vtt)).toContain(`/${pb}/storyboard.jpg#xywh=160,0,160,90`);
    const sprite = await get(`/${pb}/storyboard.jpg`);
    expect(sprite.status).toBe(200);
    expect(sprite.headers.get("content-type")).toBe("image/jpeg");
    await sprite.arrayBuffer();
  });

  it("renders thumbnails with parameters on demand (thumbnails.test.ts) and refuses invalid ones with 400", async () => {
    const pb = await seedPlaybackId(await seedAsset());
    const timed = await get(`/${pb}/thumbnail.jpg?time=3&width=320`);
    expect(timed.status).toBe(200);
    expect(timed.headers.get("x-keyframe-thumbnail")).toBe("rendered");
    await timed.arrayBuffer();
    const bad = await get(`/${pb}/thumbnail.jpg?width=-1`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ reason: "invalid_thumbnail_params" });
  });

  it("404s unknown, deleted, and not-ready playback IDs with a JSON reason", async () => {
    const unknown = await get("/pb_00000000000000000000000000.m3u8");
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: "not_found", reason: "unknown_playback_id" });

    const garbage = await get("/..%2F..%2Fetc.m3u8");
    expect(garbage.status).toBe(404);
    await garbage.arrayBuffer();

    const asset = await seedAsset();
    const deleted = await seedPlaybackId(asset, { deleted: true });
    const d = await get(`/${deleted}/v720/seg_00000.m4s`);
    expect(d.status).toBe(404);
    expect(await d.json()).toMatchObject({ reason: "playback_id_deleted" });

    const processing = await seedPlaybackId(await seedAsset({ status: "processing" }));
    const p = await get(`/${processing}.m3u8`);
    expect(p.status).toBe(404);
    expect(await p.json()).toMatchObject({ reason: "asset_not_ready" });

    const missingFile = await seedPlaybackId(await seedAsset());
    const m = await get(`/${missingFile}/v720/seg_09999.m4s`);
    expect(m.status).toBe(404);
    expect(await m.json()).toMatchObject({ reason: "not_found" });
  });

  it("stops serving within the cache TTL once the asset is deleted (cache flush shown here)", async () => {
    const asset = await seedAsset();
    const pb = await seedPlaybackId(asset);
    expect((await get(`/${pb}/v720/init.mp4`)).status).toBe(200);
    await env.DB.prepare("update assets set status = 'deleted', deleted_at = ? where id = ?")
      .bind(new Date().toISOString(), asset.assetId)
      .run();
    // Still served from the per-isolate state cache (≤ 30 s): the segment path does not read D1.
    const cached = await get(`/${pb}/v720/init.mp4`);
    expect(cached.status).toBe(200);
    await cached.arrayBuffer();
    clearEdgeCaches();
    const gone = await get(`/${pb}/v720/init.mp4`);
    expect(gone.status).toBe(404);
    expect(await gone.json()).toMatchObject({ reason: "asset_deleted" });
  });

  it("answers CORS preflight for players", async () => {
    const res = await SELF.fetch(`${EDGE}/pb_x/v720/seg_00000.m4s`, {
      method: "OPTIONS",
      headers: {
        origin: "https://player.example",
        "access-control-request-method": "GET",
        "access-control-request-headers": "range",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://player.example");
    expect(res.headers.get("access-control-allow-methods")).toContain("GET");
    expect(res.headers.get("access-control-allow-headers")).toBe("range");
  });

  it("reports health", async () => {
    const res = await get("/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true });
  });
});
