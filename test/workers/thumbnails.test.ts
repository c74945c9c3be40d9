/**
 * The API's internal thumbnail endpoints: `POST /internal/thumbnails` (edge-signed) and
 * `GET /internal/assets/{id}/source` (source-read token). Here the transcoder is down
 * (TRANSCODER_URL = 127.0.0.1:9), which must be a 503; rendering for real is e2e-thumbnails' job.
 */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { deriveEdgeApiSecret, signEdgeRequest } from "../../src/lib/edge-auth";
import { newId } from "../../src/lib/ids";
import { signJobToken, signSourceToken } from "../../src/lib/job-token";
import { thumbnailKey } from "../../src/lib/thumbnails";
import { api, createKey, type TestKey } from "./factories";

const SOURCE = new Uint8Array(Array.from({ length: 1000 }, (_, i) => i % 251));
const JPEG = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 7, 7, 0xff, 0xd9]);

interface ReadyAsset {
  assetId: string;
  runId: string;
}

async function readyAsset(
  opts: { status?: string; tracks?: unknown[]; durationMs?: number; source?: boolean; key?: TestKey } = {},
): Promise<ReadyAsset> {
  const { environmentId } = opts.key ?? (await createKey());
  const assetId = newId("asset");
  const runId = newId("job");
  const sourceKey = `sources/${assetId}/source`;
  await env.DB.prepare(
    `insert into assets (id, environment_id, status, source_key, current_run_id, duration_ms, tracks, playback_policy)
     values (?, ?, ?, ?, ?, ?, ?, 'public')`,
  )
    .bind(
      assetId,
      environmentId,
      opts.status ?? "ready",
      sourceKey,
      runId,
      opts.durationMs ?? 4000,
      JSON.stringify(opts.tracks ?? [{ type: "video", codec: "h264", width: 640, height: 360 }]),
    )
    .run();
  if (opts.source !== false) {
    await env.MEDIA.put(sourceKey, SOURCE, { httpMetadata: { contentType: "video/mp4" } });
  }
  return { assetId, runId };
}

type Signing = "valid" | "none" | "wrong-secret" | "stale" | "tampered";

async function thumbnails(body: unknown, signing: Signing = "valid") {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const secret = await deriveEdgeApiSecret(
    signing === "wrong-secret" ? "another-secret-0123456789abcdef" : env.JOB_TOKEN_SECRET,
  );
  const at = signing === "stale" ? Date.now() - 5 * 60_000 : Date.now();
  const headers: Record<string, string> =
    signing === "none" ? {} : await signEdgeRequest(secret, "POST", "/internal/thumbnails", text, at);
  const sent = signing === "tampered" ? text.replace('"time":1', '"time":2') : text;
  const res = await SELF.fetch("http://keyframe.test/internal/thumbnails", {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: sent,
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  const json = (res.headers.get("content-type") ?? "").includes("json")
    ? JSON.parse(new TextDecoder().decode(bytes))
    : null;
  return { status: res.status, headers: res.headers, bytes, json };
}

const request = (assetId: string, over: Record<string, unknown> = {}) => ({
  asset_id: assetId,
  time: 1,
  width: 320,
  height: 180,
  fit_mode: "crop",
  ...over,
});

async function source(assetId: string, token: string | null, range?: string) {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (range) headers.range = range;
  const res = await SELF.fetch(`http://keyframe.test/internal/assets/${assetId}/source`, { headers });
  const bytes = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, bytes };
}

describe("POST /internal/thumbnails", () => {
  it("accepts only requests signed by the edge", async () => {
    const a = await readyAsset();
    for (const signing of ["none", "wrong-secret", "stale", "tampered"] as const) {
      const res = await thumbnails(request(a.assetId), signing);
      expect(res.status, signing).toBe(401);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
      expect(res.json.code).toBe("unauthenticated");
    }
  });

  it("refuses a forged request with a huge body without reading the body", async () => {
    // A body that would be 256 MiB, produced only as it is read, with no Content-Length.
    const CHUNK = 64 * 1024;
    let pulled = 0;
    const endless = () =>
      new ReadableStream<Uint8Array>({
        pull(controller) {
          pulled++;
          if (pulled > 4096) controller.close();
          else controller.enqueue(new Uint8Array(CHUNK).fill(0x20));
        },
      });
    const forged = await signEdgeRequest(
      await deriveEdgeApiSecret("another-secret-0123456789abcdef"),
      "POST",
      "/internal/thumbnails",
      "{}",
    );
    for (const headers of [{}, forged]) {
      pulled = 0;
      const res = await SELF.fetch("http://keyframe.test/internal/thumbnails", {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: endless(),
        // @ts-expect-error workerd accepts streaming request bodies (the Fetch spec's `duplex`).
        duplex: "half",
      });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { code: string }).code).toBe("unauthenticated");
      // A stream is pulled a few chunks ahead at most; reading the body would pull all 4096.
      expect(pulled, "chunks of the body pulled").toBeLessThan(64);
    }
    // Correctly signed but longer than the limit: refused after at most the limit is read.
    const a = await readyAsset();
    const text = JSON.stringify(request(a.assetId));
    const headers = await signEdgeRequest(
      await deriveEdgeApiSecret(env.JOB_TOKEN_SECRET),
      "POST",
      "/internal/thumbnails",
      text,
    );
    pulled = 0;
    const big = await SELF.fetch("http://keyframe.test/internal/thumbnails", {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: endless(),
      // @ts-expect-error as above
      duplex: "half",
    });
    expect(big.status).toBe(413);
    expect(pulled).toBeLessThan(64);
  });

  it("validates the request", async () => {
    const a = await readyAsset();
    const malformed = await thumbnails("{nope");
    expect(malformed.status).toBe(400);
    expect(malformed.json.code).toBe("malformed_json");
    for (const over of [
      { width: 0 },
      { height: 3841 },
      { fit_mode: "zoom" },
      { time: -1 },
      { asset_id: "../etc" },
      { extra: 1 },
    ]) {
      const res = await thumbnails(request(a.assetId, over));
      expect(res.status, JSON.stringify(over)).toBe(400);
      expect(res.json.code).toBe("validation_failed");
    }
  });

  it("404s unknown, deleted and video-less assets, 409s assets that are not ready", async () => {
    const unknown = await thumbnails(request(newId("asset")));
    expect(unknown.status).toBe(404);
    const deleted = await readyAsset({ status: "deleted" });
    expect((await thumbnails(request(deleted.assetId))).status).toBe(404);
    const audio = await readyAsset({ tracks: [{ type: "audio", codec: "aac" }] });
    const noVideo = await thumbnails(request(audio.assetId));
    expect(noVideo.status).toBe(404);
    expect(noVideo.json.detail).toContain("no video");
    const processing = await readyAsset({ status: "processing" });
    expect((await thumbnails(request(processing.assetId))).status).toBe(409);
  });

  it("serves a thumbnail already stored under the key it normalises to, without the transcoder", async () => {
    const a = await readyAsset({ durationMs: 4000 });
    // The API normalises on its own: 3600 s into a 4 s video is 3.9 s.
    const key = thumbnailKey(a.assetId, a.runId, { time: 3.9, width: 320, height: 180, fit_mode: "crop" });
    await env.MEDIA.put(key, JPEG, { httpMetadata: { contentType: "image/jpeg" } });
    const res = await thumbnails(request(a.assetId, { time: 3600 }));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/jpeg");
    expect(res.headers.get("x-keyframe-thumbnail")).toBe("cached");
    expect(res.headers.get("x-keyframe-thumbnail-time")).toBe("3.9");
    expect(res.headers.get("x-keyframe-thumbnail-key")).toBe(key);
    expect(res.bytes).toEqual(JPEG);
  });

  it("answers 503 with Retry-After when the transcoder is down, and stores nothing", async () => {
    const a = await readyAsset();
    const res = await thumbnails(request(a.assetId));
    expect(res.status).toBe(503);
    expect(res.json.code).toBe("service_unavailable");
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await env.MEDIA.list({ prefix: `assets/${a.assetId}/thumbs/` })).objects).toHaveLength(0);
  });

  it("thumbnails go when the asset is deleted (they live under assets/{id}/)", async () => {
    const key = await createKey();
    const a = await readyAsset({ key });
    const thumb = thumbnailKey(a.assetId, a.runId, { time: 1, width: 320, height: 180, fit_mode: "crop" });
    await env.MEDIA.put(thumb, JPEG);
    await env.MEDIA.put(`assets/${a.assetId}/runs/${a.runId}/poster.jpg`, JPEG);
    const res = await api(key, "DELETE", `/v1/assets/${a.assetId}`);
    expect(res.status).toBe(204);
    // The media sweep runs in waitUntil: give it a moment.
    for (let i = 0; i < 50 && (await env.MEDIA.head(thumb)); i++) await new Promise((r) => setTimeout(r, 20));
    expect(await env.MEDIA.head(thumb)).toBeNull();
    expect((await env.MEDIA.list({ prefix: `assets/${a.assetId}/` })).objects).toHaveLength(0);
  });
});

describe("GET /internal/assets/{id}/source", () => {
  it("streams the source and byte ranges to a token for this asset only", async () => {
    const a = await readyAsset();
    const b = await readyAsset();
    const token = await signSourceToken(env, a.assetId);

    const whole = await source(a.assetId, token);
    expect(whole.status).toBe(200);
    expect(whole.bytes).toEqual(SOURCE);
    const part = await source(a.assetId, token, "bytes=10-19");
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe("bytes 10-19/1000");
    expect(part.bytes).toEqual(SOURCE.slice(10, 20));
    expect((await source(a.assetId, token, "bytes=5000-")).status).toBe(416);

    expect((await source(a.assetId, null)).status).toBe(401);
    expect((await source(b.assetId, token)).status).toBe(403);
    // A job token is for job endpoints only, and a source token for source reads only.
    const jobToken = await signJobToken(env, { jobId: newId("job"), attempt: 1 });
    expect((await source(a.assetId, jobToken)).status).toBe(401);
    const onJobEndpoint = await SELF.fetch(`http://keyframe.test/internal/jobs/${newId("job")}/source`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(onJobEndpoint.status).toBe(401);
    await onJobEndpoint.arrayBuffer();

    await env.DB.prepare("update assets set status = 'deleted' where id = ?").bind(a.assetId).run();
    expect((await source(a.assetId, token)).status).toBe(410);
  });
});
