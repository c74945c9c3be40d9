/**
 * The product's happy path for real: a generated clip is PUT to a one-time upload URL, the real queue
 * dispatches it to the real transcoder (ffmpeg), the asset becomes ready, and the edge serves HLS that
 * an independent parser, ffprobe and hls.js in headless Chromium all accept.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Parser } from "m3u8-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { d1Execute, run, wranglerBin } from "../../scripts/lib/wrangler";
import { OUTPUT_GRACE_MS } from "../../src/services/media/pending-deletions";
import type { Asset, Event, Page, TimelineEntry } from "../support/api-types";
import { playInChromium } from "./support/browser";
import { type E2E, startE2E, uploadFile } from "./support/e2e";
import { ffprobeJson, makeClip } from "./support/media";

function parse(text: string) {
  const p = new Parser();
  p.push(text);
  p.end();
  return p.manifest;
}

describe("VOD end to end", () => {
  let e: E2E;
  let assetId: string;
  let playbackId: string;
  let readyAsset: Asset;
  const states: Pick<Asset, "status" | "renditions_status" | "progress">[] = [];
  const work = mkdtempSync(path.join(tmpdir(), "keyframe-vod-"));

  beforeAll(async () => {
    e = await startE2E();
    const clip = await makeClip(path.join(work, "clip.mp4"), { width: 1280, height: 720, seconds: 8, fps: 30 });
    const up = await uploadFile(e, new Uint8Array(readFileSync(clip)));
    expect(up.putStatus).toBe(200);
    assetId = up.assetId as string;
    readyAsset = await e.waitForAsset(assetId, (a) => {
      states.push({ status: a.status, renditions_status: a.renditions_status, progress: a.progress });
      return a.status === "ready" || a.status === "errored";
    });
    expect(readyAsset.status).toBe("ready");
    readyAsset = await e.waitForAsset(assetId, (a) => {
      states.push({ status: a.status, renditions_status: a.renditions_status, progress: a.progress });
      return a.renditions_status === "complete";
    });
    playbackId = readyAsset.playback_ids[0].id;
  });

  afterAll(async () => {
    await e?.close();
  });

  it("tells the truth at every step: queued/processing with progress, ready while renditions prepare, then complete", () => {
    const statuses = [...new Set(states.map((s) => s.status))];
    expect(statuses.at(-1)).toBe("ready");
    expect(statuses.every((st) => ["queued", "processing", "ready"].includes(st))).toBe(true);
    // Playable before the ladder is done (the fast path), with progress still reported meanwhile.
    const preparing = states.filter((s) => s.status === "ready" && s.renditions_status === "preparing");
    expect(preparing.length).toBeGreaterThan(0);
    const withProgress = states.flatMap((s) => (s.progress ? [{ progress: s.progress }] : []));
    expect(withProgress.length).toBeGreaterThan(0);
    for (const s of withProgress) {
      expect(typeof s.progress.stage).toBe("string");
      expect(s.progress.percent).toBeGreaterThanOrEqual(0);
      expect(s.progress.percent).toBeLessThanOrEqual(100);
    }
    const percents = withProgress.map((s) => s.progress.percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
  });

  it("reports the asset's media facts", () => {
    expect(readyAsset.duration).toBeGreaterThan(7.5);
    expect(readyAsset.duration).toBeLessThan(8.5);
    expect(readyAsset.aspect_ratio).toBe("16:9");
    expect(readyAsset.resolution).toBe("720p");
    expect(readyAsset.tracks.map((t) => t.type).sort()).toEqual(["audio", "video"]);
    expect(readyAsset.progress).toBeNull();
    const names = readyAsset.renditions.map((r) => r.name);
    expect(names).toEqual(expect.arrayContaining(["v720", "v480", "v360", "audio"]));
    expect(names).not.toContain("v1080");
  });

  it("serves a master playlist that a parser and ffprobe accept, with aligned renditions", async () => {
    const res = await fetch(`${e.stack.edgeUrl}/${playbackId}.m3u8`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/mpegurl/i);
    const text = await res.text();
    expect(text).toContain("#EXT-X-INDEPENDENT-SEGMENTS");
    const master = parse(text);
    expect(master.playlists?.length).toBeGreaterThanOrEqual(3);
    const heights: number[] = [];
    const segmentDurations: number[][] = [];
    for (const pl of master.playlists!) {
      const a = pl.attributes;
      expect(a.BANDWIDTH).toBeGreaterThan(0);
      expect(Number(a["AVERAGE-BANDWIDTH"])).toBeLessThanOrEqual(a.BANDWIDTH!);
      expect(a.CODECS).toMatch(/^avc1\.[0-9a-f]{6},mp4a\.40\.2$/i);
      expect(a["FRAME-RATE"]).toBeCloseTo(30, 0);
      heights.push(a.RESOLUTION!.height);
      const url = new URL(pl.uri, `${e.stack.edgeUrl}/${playbackId}.m3u8`).toString();
      const variant = parse(await (await fetch(url)).text());
      expect(variant.endList).toBe(true);
      segmentDurations.push(variant.segments.map((s) => Math.round(s.duration * 10) / 10));
      const probe = await ffprobeJson(url);
      const v = probe.streams.find((s) => s.codec_type === "video")!;
      expect(v.codec_name).toBe("h264");
      expect(v.height).toBe(a.RESOLUTION!.height);
      expect(Number(probe.format.duration)).toBeGreaterThan(7.5);
    }
    expect(heights.sort((x, y) => y - x)).toEqual([720, 480, 360]);
    // Keyframe-aligned ladder: every rendition cuts its segments at the same times.
    for (const d of segmentDurations) expect(d).toEqual(segmentDurations[0]);
    const audio = master.mediaGroups!.AUDIO;
    const group = Object.values(audio)[0];
    const audioUri = Object.values(group)[0].uri;
    const audioProbe = await ffprobeJson(new URL(audioUri!, `${e.stack.edgeUrl}/${playbackId}.m3u8`).toString());
    expect(audioProbe.streams[0].codec_name).toBe("aac");
  });

  it("serves segments with byte ranges and immutable caching, and the poster and storyboard", async () => {
    const master = parse(await (await fetch(`${e.stack.edgeUrl}/${playbackId}.m3u8`)).text());
    const variantUrl = new URL(master.playlists![0].uri, `${e.stack.edgeUrl}/${playbackId}.m3u8`);
    const variant = parse(await (await fetch(variantUrl)).text());
    const segUrl = new URL(variant.segments[0].uri, variantUrl);
    const full = await fetch(segUrl);
    expect(full.status).toBe(200);
    expect(full.headers.get("cache-control")).toMatch(/immutable/);
    const fullBytes = new Uint8Array(await full.arrayBuffer());
    const ranged = await fetch(segUrl, { headers: { range: "bytes=10-99" } });
    expect(ranged.status).toBe(206);
    expect(new Uint8Array(await ranged.arrayBuffer())).toEqual(fullBytes.slice(10, 100));

    const poster = await fetch(`${e.stack.edgeUrl}/${playbackId}/thumbnail.jpg`);
    expect(poster.status).toBe(200);
    expect(poster.headers.get("content-type")).toBe("image/jpeg");
    const jpg = new Uint8Array(await poster.arrayBuffer());
    expect([jpg[0], jpg[1]]).toEqual([0xff, 0xd8]);

    const vtt = await fetch(`${e.stack.edgeUrl}/${playbackId}/storyboard.vtt`);
    expect(vtt.status).toBe(200);
    const vttText = await vtt.text();
    expect(vttText.startsWith("WEBVTT")).toBe(true);
    expect(vttText).toMatch(/#xywh=\d+,\d+,\d+,\d+/);
  });

  it("plays to the end in headless Chromium through hls.js", async () => {
    const result = await playInChromium(`${e.stack.edgeUrl}/${playbackId}.m3u8`);
    expect(result.usedHlsJs).toBe(true);
    expect(result.ended).toBe(true);
    expect(result.levels).toBeGreaterThanOrEqual(3);
    expect(result.currentTime).toBeGreaterThan(7.5);
    expect(result.errors).toEqual([]);
  });

  it("tells the asset's story in one timeline: upload, events and the job attempt, in order", async () => {
    const res = await e.api<{ data: TimelineEntry[] }>("GET", `/v1/assets/${assetId}/events`);
    expect(res.status).toBe(200);
    const entries = res.body.data;
    const labels = entries.map((x) =>
      x.kind === "event" ? x.event.type : x.kind === "job" ? `job.${x.action}` : x.kind,
    );
    // job.succeeded and asset.renditions_ready are written in the same batch; their relative order is a tie.
    const order = [
      "upload.created",
      "upload.completed",
      "asset.created",
      "job.started",
      "asset.ready",
      "asset.renditions_ready",
    ];
    const positions = order.map((l) => labels.indexOf(l));
    expect(
      positions.every((p) => p >= 0),
      labels.join(", "),
    ).toBe(true);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    expect(labels.filter((l) => l === "asset.ready")).toHaveLength(1);
    expect(labels.indexOf("job.succeeded")).toBeGreaterThan(labels.indexOf("asset.ready"));
    const started = entries.flatMap((x) => (x.kind === "job" ? [x] : [])).find((x) => x.action === "started");
    expect(started?.attempt).toBe(1);
    const polled = await e.api<Page<Event>>("GET", "/v1/events?type=asset.ready&limit=100");
    expect(polled.status).toBe(200);
    expect(polled.body.data.filter((ev) => ev.data.asset_id === assetId)).toHaveLength(1);
  });

  it("stops serving a deleted asset and removes its media", async () => {
    const target = { persistTo: e.persistTo };
    const [[row]] = await d1Execute(target, `select current_run_id, source_key from assets where id = '${assetId}'`);
    const keys = [`assets/${assetId}/runs/${row.current_run_id}/master.m3u8`, String(row.source_key)];
    const inR2 = async (key: string) => {
      const args = ["r2", "object", "get", `keyframe-media/${key}`, "--local", "--persist-to", e.persistTo, "--pipe"];
      const res = await run(wranglerBin(), args, { env: { CI: "true", WRANGLER_SEND_METRICS: "false" } });
      if (res.code !== 0 && !/not found|does not exist/i.test(res.stdout + res.stderr)) {
        throw new Error(`wrangler r2 object get failed: ${res.stderr}`);
      }
      return res.code === 0;
    };
    for (const key of keys) expect(await inR2(key), key).toBe(true);
    const del = await e.api("DELETE", `/v1/assets/${assetId}`);
    expect(del.status).toBe(204);
    // The delete's own sweep empties every prefix of the asset; each pending row then waits out the output grace
    // window (OUTPUT_GRACE_MS) for a second pass. A row in that state means R2 listed nothing under its prefix.
    const sql = `select prefix, attempts, created_at, next_attempt_at from pending_deletions where resource_id = '${assetId}'`;
    let rows: Record<string, unknown>[] = [];
    for (const until = Date.now() + 30_000; Date.now() < until; await new Promise((r) => setTimeout(r, 1000))) {
      [rows] = await d1Execute(target, sql);
      if (rows.length > 0 && rows.every((r) => String(r.next_attempt_at) > String(r.created_at))) break;
    }
    expect(rows.map((r) => r.prefix)).toEqual(expect.arrayContaining([`assets/${assetId}/`]));
    for (const r of rows) {
      expect(r.attempts, String(r.prefix)).toBe(0);
      expect(Date.parse(String(r.next_attempt_at)) - Date.parse(String(r.created_at))).toBe(OUTPUT_GRACE_MS);
    }
    for (const key of keys) expect(await inR2(key), key).toBe(false);
    // The edge caches playback-ID state for at most 60 s.
    const deadline = Date.now() + 70_000;
    let status = 200;
    while (Date.now() < deadline) {
      status = (await fetch(`${e.stack.edgeUrl}/${playbackId}.m3u8`)).status;
      if (status === 404) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(status).toBe(404);
  });
});
