/**
 * The live ladder's API side in workerd against real D1, R2 and the LiveStream DO: the `renditions` setting
 * (create, PATCH, refusals, 409 while on air) and the transcoder's signed rendition push (who may push, what
 * the DO takes: the current session, a rendition of the ladder, a listed sequence number, MPEG-TS), the
 * published window (the edge's input) and the recording's ladder master. Real ffmpeg renditions and the edge
 * run in test/node/e2e-live-ladder.test.ts.
 */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ladderPushPath } from "../../src/lib/live-ladder-protocol";
import { signTranscoderRequest } from "../../src/lib/transcoder-auth";
import type { PublishedLiveState } from "../../src/live/hls";
import type { LiveStream, Problem } from "../support/api-types";
import { expectProblem } from "../support/problem";
import { api, createKey } from "./factories";
import { playlist, tsSegment } from "./live-helpers";

/** The window the DO published for the edge; every caller here reads it, so a missing one fails right away. */
async function state(id: string): Promise<PublishedLiveState> {
  const published = await (await env.MEDIA.get(`live/${id}/state.json`))?.json<PublishedLiveState>();
  if (!published) throw new Error(`live/${id}/state.json was not published`);
  return published;
}

async function pushRendition(
  streamId: string,
  sessionId: string,
  rendition: string,
  seq: number,
  body: Uint8Array,
  opts: { sign?: boolean; signedBody?: Uint8Array } = {},
) {
  const path = ladderPushPath(streamId, sessionId, rendition, seq);
  const headers =
    opts.sign === false
      ? {}
      : await signTranscoderRequest(env, "PUT", path, (opts.signedBody ?? body) as unknown as string);
  const res = await SELF.fetch(`https://api.test${path}`, { method: "PUT", headers, body });
  return { status: res.status, headers: res.headers, body: res.status === 201 ? null : await res.json<Problem>() };
}

describe("live ladder", () => {
  it("the renditions setting: sorted, capped, refused per field, frozen while on air", async () => {
    const key = await createKey();
    const created = await api<LiveStream>(key, "POST", "/v1/live-streams", { renditions: ["240p", "720p"] });
    expect(created.status).toBe(201);
    expect(created.body.renditions).toEqual(["720p", "240p"]);
    expect((await api<LiveStream>(key, "GET", `/v1/live-streams/${created.body.id}`)).body.renditions).toEqual([
      "720p",
      "240p",
    ]);
    const none = await api<LiveStream>(key, "POST", "/v1/live-streams", {});
    expect(none.body.renditions).toEqual([]);

    const above = await api(key, "POST", "/v1/live-streams", {
      renditions: ["480p"],
      recording: { mode: "automatic", new_asset_settings: { max_resolution: "360p" } },
    });
    expect(expectProblem(above, 400, "validation_failed").errors).toEqual([
      { location: "json.renditions.0", message: "480p is above recording.new_asset_settings.max_resolution (360p)" },
    ]);
    expectProblem(
      await api(key, "POST", "/v1/live-streams", { renditions: ["360p"], latency_mode: "low" }),
      400,
      "validation_failed",
    );
    expectProblem(await api(key, "POST", "/v1/live-streams", { renditions: ["2160p"] }), 400, "validation_failed");
    expectProblem(
      await api(key, "POST", "/v1/live-streams", { renditions: ["1080p", "720p", "480p", "360p", "240p"] }),
      400,
      "validation_failed",
    );
    const low = await api(key, "PATCH", `/v1/live-streams/${created.body.id}`, { latency_mode: "low" });
    expect(expectProblem(low, 400, "validation_failed").errors[0].location).toBe("json.renditions");
  });

  it("takes signed rendition segments for the running session only, publishes them, and the recording keeps the ladder", async () => {
    const key = await createKey();
    const ls = (
      await api<LiveStream>(key, "POST", "/v1/live-streams", {
        latency_mode: "standard",
        playback_policy: "public",
        renditions: ["480p", "240p"],
      })
    ).body;
    const base = `http://keyframe.test${new URL(ls.ingest.hls_url!).pathname.replace(/\/index\.m3u8$/, "")}`;
    expect((await SELF.fetch(`${base}/index0.ts`, { method: "PUT", body: tsSegment() })).status).toBe(201);
    expect((await SELF.fetch(`${base}/index1.ts`, { method: "PUT", body: tsSegment() })).status).toBe(201);
    const pl = playlist([
      ["index0.ts", 2],
      ["index1.ts", 2],
    ]);
    expect((await SELF.fetch(`${base}/index.m3u8`, { method: "PUT", body: pl })).status).toBe(201);
    const s0 = await state(ls.id);
    const session = s0.session_id!;
    expect(s0.renditions).toEqual([]);

    // Refusals: unsigned, a body other than the one signed, a rendition outside the ladder, a sequence number
    // the source never listed, another session, not MPEG-TS, a rendition name that is none.
    expectProblem(await pushRendition(ls.id, session, "240p", 0, tsSegment(), { sign: false }), 401, "unauthenticated");
    expectProblem(
      await pushRendition(ls.id, session, "240p", 0, tsSegment(), { signedBody: tsSegment(21) }),
      401,
      "unauthenticated",
    );
    const outside = await pushRendition(ls.id, session, "360p", 0, tsSegment());
    expect(expectProblem(outside, 409, "conflict").detail).toContain("no 360p rendition");
    expectProblem(await pushRendition(ls.id, session, "240p", 7, tsSegment()), 409, "conflict");
    expectProblem(await pushRendition(ls.id, "s9-deadbeef", "240p", 0, tsSegment()), 409, "conflict");
    expectProblem(
      await pushRendition(ls.id, session, "240p", 0, new TextEncoder().encode("x".repeat(400))),
      415,
      "unsupported_media_type",
    );
    expectProblem(await pushRendition(ls.id, session, "999p", 0, tsSegment()), 400, "bad_request");
    expect((await state(ls.id)).renditions).toEqual([]);

    // The transcoder's job was started with this ladder: it cannot change while the broadcast runs.
    const frozen = await api(key, "PATCH", `/v1/live-streams/${ls.id}`, { renditions: ["360p"] });
    expectProblem(frozen, 409, "invalid_state");
    expect((await api(key, "PATCH", `/v1/live-streams/${ls.id}`, { renditions: ["240p", "480p"] })).status).toBe(200);
    const before = await state(ls.id);

    expect((await pushRendition(ls.id, session, "240p", 0, tsSegment())).status).toBe(201);
    expect((await pushRendition(ls.id, session, "240p", 1, tsSegment(10))).status).toBe(201);
    expect((await pushRendition(ls.id, session, "480p", 1, tsSegment(15))).status).toBe(201);
    const s1 = await state(ls.id);
    // A rendition publish keeps the source's updated_at (the edge times its next read from it).
    expect(s1.updated_at).toBe(before.updated_at);
    expect(s1.renditions?.map((r) => [r.name, r.seqs, r.last_seq])).toEqual([
      ["480p", [1], 1],
      ["240p", [0, 1], 1],
    ]);
    expect(s1.renditions?.[1].bandwidth).toBe(Math.round((188 * 20 * 8) / 2));
    expect(await env.MEDIA.head(`${s1.prefix}stream/240p-1.ts`)).not.toBeNull();

    // The edge's rendition playlist for that state: 480p has a gap at 0.
    const edgeOk = await SELF.fetch(`${base}/index.m3u8`, {
      method: "PUT",
      body: playlist(
        [
          ["index0.ts", 2],
          ["index1.ts", 2],
        ],
        true,
      ),
    });
    expect(edgeOk.status).toBe(201);
    const master = await (await env.MEDIA.get(`${s1.prefix}master.m3u8`))?.text();
    expect(master?.split("\n").filter((l) => !l.startsWith("#") && l)).toEqual([
      "stream/index.m3u8",
      "stream/480p.m3u8",
      "stream/240p.m3u8",
    ]);
    const r480 = await (await env.MEDIA.get(`${s1.prefix}stream/480p.m3u8`))?.text();
    expect(r480).toContain("#EXT-X-GAP\n#EXTINF:2.000000,\ngap.ts\n#EXTINF:2.000000,\n480p-1.ts\n#EXT-X-ENDLIST");
    // The session is over: a late rendition segment is refused.
    expectProblem(await pushRendition(ls.id, session, "240p", 1, tsSegment()), 409, "conflict");
    expect((await api(key, "PATCH", `/v1/live-streams/${ls.id}`, { renditions: ["360p"] })).status).toBe(200);
  });
});
