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
import { LIVE_STATE_POLL_MS, liveStateCacheUntil } from "../../workers/edge/src/live";
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
    expect(m).not.toContain("CODECS=");
    expect(m).toContain(`/${pb}/live.m3u8`);
    // With what the DO read from the encoder's bytes: CODECS, RESOLUTION and the measured mean rate.
    await publish(streamId, {
      codecs: "avc1.64001f,mp4a.40.2",
      resolution: { width: 1280, height: 720 },
      average_bandwidth: 1_200_000,
    });
    const full = await (await get(`/${pb}.m3u8`)).text();
    expect(full).toContain(
      '#EXT-X-STREAM-INF:BANDWIDTH=1500000,AVERAGE-BANDWIDTH=1200000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720',
    );
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

describe("live state caching at the edge", () => {
  const state = (updatedAt: number, duration = 2, status: PublishedLiveState["status"] = "active") =>
    ({
      v: 1,
      stream_id: "ls_x",
      status,
      session_id: "s1",
      prefix: "p/",
      target_duration: 2,
      media_sequence: 0,
      discontinuity_sequence: 0,
      bandwidth: null,
      segments: [{ seq: 0, duration, uri: "c1-0.ts", disc: false, map: null }],
      updated_at: new Date(updatedAt).toISOString(),
    }) as PublishedLiveState;

  it("keeps a window until its next segment can exist, then polls R2 briefly", () => {
    const now = 1_000_000;
    // Just published, 2 s segment: nothing new before ≈ 1.6 s from now.
    expect(liveStateCacheUntil(state(now), now)).toBe(now + 1600);
    // Never longer than one target duration, even for a long last segment.
    expect(liveStateCacheUntil(state(now, 10), now)).toBe(now + 2000);
    // The next segment is due (or late): ask again within one poll.
    expect(liveStateCacheUntil(state(now - 1800), now)).toBe(now + LIVE_STATE_POLL_MS);
    expect(liveStateCacheUntil(state(now - 60_000), now)).toBe(now + LIVE_STATE_POLL_MS);
    // Off air or unknown: poll, so going live shows at once.
    expect(liveStateCacheUntil(null, now)).toBe(now + LIVE_STATE_POLL_MS);
    expect(liveStateCacheUntil(state(now, 2, "idle"), now)).toBe(now + LIVE_STATE_POLL_MS);
  });
});
