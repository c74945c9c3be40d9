/** Instant clips at the edge: trimmed playlists, the range carried into children, token pinning, bad ranges. */
import { env, SELF } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { clearEdgeCaches } from "../../workers/edge/src/index";
import { type SeededAsset, seedAsset, seedPlaybackId, seedSigningKey, sign } from "./seed";

const EDGE = "https://edge.test";
const get = (path: string) => SELF.fetch(`${EDGE}${path}`);
const segs = (text: string) => text.split("\n").filter((l) => !l.startsWith("#") && l.trim() !== "");

/** The seeded variants are 6 s + 4 s; give the asset its 10 s duration the way the pipeline records it. */
async function clipAsset(): Promise<SeededAsset> {
  const asset = await seedAsset();
  await env.DB.prepare("update assets set duration_ms = 10000 where id = ?").bind(asset.assetId).run();
  return asset;
}

async function refused(path: string, status: number, reason: string, message?: RegExp) {
  const res = await get(path);
  const body = (await res.json()) as { reason: string; message: string };
  expect({ status: res.status, reason: body.reason }, path).toEqual({ status, reason });
  if (message) expect(body.message).toMatch(message);
}

beforeEach(() => clearEdgeCaches());

describe("instant clips", () => {
  it("carries the range into child playlists and trims each to the overlapping segments", async () => {
    const pb = await seedPlaybackId(await clipAsset());
    const master = await (await get(`/${pb}.m3u8?asset_start_time=7&asset_end_time=9.5`)).text();
    expect(master).toContain(`\n/${pb}/v720/index.m3u8?asset_start_time=7&asset_end_time=9.5\n`);
    expect(master).toContain(`URI="/${pb}/audio/index.m3u8?asset_start_time=7&asset_end_time=9.5"`);
    const variant = await (await get(`/${pb}/v720/index.m3u8?asset_start_time=7&asset_end_time=9.5`)).text();
    expect(segs(variant)).toEqual([`/${pb}/v720/seg_00001.m4s`]);
    expect(variant).toContain(`#EXT-X-MAP:URI="/${pb}/v720/init.mp4"`);
    expect(variant).toContain("#EXT-X-ENDLIST");
    // A range across the boundary keeps both segments; no range keeps everything.
    const both = await (await get(`/${pb}/v720/index.m3u8?asset_start_time=5.9&asset_end_time=6.1`)).text();
    expect(segs(both)).toHaveLength(2);
    expect(segs(await (await get(`/${pb}/v720/index.m3u8?asset_end_time=6`)).text())).toEqual([
      `/${pb}/v720/seg_00000.m4s`,
    ]);
    expect(segs(await (await get(`/${pb}/v720/index.m3u8`)).text())).toHaveLength(2);
  });

  it("refuses bad ranges with a precise reason and message", async () => {
    const pb = await seedPlaybackId(await clipAsset());
    for (const path of [`/${pb}.m3u8`, `/${pb}/v720/index.m3u8`]) {
      await refused(`${path}?asset_start_time=-1`, 400, "invalid_clip_range", /non-negative number/);
      await refused(`${path}?asset_start_time=abc`, 400, "invalid_clip_range", /got 'abc'/);
      await refused(`${path}?asset_start_time=5&asset_end_time=5`, 400, "invalid_clip_range", /greater than/);
      await refused(`${path}?asset_start_time=8&asset_end_time=2`, 400, "invalid_clip_range", /greater than/);
      await refused(`${path}?asset_start_time=10`, 400, "invalid_clip_range", /beyond the end of the video \(10 s\)/);
    }
  });

  it("live/event playlists (no ENDLIST) are not clipped", async () => {
    const asset = await clipAsset();
    const pb = await seedPlaybackId(asset);
    await env.MEDIA.put(
      `assets/${asset.assetId}/runs/${asset.runId}/v720/index.m3u8`,
      "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.000,\nseg_00000.m4s\n",
    );
    await refused(`/${pb}/v720/index.m3u8?asset_start_time=1`, 400, "clip_not_vod");
  });

  it("a token may pin the range: applied without a query, a different query refused", async () => {
    const asset = await clipAsset();
    const pb = await seedPlaybackId(asset, { policy: "signed" });
    const key = await seedSigningKey(asset.environmentId);
    const token = await sign(key, pb, "v", { claims: { asset_start_time: 7, asset_end_time: 9 } });
    const master = await get(`/${pb}.m3u8?token=${token}`);
    expect(master.status).toBe(200);
    expect(await master.text()).toContain(`/${pb}/v720/index.m3u8?asset_start_time=7&asset_end_time=9&token=${token}`);
    // Stripping the query does not lift the pin.
    const bare = await (await get(`/${pb}/v720/index.m3u8?token=${token}`)).text();
    expect(segs(bare)).toEqual([`/${pb}/v720/seg_00001.m4s?token=${token}`]);
    // The same values (as numbers) are fine; different ones are refused.
    expect((await get(`/${pb}/v720/index.m3u8?token=${token}&asset_start_time=7.0&asset_end_time=9`)).status).toBe(200);
    await refused(`/${pb}.m3u8?token=${token}&asset_start_time=0`, 403, "clip_params_mismatch");
    await refused(`/${pb}/v720/index.m3u8?token=${token}&asset_end_time=10`, 403, "clip_params_mismatch");
    // A pin on one bound leaves the other to the query.
    const half = await sign(key, pb, "v", { claims: { asset_start_time: 7 } });
    expect((await get(`/${pb}/v720/index.m3u8?token=${half}&asset_end_time=9`)).status).toBe(200);
    // A bad pinned value is a bad range, not a crash.
    const badPin = await sign(key, pb, "v", { claims: { asset_start_time: 50 } });
    await refused(`/${pb}.m3u8?token=${badPin}`, 400, "invalid_clip_range");
  });

  it("subtitle playlists are trimmed with the same range", async () => {
    const asset = await clipAsset();
    const pb = await seedPlaybackId(asset);
    const id = "tr_0000000000000000000000clip";
    await env.MEDIA.put(`assets/${asset.assetId}/tracks/${id}.vtt`, "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nA\n");
    await env.DB.prepare(
      `insert into asset_tracks (id, environment_id, asset_id, type, text_type, status, language_code, name, source_kind)
       values (?, ?, ?, 'text', 'subtitles', 'ready', 'en', 'English', 'inline')`,
    )
      .bind(id, asset.environmentId, asset.assetId)
      .run();
    const master = await (await get(`/${pb}.m3u8?asset_start_time=7`)).text();
    expect(master).toContain(`URI="/${pb}/text/${id}.m3u8?asset_start_time=7"`);
    const subs = await (await get(`/${pb}/text/${id}.m3u8?asset_start_time=7`)).text();
    expect(segs(subs)).toEqual([`/${pb}/text/${id}/1.vtt`]);
  });
});
