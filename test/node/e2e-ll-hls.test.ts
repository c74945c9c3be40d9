/**
 * Low-latency HLS end to end on the real local stack: real ffmpeg pushes CMAF (fragmented MP4, a fragment
 * every 0.5 s) as one long-lived chunked PUT to `ingest.cmaf_url`; the edge's live playlist carries
 * EXT-X-PART / PRELOAD-HINT / SERVER-CONTROL, parts are fetchable, a blocking reload is held until the part
 * it asks for exists; hls.js with lowLatencyMode in headless Chromium plays it, asking with _HLS_msn and
 * _HLS_part and loading parts, and the glass-to-glass latency read off the stamped frames is low. A clean
 * stop leaves an ordinary ready recording. Bad pushes get precise errors and store nothing.
 */

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CmafSplitter } from "../../src/live/ll-hls/splitter";
import type { CreatedLiveStream, LiveStream, LiveStreamHealth, Problem } from "../support/api-types";
import { type E2E, startE2E } from "./support/e2e";
import type { Encoder } from "./support/live";
import { CMAF_MOVFLAGS, LIVE_FFMPEG, pollUntil, sleep, within } from "./support/live";
import { median, startLiveEncoder, watchLiveStream } from "./support/ll-hls";

/** The edge's problem documents add a `reason` (workers/edge/src/problems.ts). */
type EdgeProblem = Problem & { reason: string };

/** A request to the local stack answers in well under this, or the test says which one did not. */
const bounded = () => AbortSignal.timeout(15_000);
const parts = (pl: string) => pl.split("\n").filter((l) => l.startsWith("#EXT-X-PART:"));
const lastMsn = (pl: string) => {
  const seq = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(pl)?.[1] ?? -1);
  return seq + pl.split("\n").filter((l) => l.startsWith("#EXTINF:")).length - 1;
};
/** Parts after the last EXTINF: those of the segment in progress. */
const openParts = (pl: string) => parts(pl.slice(pl.lastIndexOf("#EXTINF:"))).length;

/** A PUT whose answer may come before its body is all sent (a refusal mid-body): resolves with the answer. */
function putAnsweredEarly(url: string, body: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request(url, { method: "PUT", headers: { "content-length": String(body.length) } }, (res) => {
      answered = true;
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", (err) => {
      if (!answered) reject(err);
    });
    req.setTimeout(15_000, () => req.destroy(new Error(`PUT ${url}: no answer within 15 s`)));
    req.end(body);
  });
}

describe("low-latency HLS end to end", () => {
  let e: E2E;
  const encoders: Encoder[] = [];
  const work = mkdtempSync(path.join(tmpdir(), "keyframe-llhls-"));

  beforeAll(async () => {
    e = await startE2E();
  }, 420_000);

  afterAll(async () => {
    for (const enc of encoders) await enc.kill();
    await e?.close();
    rmSync(work, { recursive: true, force: true });
  });

  /** A real 6 s CMAF push from ffmpeg (video, 0.5 s fragments, keyframes every 2 s), cut into its parts. */
  const fragments = () => {
    const file = path.join(work, "frag.mp4");
    execFileSync(LIVE_FFMPEG, [
      ...["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-t", "6", "-c:v", "libx264"],
      ...["-preset", "ultrafast", "-g", "60", "-keyint_min", "60", "-sc_threshold", "0", "-f", "mp4"],
      ...["-movflags", CMAF_MOVFLAGS, "-frag_duration", "500000", file],
    ]);
    return new CmafSplitter().push(new Uint8Array(readFileSync(file)));
  };

  const create = async () => {
    const res = await e.api<CreatedLiveStream>("POST", "/v1/live-streams", {
      latency_mode: "low",
      playback_policy: "public",
      reconnect_window: 10,
      recording: { mode: "automatic", new_asset_settings: { playback_policy: "public" } },
    });
    expect(res.status).toBe(201);
    expect(res.body.ingest.cmaf_url).toMatch(/\/live\/[A-Za-z0-9_-]+\/cmaf\.mp4$/);
    return res.body;
  };

  it("bad pushes: not CMAF (415), a fragment out of order (400), an oversize box (413); nothing goes live", async () => {
    const ls = await create();
    const put = (body: Uint8Array) =>
      fetch(ls.ingest.cmaf_url!, { method: "PUT", body }).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as Problem,
      }));

    const ts = await put(new Uint8Array(188 * 4).fill(0x47));
    expect(ts.status).toBe(415);
    expect(ts.body).toMatchObject({ code: "unsupported_media_type" });
    expect(ts.body.detail).toMatch(/starts with its init segment/);

    // ffmpeg -f dash: refused at its manifest, with the way out.
    const dash = await fetch(ls.ingest.cmaf_url!.replace(/cmaf\.mp4$/, "manifest.mpd"), {
      method: "PUT",
      body: "<MPD/>",
    });
    expect(dash.status).toBe(415);
    expect(((await dash.json()) as Problem).detail).toMatch(/ingest\.cmaf_url/);

    // Real fragments from ffmpeg, resent with the second before the first.
    const { init, parts: frags } = fragments();
    expect(init).toBeDefined();
    expect(frags.length).toBeGreaterThanOrEqual(3);
    const join = (...xs: Uint8Array[]) => {
      const out = new Uint8Array(xs.reduce((s, x) => s + x.length, 0));
      let o = 0;
      for (const x of xs) {
        out.set(x, o);
        o += x.length;
      }
      return out;
    };
    const reordered = await put(join(init as Uint8Array, frags[0].bytes, frags[2].bytes, frags[1].bytes));
    expect(reordered.status).toBe(400);
    expect(reordered.body.detail).toMatch(/out of order/);

    // A box header announcing a 100 MiB moof: refused on its header, before any of it is buffered.
    const huge = new Uint8Array(8);
    new DataView(huge.buffer).setUint32(0, 100 * 1024 * 1024);
    huge.set(new TextEncoder().encode("moof"), 4);
    const oversize = await put(join(init as Uint8Array, huge));
    expect(oversize.status).toBe(413);
    expect(oversize.body.detail).toMatch(/limited to/);

    // What was whole before the bad fragment is kept as a segment (never half of one); nothing else is stored.
    const health = (await e.api<LiveStreamHealth>("GET", `/v1/live-streams/${ls.id}/health`)).body;
    expect(health.segments).toBeLessThanOrEqual(1);
  }, 120_000);

  it("a CMAF push is published as LL-HLS parts, blocking reloads are held, hls.js lowLatencyMode plays it", async () => {
    const ls = await create();
    const pb = ls.playback_ids[0].id;
    const enc = startLiveEncoder(ls.ingest.cmaf_url!, { container: "cmaf", stamp: true });
    encoders.push(enc);
    const live = `${e.stack.edgeUrl}/${pb}/live.m3u8`;
    const first = await pollUntil(live, (s, b) => s === 200 && parts(b).length > 0, 60_000);
    expect(first.body).toContain("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.5");
    expect(first.body).toContain("#EXT-X-PART-INF:PART-TARGET=0.5");
    expect(first.body).toMatch(/#EXT-X-PRELOAD-HINT:TYPE=PART,URI="[^"]+\.m4s"/);
    expect(parts(first.body)[0]).toMatch(/^#EXT-X-PART:DURATION=0\.5\d*,URI="[^"]+",INDEPENDENT=YES$/);

    // A part is an immutable moof+mdat.
    const partUri = /URI="([^"]+)"/.exec(parts(first.body).at(-1) as string)?.[1] as string;
    const part = new Uint8Array(
      await (await fetch(`${e.stack.edgeUrl}${partUri}`, { signal: bounded() })).arrayBuffer(),
    );
    expect(["moof", "styp"]).toContain(new TextDecoder().decode(part.subarray(4, 8)));

    // Blocking reload for the next part: held until it exists (one part ≈ 0.5 s), then listed.
    const msn = lastMsn(first.body) + 1;
    const want = openParts(first.body);
    const t0 = Date.now();
    const held = await fetch(`${live}?_HLS_msn=${msn}&_HLS_part=${want}`, { signal: bounded() });
    const heldMs = Date.now() - t0;
    const heldBody = await held.text();
    expect(held.status).toBe(200);
    expect(heldMs).toBeLessThan(3000);
    expect(lastMsn(heldBody) > msn - 1 || openParts(heldBody) > want).toBe(true);
    expect(held.headers.get("cache-control")).toMatch(/max-age=6/);

    const ahead = await fetch(`${live}?_HLS_msn=${msn + 5}`, { signal: bounded() });
    expect(ahead.status).toBe(400);
    expect(((await ahead.json()) as EdgeProblem).reason).toBe("blocking_reload_too_far_ahead");
    const malformed = await fetch(`${live}?_HLS_part=1`, { signal: bounded() });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as Problem).detail).toBe("_HLS_part requires _HLS_msn.");

    const w = await watchLiveStream(`${e.stack.edgeUrl}/${pb}.m3u8`, { lowLatency: true, ms: 15_000 });
    expect(w.errors).toEqual([]);
    expect(w.playlists.some((u) => /_HLS_msn=\d+&_HLS_part=\d+/.test(u))).toBe(true);
    expect(w.parts).toBeGreaterThan(5);
    expect((w.times.at(-1) as number) - (w.times.find((t) => t > 0) ?? 0)).toBeGreaterThan(5);
    const g2g = median(w.glass.slice(Math.floor(w.glass.length / 2)));
    console.log(
      `LL-HLS glass-to-glass median ${g2g} ms (${w.glass.length} samples), hls.js latency ${median(w.latency)} s`,
    );
    expect(g2g).toBeGreaterThan(0);
    // The bench measures it (≈ 2.7 s on this machine); here the bound no segment-only player of this 2 s-segment
    // stream can meet (3 × 2 s hold-back), which a 2-core machine loaded by other work still leaves room under.
    expect(g2g).toBeLessThan(6000);

    // A clean stop: ffmpeg writes its trailer (mfra), the last segment is listed with ENDLIST, the recording is ready.
    const view = (await e.api<LiveStream>("GET", `/v1/live-streams/${ls.id}`)).body;
    enc.proc.kill("SIGINT");
    await within(15_000, "the broadcaster's exit after SIGINT (trailer written, PUT answered)", enc.exited, enc.stderr);
    let idle = view;
    for (const until = Date.now() + 10_000; Date.now() < until && idle.status !== "idle"; await sleep(250)) {
      idle = (await e.api<LiveStream>("GET", `/v1/live-streams/${ls.id}`)).body;
    }
    expect(idle.status).toBe("idle");
    const asset = await e.waitForAsset(view.active_asset_id!, (a) => a.status === "ready", 10_000);
    expect(asset.duration).toBeGreaterThan(10);
  }, 150_000);

  it("a killed encoder is a disconnect, not the end: its next push continues the session; a second encoder gets 409", async () => {
    const ls = await create();
    const pb = ls.playback_ids[0].id;
    const live = `${e.stack.edgeUrl}/${pb}/live.m3u8`;
    const enc = startLiveEncoder(ls.ingest.cmaf_url!, { container: "cmaf" });
    encoders.push(enc);
    await pollUntil(live, (st, b) => st === 200 && parts(b).length > 0, 60_000);

    // Another encoder on the same key while this one pushes: refused at its first segment, nothing of it stored.
    const { init, parts: frags } = fragments();
    // The refusal comes while the body is still being sent: read the answer even if the rest cannot be written.
    const second = await putAnsweredEarly(
      ls.ingest.cmaf_url!,
      Buffer.concat([init as Uint8Array, ...frags.map((f) => f.bytes)]),
    );
    expect(second.status).toBe(409);
    expect((JSON.parse(second.text) as Problem).code).toBe("conflict");

    // SIGKILL: the chunked body breaks off without its last chunk. What was whole is kept; the session stays.
    await enc.kill();
    await sleep(1500);
    const after = (await e.api<LiveStream>("GET", `/v1/live-streams/${ls.id}`)).body;
    expect(after.status).toBe("active");
    const before = await (await fetch(live)).text();
    expect(before).not.toContain("#EXT-X-ENDLIST");

    // Runs until killed: a push that ended on its own (a fixed -t) could end the session before it is read
    // below on a loaded machine, and a clean end rightly makes the stream idle with no active asset.
    const again = startLiveEncoder(ls.ingest.cmaf_url!, { container: "cmaf" });
    encoders.push(again);
    const resumed = await pollUntil(live, (st, b) => st === 200 && b.includes("#EXT-X-DISCONTINUITY\n"), 30_000);
    expect(resumed.body).toMatch(/init-c2\.mp4/);
    const continued = (await e.api<LiveStream>("GET", `/v1/live-streams/${ls.id}`)).body;
    expect(continued.status, again.stderr()).toBe("active");
    expect(continued.active_asset_id).toBe(after.active_asset_id);
    const health = (await e.api<LiveStreamHealth>("GET", `/v1/live-streams/${ls.id}/health`)).body;
    expect(health.reconnects).toBe(1);
    await again.kill();
  }, 120_000);
});
