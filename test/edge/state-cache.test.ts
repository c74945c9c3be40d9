/**
 * How long the edge trusts a playback ID's state (workers/edge/src/state.ts): 30 s once an asset is settled,
 * 5 s while its ladder (renditions_status `preparing`) or its download is still being made — a live recording
 * handed to the pipeline gets a new run with a poster, which must be served within seconds of landing —
 * and a fraction of a second while the asset is not yet playable, so a player that asked before `ready` plays
 * right after it.
 */
import { env } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { clearEdgeCaches } from "../../workers/edge/src/index";
import { PENDING_TTL_MS, resolvePlayback, SHORT_TTL_MS, STATE_TTL_MS } from "../../workers/edge/src/state";
import { seedAsset, seedPlaybackId } from "./seed";

const db = () => ({ DB: (env as unknown as { DB: D1Database }).DB });

async function moveToNewRun(assetId: string, runId: string) {
  await env.DB.prepare("update assets set current_run_id = ?, renditions_status = 'complete' where id = ?")
    .bind(runId, assetId)
    .run();
}

describe("the edge's playback state cache", () => {
  beforeEach(() => {
    clearEdgeCaches();
    vi.useFakeTimers({ toFake: ["Date"] });
  });
  afterEach(() => vi.useRealTimers());

  it("re-reads an asset whose renditions are preparing after the short TTL", async () => {
    const asset = await seedAsset({ renditionsStatus: "preparing", media: false });
    const pb = await seedPlaybackId(asset);
    expect((await resolvePlayback(db(), pb))?.currentRunId).toBe(asset.runId);
    await moveToNewRun(asset.assetId, "job_ladder_run");
    expect((await resolvePlayback(db(), pb))?.currentRunId).toBe(asset.runId); // still cached
    vi.setSystemTime(Date.now() + SHORT_TTL_MS + 100);
    expect(await resolvePlayback(db(), pb)).toMatchObject({
      currentRunId: "job_ladder_run",
      renditionsStatus: "complete",
    });
  });

  it("trusts a settled asset for the long TTL", async () => {
    const asset = await seedAsset({ renditionsStatus: "complete", media: false });
    const pb = await seedPlaybackId(asset);
    expect((await resolvePlayback(db(), pb))?.currentRunId).toBe(asset.runId);
    await moveToNewRun(asset.assetId, "job_other_run");
    vi.setSystemTime(Date.now() + SHORT_TTL_MS + 100);
    expect((await resolvePlayback(db(), pb))?.currentRunId).toBe(asset.runId);
    vi.setSystemTime(Date.now() + STATE_TTL_MS);
    expect((await resolvePlayback(db(), pb))?.currentRunId).toBe("job_other_run");
  });

  it("re-reads an asset that is not yet playable after a fraction of a second", async () => {
    const asset = await seedAsset({ status: "processing", media: false });
    const pb = await seedPlaybackId(asset);
    expect(await resolvePlayback(db(), pb)).toMatchObject({ assetStatus: "processing", currentRunId: null });
    await env.DB.prepare("update assets set status = 'ready', current_run_id = ? where id = ?")
      .bind(asset.runId, asset.assetId)
      .run();
    expect((await resolvePlayback(db(), pb))?.assetStatus).toBe("processing"); // still cached
    vi.setSystemTime(Date.now() + PENDING_TTL_MS + 1);
    expect(await resolvePlayback(db(), pb)).toMatchObject({ assetStatus: "ready", currentRunId: asset.runId });
    expect(PENDING_TTL_MS).toBeLessThanOrEqual(1_000);
  });
});
