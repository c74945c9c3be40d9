/**
 * The RTMP relay's key check (`POST /internal/live/relay-auth`, HMAC-signed) and the simulcast target
 * sub-resource, in workerd against real D1: who may ask, what each key answers, and the target API's
 * validation, idle-only changes, write-only key and environment isolation. The relay and the simulcast job
 * themselves run against real ffmpeg in test/node/e2e-relay.test.ts and test/node/e2e-simulcast.test.ts.
 */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { deriveRelaySecret, RELAY_AUTH_PATH, relaySigner } from "../../src/lib/relay-auth";
import { SIMULCAST_STATUS_PATH } from "../../src/lib/simulcast-protocol";
import { signTranscoderRequest } from "../../src/lib/transcoder-auth";
import type { CreatedLiveStream, Event, Page } from "../support/api-types";
import { expectProblem } from "../support/problem";
import { api, createEnvironment, createKey } from "./factories";

async function relayAuth(streamKey: string, opts: { secret?: string; path?: string } = {}) {
  const body = JSON.stringify({ stream_key: streamKey });
  const secret = opts.secret ?? (await deriveRelaySecret(env.JOB_TOKEN_SECRET));
  const headers = await relaySigner.sign(secret, "POST", opts.path ?? RELAY_AUTH_PATH, body);
  const res = await SELF.fetch(`https://api.test${RELAY_AUTH_PATH}`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body,
  });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

describe("relay key check", () => {
  it("answers a good key with its ingest URL, refuses unknown, rotated and disabled keys, and unsigned calls", async () => {
    const key = await createKey();
    const ls = (
      await api<CreatedLiveStream>(key, "POST", "/v1/live-streams", {
        latency_mode: "standard",
        playback_policy: "public",
      })
    ).body;
    const ok = await relayAuth(ls.stream_key);
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ live_stream_id: ls.id, hls_url: ls.ingest.hls_url, segment_duration: 6 });

    expectProblem(await relayAuth("k".repeat(43)), 401, "unauthenticated");
    expectProblem(await relayAuth("short"), 401, "unauthenticated");
    // Signed with another key, or for another path: refused before the body is read.
    expectProblem(await relayAuth(ls.stream_key, { secret: "x".repeat(43) }), 401, "unauthenticated");
    expectProblem(await relayAuth(ls.stream_key, { path: "/internal/thumbnails" }), 401, "unauthenticated");
    const unsigned = await SELF.fetch(`https://api.test${RELAY_AUTH_PATH}`, {
      method: "POST",
      body: JSON.stringify({ stream_key: ls.stream_key }),
    });
    expect(unsigned.status).toBe(401);

    await api(key, "PUT", `/v1/live-streams/${ls.id}/disable`);
    const disabled = await relayAuth(ls.stream_key);
    expect(expectProblem(disabled, 403, "forbidden").detail).toContain("disabled");
    await api(key, "PUT", `/v1/live-streams/${ls.id}/enable`);

    const reset = await api<CreatedLiveStream>(key, "POST", `/v1/live-streams/${ls.id}/reset-stream-key`);
    expectProblem(await relayAuth(ls.stream_key), 401, "unauthenticated");
    expect((await relayAuth(reset.body.stream_key)).status).toBe(200);

    await api(key, "DELETE", `/v1/live-streams/${ls.id}`);
    expectProblem(await relayAuth(reset.body.stream_key), 401, "unauthenticated");
  });

  it("shows ingest.rtmp_url only when a relay is configured (none in this test config)", async () => {
    const key = await createKey();
    const ls = (
      await api<CreatedLiveStream>(key, "POST", "/v1/live-streams", { latency_mode: "low", playback_policy: "public" })
    ).body;
    expect(ls.ingest.rtmp_url).toBeNull();
  });
});

describe("simulcast targets", () => {
  it("creates, lists, gets and deletes targets; the key is write-only; bad URLs are precise 400s", async () => {
    const key = await createKey();
    const ls = (
      await api<CreatedLiveStream>(key, "POST", "/v1/live-streams", { latency_mode: "low", playback_policy: "public" })
    ).body;
    const base = `/v1/live-streams/${ls.id}/simulcast-targets`;

    for (const url of [
      "https://a.rtmp.youtube.com/live2",
      "rtmp://user:pw@a.rtmp.youtube.com/live2",
      "rtmp://a.rtmp.youtube.com/live2?x=1",
      "not a url",
    ]) {
      const res = await api(key, "POST", base, { url, stream_key: "abc" });
      expect(expectProblem(res, 400, "validation_failed", url).errors[0].location).toBe("body.url");
    }
    expectProblem(await api(key, "POST", base, { url: "rtmp://a.example.com/x", stream_key: "a b" }), 400);
    expectProblem(await api(key, "POST", base, { url: "rtmp://a.example.com/x" }), 400);

    const created = await api(key, "POST", base, {
      url: "rtmps://a.rtmps.youtube.com/live2/",
      stream_key: "yt-secret-key",
      passthrough: "youtube",
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: expect.stringMatching(/^st_/),
      live_stream_id: ls.id,
      url: "rtmps://a.rtmps.youtube.com/live2",
      status: "idle",
      error: null,
      passthrough: "youtube",
    });
    expect(JSON.stringify(created.body)).not.toContain("yt-secret-key");
    const row = await env.DB.prepare("SELECT stream_key_sealed FROM live_simulcast_targets WHERE id = ?")
      .bind(created.body.id)
      .first<{ stream_key_sealed: string }>();
    expect(row?.stream_key_sealed).toMatch(/^v1\./);
    expect(row?.stream_key_sealed).not.toContain("yt-secret-key");

    expect((await api(key, "GET", base)).body.data).toEqual([created.body]);
    expect((await api(key, "GET", `${base}/${created.body.id}`)).body).toEqual(created.body);

    // At most five.
    for (let i = 0; i < 4; i++) {
      expect((await api(key, "POST", base, { url: `rtmp://t${i}.example.com/app`, stream_key: "k" })).status).toBe(201);
    }
    expectProblem(await api(key, "POST", base, { url: "rtmp://t9.example.com/app", stream_key: "k" }), 409, "conflict");

    // Another environment sees nothing; a read-only key cannot write.
    const other = await createKey(["*"], await createEnvironment("other"));
    expectProblem(await api(other, "GET", `${base}/${created.body.id}`), 404, "not_found");
    const reader = await createKey(["live:read"]);
    expectProblem(await api(reader, "DELETE", `${base}/${created.body.id}`), 403);

    // On air (as the DO records it), the set of targets is fixed.
    await env.DB.prepare("UPDATE live_streams SET status = 'active' WHERE id = ?").bind(ls.id).run();
    expectProblem(await api(key, "DELETE", `${base}/${created.body.id}`), 409, "invalid_state");
    expectProblem(
      await api(key, "POST", base, { url: "rtmp://x.example.com/app", stream_key: "k" }),
      409,
      "invalid_state",
    );
    await env.DB.prepare("UPDATE live_streams SET status = 'idle' WHERE id = ?").bind(ls.id).run();

    expect((await api(key, "DELETE", `${base}/${created.body.id}`)).status).toBe(204);
    expectProblem(await api(key, "GET", `${base}/${created.body.id}`), 404, "not_found");

    const events = (await api<Page<Event>>(key, "GET", "/v1/events?type=live_stream.*&limit=100")).body.data;
    expect(events.filter((x) => x.data.simulcast_target_id === created.body.id).map((x) => x.type)).toEqual([
      "live_stream.simulcast_target.created",
      "live_stream.simulcast_target.deleted",
    ]);
  });

  it("status reports must be signed by the transcoder and apply only while the stream is on air", async () => {
    const key = await createKey();
    const ls = (
      await api<CreatedLiveStream>(key, "POST", "/v1/live-streams", { latency_mode: "low", playback_policy: "public" })
    ).body;
    const t = (
      await api(key, "POST", `/v1/live-streams/${ls.id}/simulcast-targets`, {
        url: "rtmp://live.example.com/app",
        stream_key: "k",
      })
    ).body;
    const report = (status: string, sign = true) => {
      const body = JSON.stringify({ live_stream_id: ls.id, session_id: "x", target_id: t.id, status, error: null });
      return (async () => {
        const headers = sign ? await signTranscoderRequest(env, "POST", SIMULCAST_STATUS_PATH, body) : {};
        return SELF.fetch(`https://api.test${SIMULCAST_STATUS_PATH}`, { method: "POST", headers, body });
      })();
    };
    expect((await report("broadcasting", false)).status).toBe(401);
    // Idle stream: a late "broadcasting" from a stopped job changes nothing.
    expect((await report("broadcasting")).status).toBe(204);
    expect((await api(key, "GET", `/v1/live-streams/${ls.id}/simulcast-targets/${t.id}`)).body.status).toBe("idle");
  });
});
