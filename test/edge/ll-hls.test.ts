/**
 * LL-HLS at the edge, from a live state seeded as the LiveStream DO publishes it with parts: the playlist's
 * LL tags, blocking reloads held until the DO publishes the asked-for part (published here mid-request),
 * 503 after three target durations, 400 for a request too far ahead or malformed.
 */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newId } from "../../src/lib/ids";
import type { PublishedLiveState } from "../../src/live/hls";
import { clearEdgeCaches } from "../../workers/edge/src/index";
import { createEnvironment } from "./seed";

const EDGE = "https://edge.test";
const get = (path: string) => SELF.fetch(`${EDGE}${path}`);

async function seed() {
  const environmentId = await createEnvironment();
  const streamId = newId("liveStream");
  await env.DB.prepare(
    `insert into live_streams (id, environment_id, status, stream_key_hash, latency_mode, reconnect_window_s,
       max_continuous_duration_s, recording) values (?, ?, 'active', ?, 'low', 60, 43200, '{"mode":"off"}')`,
  )
    .bind(streamId, environmentId, `hash-${streamId}`)
    .run();
  const pb = newId("playbackId");
  await env.DB.prepare(
    "insert into playback_ids (id, environment_id, live_stream_id, policy) values (?, ?, ?, 'public')",
  )
    .bind(pb, environmentId, streamId)
    .run();
  return { streamId, pb };
}

const part = (msn: number, i: number) => ({ msn, uri: `c1-${msn}.${i}.m4s`, duration: 0.5, independent: i === 0 });

async function publish(streamId: string, openParts: number, targetDuration = 2) {
  const state: PublishedLiveState = {
    v: 1,
    stream_id: streamId,
    status: "active",
    session_id: "s1-abcd1234",
    prefix: `live/${streamId}/s1-abcd1234/`,
    target_duration: targetDuration,
    media_sequence: 3,
    discontinuity_sequence: 0,
    bandwidth: 1_000_000,
    segments: [3, 4].map((seq) => ({ seq, duration: 2, uri: `c1-${seq}.m4s`, disc: false, map: "init-c1.mp4" })),
    updated_at: new Date().toISOString(),
    ll: {
      part_target: 0.5,
      parts: [...[0, 1, 2, 3].map((i) => part(4, i)), ...Array.from({ length: openParts }, (_, i) => part(5, i))],
      preload: `c1-5.${openParts}.m4s`,
    },
  };
  await env.MEDIA.put(`live/${streamId}/state.json`, JSON.stringify(state));
}

describe("LL-HLS at the edge", () => {
  it("lists parts, the preload hint and server control", async () => {
    const { streamId, pb } = await seed();
    await publish(streamId, 2);
    clearEdgeCaches();
    const res = await get(`/${pb}/live.m3u8`);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("public, max-age=1");
    const text = await res.text();
    expect(text).toContain("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500");
    expect(text).toContain("#EXT-X-PART-INF:PART-TARGET=0.500");
    const lines = text.trim().split("\n");
    // Segment 4's parts precede its EXTINF; segment 5's (in progress) follow the last one; the hint ends it.
    expect(lines.slice(-4)).toEqual([
      `/${pb}/live/s1-abcd1234/c1-4.m4s`,
      `#EXT-X-PART:DURATION=0.50000,URI="/${pb}/live/s1-abcd1234/c1-5.0.m4s",INDEPENDENT=YES`,
      `#EXT-X-PART:DURATION=0.50000,URI="/${pb}/live/s1-abcd1234/c1-5.1.m4s"`,
      `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="/${pb}/live/s1-abcd1234/c1-5.2.m4s"`,
    ]);
    expect(lines.indexOf(`#EXT-X-PART:DURATION=0.50000,URI="/${pb}/live/s1-abcd1234/c1-4.3.m4s"`)).toBe(
      lines.indexOf(`/${pb}/live/s1-abcd1234/c1-4.m4s`) - 2,
    );
  });

  it("holds a blocking reload until the part is published, then answers with it (cacheable)", async () => {
    const { streamId, pb } = await seed();
    await publish(streamId, 2);
    clearEdgeCaches();
    const t0 = Date.now();
    const held = get(`/${pb}/live.m3u8?_HLS_msn=5&_HLS_part=2`);
    await new Promise((r) => setTimeout(r, 400));
    await publish(streamId, 3);
    const res = await held;
    expect(res.status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
    expect(res.headers.get("cache-control")).toBe("public, max-age=6");
    expect(await res.text()).toContain('c1-5.2.m4s"\n#EXT-X-PRELOAD-HINT');
    // Already there: at once.
    const now = await get(`/${pb}/live.m3u8?_HLS_msn=4&_HLS_part=1`);
    expect(now.status).toBe(200);
  });

  it("503 after three target durations, 400 too far ahead or malformed", async () => {
    const { streamId, pb } = await seed();
    await publish(streamId, 0, 1);
    clearEdgeCaches();
    const t0 = Date.now();
    const late = await get(`/${pb}/live.m3u8?_HLS_msn=6`);
    expect(late.status).toBe(503);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(3000);
    expect(((await late.json()) as { reason: string }).reason).toBe("blocking_reload_timeout");
    const ahead = await get(`/${pb}/live.m3u8?_HLS_msn=9`);
    expect(ahead.status).toBe(400);
    expect(((await ahead.json()) as { reason: string }).reason).toBe("blocking_reload_too_far_ahead");
    for (const q of ["_HLS_part=1", "_HLS_msn=x", "_HLS_msn=5&_HLS_part=-1"]) {
      const bad = await get(`/${pb}/live.m3u8?${q}`);
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { reason: string }).reason).toBe("invalid_blocking_reload");
    }
  });
});
