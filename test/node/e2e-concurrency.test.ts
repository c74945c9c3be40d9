/**
 * The local stack under concurrent writes and reads. The API and the edge are two `wrangler dev`
 * processes over one state folder, so SQLite's lock is shared between processes: before D1 retries
 * (src/lib/d1-retry.ts), 4 writers beside 8 edge readers turned a third of the edge's answers and over
 * half of the API's writes into 500s. Every answer here must be the real one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Asset, Page } from "../support/api-types";
import { type E2E, startE2E } from "./support/e2e";

describe("concurrent API writes and edge reads on the local stack", () => {
  let e: E2E;
  beforeAll(async () => {
    e = await startE2E();
  });
  afterAll(async () => {
    await e?.close();
  });

  it("never answers 500 while the API writes and the edge reads the same database", async () => {
    const pids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const created = await e.api<Asset>("POST", "/v1/assets", { title: `c${i}`, playback_policy: "public" });
      expect(created.status).toBe(201);
      pids.push(created.body.playback_ids[0].id);
    }
    const apiStatuses: number[] = [];
    const edgeStatuses: number[] = [];
    const playlistReasons: string[] = [];
    let reading = true;
    const writers = Array.from({ length: 4 }, async () => {
      while (reading) apiStatuses.push((await e.api<Asset>("POST", "/v1/assets", { title: "w" })).status);
    });
    // Each playback ID once per reader pass: the edge caches a playback ID's state, so new IDs mean D1 reads.
    await Promise.all(
      Array.from({ length: 8 }, async (_, r) => {
        for (let i = r; i < pids.length; i += 8) {
          for (const suffix of [".m3u8", "/thumbnail.jpg?time=1&width=100"]) {
            const res = await fetch(`${e.stack.edgeUrl}/${pids[i]}${suffix}`);
            const text = await res.text();
            edgeStatuses.push(res.status);
            if (suffix === ".m3u8") playlistReasons.push(res.status === 404 ? JSON.parse(text).reason : text);
          }
        }
      }),
    );
    reading = false;
    await Promise.all(writers);
    expect(apiStatuses.length).toBeGreaterThan(0);
    // Assets without an upload are not playable yet: 404, never 500. And the edge really read each one's row:
    // an unread (or lost) row would be unknown_playback_id, not asset_not_ready.
    expect(edgeStatuses).toEqual(edgeStatuses.map(() => 404));
    expect(playlistReasons).toEqual(pids.map(() => "asset_not_ready"));
    expect(apiStatuses).toEqual(apiStatuses.map(() => 201));
    // Every write that answered 201 is there: the 40 up front and each concurrent one.
    let listed = 0;
    let cursor: string | null = null;
    do {
      const page: { status: number; body: Page<Asset> } = await e.api<Page<Asset>>(
        "GET",
        `/v1/assets?limit=100${cursor ? `&cursor=${cursor}` : ""}`,
      );
      expect(page.status).toBe(200);
      listed += page.body.data.length;
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(listed).toBe(pids.length + apiStatuses.length);
  });
});
