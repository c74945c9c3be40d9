/**
 * Animated previews at the edge: query snapped onto the grid (and capped), a miss rendered through the
 * API service binding (the HMAC-checking stub, thumbnail-api-stub.ts), the stored object served afterwards
 * without a call, aud `g` for signed playback IDs, and bad parameters refused precisely.
 */
import { env, SELF } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { animatedKey, normalizeAnimated } from "../../src/lib/animated";
import { clearEdgeCaches } from "../../workers/edge/src/index";
import { type SeededAsset, seedAsset, seedPlaybackId, seedSigningKey, sign } from "./seed";
import { STUB_GIF } from "./thumbnail-api-stub";

const EDGE = "https://edge.test";
const get = (path: string) => SELF.fetch(`${EDGE}${path}`);
const api = () => (env as unknown as { API: Fetcher }).API;
const animatedCalls = async () =>
  ((await (await api().fetch("http://api/__stub/calls")).json()) as Record<string, unknown>[]).filter(
    (c) => c.path === "/internal/animated",
  );

async function videoAsset(durationMs = 30_000): Promise<SeededAsset> {
  const asset = await seedAsset();
  await env.DB.prepare("update assets set duration_ms = ?, tracks = ? where id = ?")
    .bind(durationMs, JSON.stringify([{ type: "video", codec: "h264", width: 1280, height: 720 }]), asset.assetId)
    .run();
  return asset;
}

beforeEach(() => clearEdgeCaches());

describe("normalizeAnimated", () => {
  it("snaps to the grid and caps at 10 s, 640 px and 30 fps", () => {
    expect(normalizeAnimated("gif", {}, 30)).toEqual({ format: "gif", start: 0, end: 5, width: 320, fps: 15 });
    expect(normalizeAnimated("webp", { start: 2.7, end: 4.1, width: 300, fps: 12 }, 30)).toEqual({
      format: "webp",
      start: 2.5,
      end: 4.5,
      width: 320,
      fps: 15,
    });
    expect(normalizeAnimated("gif", { start: 1, end: 60, width: 4000, fps: 120 }, 30)).toEqual({
      format: "gif",
      start: 1,
      end: 11,
      width: 640,
      fps: 30,
    });
    // Clamped to the video's end; a start past the end is no preview at all.
    expect(normalizeAnimated("gif", { start: 28 }, 29.2)).toMatchObject({ start: 28, end: 29.5 });
    expect(normalizeAnimated("gif", { start: 31 }, 30)).toBeNull();
  });
});

describe("animated.gif|webp", () => {
  it("renders a miss through the API with the snapped parameters, then serves the stored object", async () => {
    const asset = await videoAsset();
    const pb = await seedPlaybackId(asset);
    const before = (await animatedCalls()).length;
    const first = await get(`/${pb}/animated.gif?start=3.2&end=5&width=200&fps=12`);
    expect(first.status).toBe(200);
    expect(first.headers.get("content-type")).toBe("image/gif");
    expect(first.headers.get("x-keyframe-thumbnail")).toBe("rendered");
    expect(first.headers.get("x-keyframe-animated")).toBe("start=3;end=5;width=240;fps=15");
    expect(first.headers.get("cache-control")).toBe("public, max-age=86400");
    expect(new Uint8Array(await first.arrayBuffer())).toEqual(STUB_GIF);
    const calls = (await animatedCalls()).slice(before);
    expect(calls).toEqual([
      {
        path: "/internal/animated",
        asset_id: asset.assetId,
        format: "gif",
        start: 3,
        end: 5,
        width: 240,
        fps: 15,
        playback_id: pb,
      },
    ]);

    // What the API does after rendering: store it under the normalised key. Then no call at all.
    const p = normalizeAnimated("gif", { start: 3.2, end: 5, width: 200, fps: 12 }, 30);
    await env.MEDIA.put(animatedKey(asset.assetId, asset.runId, p as NonNullable<typeof p>), STUB_GIF, {
      httpMetadata: { contentType: "image/gif" },
    });
    const second = await get(`/${pb}/animated.gif?start=3.4&end=4.9&width=221&fps=14`);
    expect(second.status).toBe(200);
    expect(second.headers.get("x-keyframe-thumbnail")).toBe("cached");
    expect(second.headers.get("content-type")).toBe("image/gif");
    expect((await animatedCalls()).length).toBe(before + 1);

    const webp = await get(`/${pb}/animated.webp`);
    expect(webp.status).toBe(200);
    expect(webp.headers.get("content-type")).toBe("image/webp");
    expect((await animatedCalls()).at(-1)).toMatchObject({ format: "webp", start: 0, end: 5, width: 320, fps: 15 });
  });

  it("refuses malformed parameters and starts past the end with 400", async () => {
    const asset = await videoAsset(10_000);
    const pb = await seedPlaybackId(asset);
    for (const q of ["start=-1", "start=abc", "end=2&start=3", "end=1&start=1", "width=0", "fps=1.5", "width=x"]) {
      const res = await get(`/${pb}/animated.gif?${q}`);
      expect(res.status, q).toBe(400);
      expect(((await res.json()) as { reason: string }).reason, q).toBe("invalid_animated_params");
    }
    const late = await get(`/${pb}/animated.gif?start=12`);
    expect(late.status).toBe(400);
    expect((await get(`/${pb}/animated.png`)).status).toBe(404);
  });

  it("signed playback needs a token with aud g", async () => {
    const asset = await videoAsset();
    const pb = await seedPlaybackId(asset, { policy: "signed" });
    const key = await seedSigningKey(asset.environmentId);
    expect((await get(`/${pb}/animated.gif`)).status).toBe(401);
    expect((await get(`/${pb}/animated.gif?token=${await sign(key, pb, "t")}`)).status).toBe(403);
    const ok = await get(`/${pb}/animated.gif?token=${await sign(key, pb, "g")}`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("cache-control")).toBe("private, max-age=86400");
  });

  it("maps the API's refusals: cap or budget spent → 429, busy → 503, both with Retry-After", async () => {
    const asset = await videoAsset();
    const pb = await seedPlaybackId(asset);
    await api().fetch("http://api/__stub/next", {
      method: "POST",
      body: JSON.stringify({ status: 429, retry_after: "42" }),
    });
    const limited = await get(`/${pb}/animated.gif?start=7`);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("42");
    expect(((await limited.json()) as { reason: string }).reason).toBe("animated_rate_limited");
    await api().fetch("http://api/__stub/next", {
      method: "POST",
      body: JSON.stringify({ status: 503, retry_after: "3" }),
    });
    const busy = await get(`/${pb}/animated.gif?start=8`);
    expect(busy.status).toBe(503);
    expect(busy.headers.get("retry-after")).toBe("3");
  });
});
