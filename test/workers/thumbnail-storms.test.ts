/**
 * Thumbnail storms (issue 10, finding 5): the grid bounds distinct renders, the per-run cap bounds what is
 * stored, and the per-playback-ID budget bounds renders per minute without starving other tenants.
 * The transcoder call is a counting stand-in here (rendering for real is e2e-thumbnails' job); everything
 * else — D1, R2, the Rate Limiting binding — is real.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newId } from "../../src/lib/ids";
import {
  MAX_STORED_RENDERS_PER_RUN,
  normalizeThumbnail,
  snapThumbnailSize,
  THUMBNAIL_SIZES,
  thumbnailKey,
  thumbnailPrefix,
  thumbnailTimeStep,
} from "../../src/lib/thumbnails";
import { renderThumbnail } from "../../src/services/thumbnails/render";
import { createKey } from "./factories";

const JPEG = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 7, 7, 0xff, 0xd9]);

async function readyAsset(durationMs = 60_000) {
  const { environmentId } = await createKey();
  const assetId = newId("asset");
  const runId = newId("job");
  await env.DB.prepare(
    `insert into assets (id, environment_id, status, source_key, current_run_id, duration_ms, tracks, playback_policy)
     values (?, ?, 'ready', ?, ?, ?, ?, 'public')`,
  )
    .bind(assetId, environmentId, `sources/${assetId}/source`, runId, durationMs, JSON.stringify([{ type: "video" }]))
    .run();
  return { assetId, runId, environmentId, playbackId: newId("playbackId") };
}

function countingRenderer() {
  const calls: number[] = [];
  const render = async (_env: Env, p: { width: number | null }) => {
    calls.push(p.width ?? 0);
    return { bytes: JPEG, time: null };
  };
  return { calls, render: render as unknown as Parameters<typeof renderThumbnail>[2] };
}

async function stored(assetId: string, runId: string) {
  return (await env.MEDIA.list({ prefix: thumbnailPrefix(assetId, runId) })).objects.map((o) => o.key);
}

const ask = (a: { assetId: string; playbackId: string }, over: Record<string, unknown>) => ({
  asset_id: a.assetId,
  playback_id: a.playbackId,
  time: 1,
  width: null,
  height: null,
  fit_mode: "preserve" as const,
  ...over,
});

describe("the thumbnail grid", () => {
  it("snaps sizes up to the grid and time to a duration-tied step", () => {
    expect(snapThumbnailSize(1)).toBe(64);
    expect(snapThumbnailSize(65)).toBe(90);
    expect(snapThumbnailSize(320)).toBe(320);
    expect(snapThumbnailSize(3000)).toBe(3840);
    expect(thumbnailTimeStep(4)).toBe(0.1);
    expect(thumbnailTimeStep(20)).toBe(0.1);
    expect(thumbnailTimeStep(60)).toBe(0.3);
    expect(thumbnailTimeStep(3600)).toBe(18);
    // An hour-long video has ≤ 201 time positions, a 4 s clip keeps 0.1 s precision.
    const times = new Set(Array.from({ length: 36_000 }, (_, i) => normalizeThumbnail({ time: i / 10 }, 3600).time));
    expect(times.size).toBeLessThanOrEqual(201);
    expect(normalizeThumbnail({ time: 2.47 }, 4).time).toBe(2.5);
    expect(normalizeThumbnail({ width: 333, height: 100 }, 4)).toMatchObject({ width: 360, height: 100 });
  });

  it("a loop over ?width=1..200 stores at most the grid's count of objects", async () => {
    const a = await readyAsset();
    const { calls, render } = countingRenderer();
    for (let w = 1; w <= 200; w++) {
      const out = await renderThumbnail(env, ask(a, { width: w }), render);
      expect(out.params.width).toBe(snapThumbnailSize(w));
    }
    const gridCount = THUMBNAIL_SIZES.filter((s) => s <= 200).length + (200 < THUMBNAIL_SIZES[0] ? 1 : 0);
    const keys = await stored(a.assetId, a.runId);
    expect(keys.length).toBe(gridCount);
    expect(gridCount).toBe(7);
    expect(calls.length).toBe(gridCount);
  }, 120_000);
});

describe("render budget and cap", () => {
  it("rate-limits renders per playback ID with 429 + Retry-After; other tenants keep rendering", async () => {
    const a = await readyAsset();
    const b = await readyAsset();
    const { render } = countingRenderer();
    const tiny = { ...env, RL_PLAYBACK_THUMBNAILS: env.RL_TEST_TINY };
    for (const w of [64, 90, 100]) await renderThumbnail(tiny, ask(a, { width: w }), render);
    const refused = await renderThumbnail(tiny, ask(a, { width: 120 }), render).catch((e) => e);
    expect(refused).toMatchObject({ code: "rate_limited" });
    expect(refused.headers["retry-after"]).toBe("60");
    expect(refused.headers.ratelimit).toBe('"playback-thumbnails";r=0;t=60');
    // Already stored renders still serve without spending budget.
    expect((await renderThumbnail(tiny, ask(a, { width: 64 }), render)).status).toBe("cached");
    // Another tenant's playback ID is not starved.
    expect((await renderThumbnail(tiny, ask(b, { width: 120 }), render)).status).toBe("rendered");
  });

  it("past the per-run cap serves the nearest stored render instead of rendering", async () => {
    const a = await readyAsset(400_000); // 2 s time step
    // Fill the run up to the cap with stored renders at 320 px wide.
    await Promise.all(
      Array.from({ length: MAX_STORED_RENDERS_PER_RUN }, (_, i) =>
        env.MEDIA.put(thumbnailKey(a.assetId, a.runId, normalizeThumbnail({ time: i * 2, width: 320 }, 400)), JPEG),
      ),
    );
    const { calls, render } = countingRenderer();
    const out = await renderThumbnail(env, ask(a, { time: 101, width: 640 }), render);
    expect(calls).toEqual([]);
    expect(out.status).toBe("nearest");
    expect(out.params).toMatchObject({ width: 320, fit_mode: "preserve" });
    expect(Math.abs(out.params.time - 101)).toBeLessThanOrEqual(1);
    expect((await stored(a.assetId, a.runId)).length).toBe(MAX_STORED_RENDERS_PER_RUN);
  }, 120_000);
});
