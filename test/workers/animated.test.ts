/**
 * `POST /internal/animated` and its service: edge-signed only, validated, re-normalised onto the grid by
 * the API, a stored preview served without the transcoder, the per-run cap answered 429 (stored previews
 * still serve), a render stored under its key with the right content type, and the transcoder being down
 * a 503 that stores nothing. The real render is e2e-clip-assets' and transcoder/animated's job.
 */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { animatedKey, animatedPrefix, MAX_STORED_ANIMATED_PER_RUN } from "../../src/lib/animated";
import { deriveEdgeApiSecret, signEdgeRequest } from "../../src/lib/edge-auth";
import { KeyframeError } from "../../src/lib/errors";
import { newId } from "../../src/lib/ids";
import { renderAnimated } from "../../src/services/thumbnails/animated";
import type { Problem } from "../support/api-types";
import { expectProblem } from "../support/problem";
import { createKey } from "./factories";

const GIF = new TextEncoder().encode("GIF89a-stub;");

async function readyAsset(durationMs = 30_000) {
  const { environmentId } = await createKey();
  const assetId = newId("asset");
  const runId = newId("job");
  await env.DB.prepare(
    `insert into assets (id, environment_id, status, source_key, current_run_id, duration_ms, tracks)
     values (?, ?, 'ready', ?, ?, ?, ?)`,
  )
    .bind(assetId, environmentId, `sources/${assetId}/source`, runId, durationMs, JSON.stringify([{ type: "video" }]))
    .run();
  await env.MEDIA.put(`sources/${assetId}/source`, new Uint8Array([1, 2, 3]));
  return { assetId, runId };
}

async function post(body: unknown, signed = true) {
  const text = JSON.stringify(body);
  const headers: Record<string, string> = signed
    ? await signEdgeRequest(await deriveEdgeApiSecret(env.JOB_TOKEN_SECRET), "POST", "/internal/animated", text)
    : {};
  const res = await SELF.fetch("http://keyframe.test/internal/animated", {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: text,
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  // A problem document when the answer is not an image.
  let json: Partial<Problem> = {};
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    // an image
  }
  return { status: res.status, headers: res.headers, body: json, bytes };
}

const base = { format: "gif", start: 1, end: 3, width: 320, fps: 15 };

describe("POST /internal/animated", () => {
  it("is for the edge only, and validates its body", async () => {
    const { assetId } = await readyAsset();
    expectProblem(await post({ asset_id: assetId, ...base }, false), 401, "unauthenticated");
    expectProblem(await post({ asset_id: assetId, ...base, width: 1000 }), 400, "validation_failed");
    expectProblem(await post({ asset_id: assetId, ...base, format: "png" }), 400, "validation_failed");
    expectProblem(await post({ asset_id: newId("asset"), ...base }), 404, "not_found");
    // Past the end of the video: the API's own normalisation refuses it.
    expectProblem(await post({ asset_id: assetId, ...base, start: 40, end: 41 }), 400, "validation_failed");
  });

  it("serves a stored preview under the key it normalises to, without the transcoder", async () => {
    const { assetId, runId } = await readyAsset();
    const key = animatedKey(assetId, runId, { format: "gif", start: 1, end: 3, width: 320, fps: 15 });
    await env.MEDIA.put(key, GIF, { httpMetadata: { contentType: "image/gif" } });
    // 1.2 → 1, 2.6 → 3, 300 px → 320, 12 fps → 15: the same key.
    const res = await post({ asset_id: assetId, format: "gif", start: 1.2, end: 2.6, width: 300, fps: 12 });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/gif");
    expect(res.headers.get("x-keyframe-thumbnail")).toBe("cached");
    expect(res.headers.get("x-keyframe-animated-key")).toBe(key);
    expect(res.bytes).toEqual(GIF);
  });

  it("answers 503 with Retry-After when the transcoder is down, and stores nothing", async () => {
    const { assetId, runId } = await readyAsset();
    const res = await post({ asset_id: assetId, ...base, format: "webp" });
    expectProblem(res, 503, "service_unavailable");
    expect(res.headers.get("retry-after")).toBeTruthy();
    expect((await env.MEDIA.list({ prefix: animatedPrefix(assetId, runId) })).objects).toHaveLength(0);
  });
});

describe("renderAnimated", () => {
  it("renders a clip asset's range from its offset in the stored original", async () => {
    const { assetId } = await readyAsset(4000);
    await env.DB.prepare("update assets set clip = ? where id = ?")
      .bind(JSON.stringify({ start_time: 2, end_time: 6, original_start_time: 12.5 }), assetId)
      .run();
    const sent: unknown[] = [];
    const render = async (_env: Env, payload: unknown) => {
      sent.push(payload);
      return { bytes: GIF, time: null };
    };
    const out = await renderAnimated(env, { asset_id: assetId, ...base, format: "gif", start: 1, end: 3 }, render);
    expect(out.params).toMatchObject({ start: 1, end: 3 });
    expect(sent[0]).toMatchObject({ time: 13.5, duration: 16.5, animated: { start: 13.5, end: 15.5 } });
  });

  it("renders once through the transcoder call, stores it, then refuses new renders past the per-run cap", async () => {
    const { assetId, runId } = await readyAsset();
    const sent: unknown[] = [];
    const render = async (_env: Env, payload: unknown) => {
      sent.push(payload);
      return { bytes: GIF, time: null };
    };
    const out = await renderAnimated(env, { asset_id: assetId, ...base, format: "gif", playback_id: "pb_x" }, render);
    expect(out.status).toBe("rendered");
    expect(sent).toEqual([
      expect.objectContaining({
        asset_id: assetId,
        time: 1,
        duration: 30,
        animated: { format: "gif", start: 1, end: 3, width: 320, fps: 15 },
      }),
    ]);
    const stored = await env.MEDIA.get(out.key);
    expect(stored?.httpMetadata?.contentType).toBe("image/gif");

    for (let i = 1; i < MAX_STORED_ANIMATED_PER_RUN; i++) {
      await env.MEDIA.put(`${animatedPrefix(assetId, runId)}filler-${i}.gif`, GIF);
    }
    const capped = await renderAnimated(
      env,
      { asset_id: assetId, ...base, format: "gif", start: 5, end: 6 },
      render,
    ).catch((e) => e);
    expect(capped).toBeInstanceOf(KeyframeError);
    expect(capped.code).toBe("rate_limited");
    expect(capped.headers["retry-after"]).toBe("3600");
    // The stored one still serves.
    expect((await renderAnimated(env, { asset_id: assetId, ...base, format: "gif" }, render)).status).toBe("cached");
    expect(sent).toHaveLength(1);
  });
});
