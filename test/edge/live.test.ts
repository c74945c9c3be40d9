/**
 * Live playback at the edge: playlists rendered from the window a LiveStream DO publishes to R2
 * (seeded here as the DO writes it), 412 + Retry-After off air, tokens carried into child URLs,
 * segments served from the session prefix only, asset-only files absent for live playback IDs.
 */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newId } from "../../src/lib/ids";
import type { PublishedLiveState } from "../../src/live/hls";
import { clearEdgeCaches } from "../../workers/edge/src/index";
import { createEnvironment, SEGMENT, seedSigningKey, sign } from "./seed";

const EDGE = "https://edge.test";
const get = (path: string) => SELF.fetch(`${EDGE}${path}`);

async function seedLive(policy: "public" | "signed" = "public") {
  const environmentId = await createEnvironment();
  const streamId = newId("liveStream");
  await env.DB.prepare(
    `insert into live_streams (id, environment_id, status, stream_key_hash, latency_mode, reconnect_window_s,
       max_continuous_duration_s, recording) values (?, ?, 'idle', ?, 'low', 60, 43200, '{"mode":"off"}')`,
  )
    .bind(streamId, environmentId, `hash-${streamId}`)
    .run();
  const pb = newId("playbackId");
  await env.DB.prepare("insert into playback_ids (id, environment_id, live_stream_id, policy) values (?, ?, ?, ?)")
    .bind(pb, environmentId, streamId, policy)
    .run();
  return { environmentId, streamId, pb };
}

async function publish(streamId: string, state: Partial<PublishedLiveState>) {
  const full: PublishedLiveState = {
    v: 1,
    stream_id: streamId,
    status: "active",
    session_id: "s1-abcd1234",
    prefix: `live/${streamId}/s1-abcd1234/`,
    target_duration: 2,
    media_sequence: 7,
    discontinuity_sequence: 1,
    bandwidth: 1_500_000,
    segments: [
      { seq: 7, duration: 2, uri: "c1-7.ts", disc: false, map: null },
      { seq: 8, duration: 2, uri: "c2-0.ts", disc: true, map: null },
      { seq: 9, duration: 1.5, uri: "c2-1.ts", disc: false, map: null },
    ],
    updated_at: new Date().toISOString(),
    ...state,
  };
  await env.MEDIA.put(`live/${streamId}/state.json`, JSON.stringify(full));
  clearEdgeCaches();
  return full;
}

describe("live playback", () => {
  it("answers 412 with Retry-After before the first segment and while idle", async () => {
    const { streamId, pb } = await seedLive();
    for (const state of [null, { segments: [] }, { status: "idle" as const, session_id: null, segments: [] }]) {
      if (state) await publish(streamId, state);
      const res = await get(`/${pb}.m3u8`);
      expect(res.status).toBe(412);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(res.headers.get("retry-after")).toBe("2");
      expect(((await res.json()) as { code: string }).code).toBe("precondition_failed");
    }
  });

  it("serves a master and a sliding live playlist (no ENDLIST) and the session's segments", async () => {
    const { streamId, pb } = await seedLive();
    const s = await publish(streamId, {});
    await env.MEDIA.put(`${s.prefix}stream/c2-1.ts`, SEGMENT);
    const master = await get(`/${pb}.m3u8`);
    expect(master.status).toBe(200);
    const m = await master.text();
    expect(m).toContain("BANDWIDTH=1500000");
    expect(m).toContain(`/${pb}/live.m3u8`);
    const media = await (await get(`/${pb}/live.m3u8`)).text();
    expect(media).toContain("#EXT-X-MEDIA-SEQUENCE:7");
    expect(media).toContain("#EXT-X-DISCONTINUITY-SEQUENCE:1");
    expect(media).not.toContain("#EXT-X-ENDLIST");
    expect(media.split("\n").filter((l) => l === "#EXT-X-DISCONTINUITY")).toHaveLength(1);
    expect(media).toContain(`/${pb}/live/s1-abcd1234/c2-1.ts`);
    const seg = await get(`/${pb}/live/s1-abcd1234/c2-1.ts`);
    expect(seg.status).toBe(200);
    expect(seg.headers.get("cache-control")).toContain("immutable");
    expect(new Uint8Array(await seg.arrayBuffer())).toEqual(SEGMENT);
    // Another session's files, and asset-only files, are not served for a live playback ID.
    expect((await get(`/${pb}/live/s0-00000000/c2-1.ts`)).status).toBe(412);
    expect((await get(`/${pb}/thumbnail.jpg`)).status).toBe(404);
  });

  it("needs a token (aud v) for a signed live playback ID and carries it into child URLs", async () => {
    const { environmentId, streamId, pb } = await seedLive("signed");
    const s = await publish(streamId, {});
    await env.MEDIA.put(`${s.prefix}stream/c1-7.ts`, SEGMENT);
    expect((await get(`/${pb}.m3u8`)).status).toBe(401);
    const key = await seedSigningKey(environmentId);
    expect((await get(`/${pb}.m3u8?token=${await sign(key, pb, "t")}`)).status).toBe(403);
    const token = await sign(key, pb, "v");
    const master = await (await get(`/${pb}.m3u8?token=${token}`)).text();
    const mediaUrl = master.split("\n").find((l) => l.startsWith("/"));
    expect(mediaUrl).toBe(`/${pb}/live.m3u8?token=${token}`);
    const media = await (await get(mediaUrl as string)).text();
    const segUrl = media.split("\n").find((l) => l.includes("c1-7.ts"));
    expect(segUrl).toBe(`/${pb}/live/s1-abcd1234/c1-7.ts?token=${token}`);
    expect((await get(segUrl as string)).status).toBe(200);
    expect((await get(`/${pb}/live/s1-abcd1234/c1-7.ts`)).status).toBe(401);
  });
});
