/**
 * When D1 stays unavailable past the retries (src/lib/d1-retry.ts), a viewer gets 503 with Retry-After —
 * a player retries that — never the 500 the e2e concurrency test once saw under CI load.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import edge, { clearEdgeCaches } from "../../workers/edge/src/index";

/** A D1 whose every statement fails with Cloudflare's documented transient error. */
function lostDb(): { db: D1Database; calls: () => number } {
  let calls = 0;
  const fail = () => {
    calls++;
    return Promise.reject(new Error("D1_ERROR: Network connection lost."));
  };
  const stmt = { bind: () => stmt, first: fail, all: fail, run: fail, raw: fail };
  return { db: { prepare: () => stmt, batch: fail } as unknown as D1Database, calls: () => calls };
}

describe("the edge when the database is unavailable", () => {
  it("answers a playlist with 503 database_unavailable and Retry-After after retrying", async () => {
    clearEdgeCaches();
    const lost = lostDb();
    const ctx = createExecutionContext();
    const res = await edge.fetch(
      new Request("https://edge.test/pb_unavailable1234.m3u8"),
      { ...(env as unknown as Record<string, unknown>), DB: lost.db, KEYFRAME_ENV: "production" } as never,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await res.json()).toMatchObject({ code: "service_unavailable", reason: "database_unavailable" });
    expect(lost.calls()).toBe(10);
  });
});
