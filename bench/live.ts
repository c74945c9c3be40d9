/**
 * `npm run bench:live`: live availability latency and ingest cost on the real local stack.
 *
 * Availability latency: the time from an encoder's segment PUT completing (the API answered it) to
 * the edge's live playlist listing that segment, p50/p99. Encoders follow ffmpeg's HLS PUT protocol
 * exactly (segment PUT, then the playlist PUT listing it) with real ffmpeg-made 2 s MPEG-TS segments,
 * replayed on a 2 s cadence so N streams cost N HTTP clients instead of N x264 encoders. A viewer
 * polls each stream's edge playlist every 25 ms.
 *
 * Rounds: N = 1 (≥ 60 segments), 4 and 16 concurrent streams. Also the ingest CPU per segment (the
 * API worker's process tree, user+system time over the round) and a glass-to-glass estimate per
 * latency mode: segment duration × hls.js's live sync (3 segments) + availability p50.
 *
 * Glass-to-glass, measured (not estimated) for each mode in the same run: real ffmpeg stamps every frame
 * with the wall clock it was captured at (a barcode, test/node/support/ll-hls.ts) and pushes it — `standard`
 * (HLS, 6 s segments), `low` (HLS, 2 s segments) and `ll-hls` (latency_mode low, CMAF chunked push with 0.5 s
 * parts) — while hls.js in headless Chromium plays the edge's master (lowLatencyMode for ll-hls) and reads
 * the stamp off the displayed frame every 100 ms: glass-to-glass = now − capture time (median and p90 over
 * the second half of the watch, after the player settled).
 *
 * LL-HLS part availability: a CMAF push of real ffmpeg fragments (0.5 s, a keyframe every 2 s) replayed in
 * real time as one streaming PUT; the time from a fragment's last byte being handed to the connection to the
 * edge's live playlist listing it as an EXT-X-PART (DO cut + R2 write of the part + state publish + edge poll +
 * viewer poll), p50/p99 — parts of a push's first segment are not published (its connection is not known yet).
 *
 * Options: --segments 60 (N = 1), --seconds 30 (N = 4 and 16 rounds), --glass-seconds 40 (watch per mode),
 * --only glass (skip the availability rounds).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createKeyInD1 } from "../scripts/lib/keys";
import type { components } from "../sdk/src/generated/openapi";
import { CmafSplitter } from "../src/live/ll-hls/splitter";
import { median, startLiveEncoder, watchLiveStream } from "../test/node/support/ll-hls";
import { startBenchStack } from "./stack";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ""), process.argv[i + 1]);
const SEGMENTS_N1 = Number(args.get("segments") ?? 60);
const SECONDS_MULTI = Number(args.get("seconds") ?? 30);
const SEGMENT_S = 2;
const POLL_MS = 25;
const GLASS_SECONDS = Number(args.get("glass-seconds") ?? 40);
const ONLY = args.get("only");

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}

/** Ten 2 s MPEG-TS segments from ffmpeg (testsrc2 + tone, keyframe every segment). */
function makeSegments(dir: string): Uint8Array[] {
  execFileSync("ffmpeg", [
    ...["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30"],
    ...["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "20"],
    ...["-c:v", "libx264", "-preset", "veryfast", "-g", "60", "-keyint_min", "60", "-sc_threshold", "0"],
    ...["-c:a", "aac", "-f", "hls", "-hls_time", "2", "-hls_list_size", "0"],
    ...["-hls_segment_filename", path.join(dir, "seg%d.ts"), path.join(dir, "index.m3u8")],
  ]);
  return readdirSync(dir)
    .filter((f) => /^seg\d+\.ts$/.test(f))
    .sort((a, b) => Number(a.slice(3, -3)) - Number(b.slice(3, -3)))
    .map((f) => new Uint8Array(readFileSync(path.join(dir, f))));
}

/**
 * CPU seconds (user + system) of a process and all its descendants, from /proc: in total and for the
 * workerd processes alone (the rest is wrangler dev's Node proxy, which production does not have).
 */
function treeCpuSeconds(rootPid: number): { total: number; workerd: number } {
  const ticks = 100;
  const children = new Map<number, number[]>();
  const cpu = new Map<number, { s: number; name: string }>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const ppid = Number(rest[1]);
      cpu.set(Number(d), { s: (Number(rest[11]) + Number(rest[12])) / ticks, name });
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      // the process went away
    }
  }
  let total = 0;
  let workerd = 0;
  const stack = [rootPid];
  while (stack.length) {
    const pid = stack.pop() as number;
    const c = cpu.get(pid);
    total += c?.s ?? 0;
    if (c?.name.startsWith("workerd")) workerd += c.s;
    stack.push(...(children.get(pid) ?? []));
  }
  return { total, workerd };
}

/** Per encoder index: segment PUT answered, playlist PUT answered (the DO published), edge first listed it. */
interface Timings {
  put: Map<number, number>;
  listed: Map<number, number>;
  seen: Map<number, number>;
  /** PUTs the API did not answer 201 (a loaded machine can make wrangler dev restart a worker mid-request). */
  failed: string[];
}

interface StreamHandle {
  ingestBase: string;
  liveUrl: string;
}

/** One encoder: PUT index{n}.ts then the playlist listing the last five, every 2 s, like ffmpeg does. */
async function pushStream(s: StreamHandle, segments: Uint8Array[], count: number, r: Timings) {
  const start = Date.now();
  for (let n = 0; n < count; n++) {
    await sleep(Math.max(0, start + n * SEGMENT_S * 1000 - Date.now()));
    const seg = await fetch(`${s.ingestBase}/index${n}.ts`, { method: "PUT", body: segments[n % segments.length] });
    if (seg.status !== 201) {
      // Like ffmpeg, an encoder goes on with its next segment; the failure is counted, not fatal.
      r.failed.push(`segment ${n}: ${seg.status} ${(await seg.text()).slice(0, 120)}`);
      continue;
    }
    r.put.set(n, Date.now());
    const first = Math.max(0, n - 4);
    const lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:2", `#EXT-X-MEDIA-SEQUENCE:${first}`];
    for (let i = first; i <= n; i++) lines.push("#EXTINF:2.000000,", `index${i}.ts`);
    if (n === count - 1) lines.push("#EXT-X-ENDLIST");
    const pl = await fetch(`${s.ingestBase}/index.m3u8`, { method: "PUT", body: `${lines.join("\n")}\n` });
    if (pl.status !== 201) {
      r.failed.push(`playlist after ${n}: ${pl.status} ${(await pl.text()).slice(0, 120)}`);
      continue;
    }
    r.listed.set(n, Date.now());
  }
}

/** A viewer: polls the edge playlist and notes when each encoder index first appears. */
async function watch(s: StreamHandle, seen: Map<number, number>, stop: { done: boolean }) {
  while (!stop.done) {
    const res = await fetch(s.liveUrl).catch(() => null);
    const body = res ? await res.text().catch(() => "") : "";
    const now = Date.now();
    if (res?.status === 200) {
      for (const m of body.matchAll(/\/c\d+-(\d+)\.ts/g)) if (!seen.has(Number(m[1]))) seen.set(Number(m[1]), now);
    }
    await sleep(POLL_MS);
  }
}

/** The bench only creates live streams: its API call answers one (the bench stops at the first error). */
type LiveStream = components["schemas"]["LiveStream"];
type Api = (method: string, p: string, body?: unknown) => Promise<LiveStream>;

/** Real ffmpeg CMAF fragments (`seconds` long), replayed as one streaming PUT; part listed at the edge − sent. */
async function llPartAvailability(edgeUrl: string, api: Api, dir: string, seconds = 40) {
  const file = path.join(dir, "cmaf.mp4");
  execFileSync("ffmpeg", [
    ...["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30"],
    ...["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", String(seconds)],
    ...["-c:v", "libx264", "-preset", "veryfast", "-g", "60", "-keyint_min", "60", "-sc_threshold", "0", "-c:a", "aac"],
    ...["-f", "mp4", "-movflags", "+frag_keyframe+empty_moov+default_base_moof+cmaf", "-frag_duration", "500000", file],
  ]);
  const { init, parts } = new CmafSplitter().push(new Uint8Array(readFileSync(file)));
  const ls = await api("POST", "/v1/live-streams", {
    latency_mode: "low",
    playback_policy: "public",
    recording: { mode: "off" },
  });
  const live = `${edgeUrl}/${ls.playback_ids[0].id}/live.m3u8`;
  const sent = new Map<string, number>();
  const seen = new Map<string, number>();
  const stop = { done: false };
  const viewer = (async () => {
    while (!stop.done) {
      const res = await fetch(live).catch(() => null);
      const body = res?.status === 200 ? await res.text() : "";
      const now = Date.now();
      for (const m of body.matchAll(/#EXT-X-PART:[^\n]*\/c\d+-(\d+)\.(\d+)\.m4s/g)) {
        const k = `${m[1]}.${m[2]}`;
        if (!seen.has(k)) seen.set(k, now);
      }
      await sleep(POLL_MS);
    }
  })();
  let seg = -1;
  let k = 0;
  const start = Date.now();
  const body = new ReadableStream<Uint8Array>({
    async pull(ctl) {
      if (k === 0 && seg === -1) {
        ctl.enqueue(init as Uint8Array);
        seg = 0;
        return;
      }
      const i = k;
      if (i >= parts.length) return ctl.close();
      await sleep(Math.max(0, start + (i + 1) * 500 - Date.now()));
      if (i > 0 && parts[i].independent) seg++;
      const part = i - parts.findLastIndex((p, j) => j <= i && p.independent);
      ctl.enqueue(parts[i].bytes);
      sent.set(`${seg}.${part}`, Date.now());
      k++;
    },
  });
  const res = await fetch(ls.ingest.cmaf_url!, { method: "PUT", body, duplex: "half" } as RequestInit);
  const failed = res.status === 201 ? "" : `${res.status} ${(await res.text()).slice(0, 120)}`;
  await sleep(300);
  stop.done = true;
  await viewer;
  const lat: number[] = [];
  for (const [key, t] of sent) {
    const at = seen.get(key);
    if (at !== undefined) lat.push(Math.max(0, at - t));
  }
  return { p50: pct(lat, 50), p99: pct(lat, 99), n: lat.length, failed };
}

async function main() {
  const work = mkdtempSync(path.join(tmpdir(), "keyframe-bench-live-"));
  const persistTo = path.join(work, "state");
  console.log("making 2 s segments with ffmpeg…");
  const segments = makeSegments(work);
  const stack = await startBenchStack(persistTo, {
    transcoder: false,
    cron: false,
    // wrangler dev takes minutes to start on a loaded machine.
    readyTimeoutMs: 400_000,
  });
  const apiPid = stack.services.find((s) => s.name.includes("api"))?.child.pid;
  try {
    const key = await createKeyInD1({ persistTo, scopes: ["*"], name: "bench" });
    const api: Api = async (method, p, body) => {
      const res = await fetch(`${stack.apiUrl}${p}`, {
        method,
        headers: { authorization: `Bearer ${key.secret}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return (await res.json()) as LiveStream;
    };
    const rows: string[] = [];
    let n1p50 = Number.NaN;
    const rounds = [
      // +1: the last segment is listed only with ENDLIST and is not counted.
      [1, SEGMENTS_N1 + 1],
      [4, Math.ceil(SECONDS_MULTI / SEGMENT_S)],
      [16, Math.ceil(SECONDS_MULTI / SEGMENT_S)],
    ] as const;
    for (const [n, count] of ONLY === "glass" ? [] : rounds) {
      const streams: StreamHandle[] = [];
      for (let i = 0; i < n; i++) {
        const ls = await api("POST", "/v1/live-streams", {
          latency_mode: "low",
          playback_policy: "public",
          recording: { mode: "off" },
        });
        streams.push({
          ingestBase: (ls.ingest.hls_url as string).replace(/\/index\.m3u8$/, ""),
          liveUrl: `${stack.edgeUrl}/${ls.playback_ids[0].id}/live.m3u8`,
        });
      }
      const cpuBefore = apiPid ? treeCpuSeconds(apiPid) : { total: Number.NaN, workerd: Number.NaN };
      const stop = { done: false };
      const results: Timings[] = streams.map(() => ({
        put: new Map(),
        listed: new Map(),
        seen: new Map(),
        failed: [],
      }));
      const viewers = streams.map((s, i) => watch(s, results[i].seen, stop));
      await Promise.all(streams.map((s, i) => pushStream(s, segments, count, results[i])));
      await sleep(500);
      stop.done = true;
      await Promise.all(viewers);
      const cpuAfter = apiPid ? treeCpuSeconds(apiPid) : { total: Number.NaN, workerd: Number.NaN };
      const cpu = cpuAfter.total - cpuBefore.total;
      const cpuWorkerd = cpuAfter.workerd - cpuBefore.workerd;
      const lat: number[] = [];
      const publish: number[] = [];
      const edge: number[] = [];
      let missing = 0;
      for (const r of results) {
        for (const [idx, t] of r.put) {
          const seen = r.seen.get(idx);
          // The last segment is listed only with ENDLIST, when the stream goes idle: not a live measurement.
          if (idx === count - 1 || !r.listed.has(idx)) continue;
          if (seen === undefined) missing++;
          else {
            const listed = r.listed.get(idx) as number;
            lat.push(Math.max(0, seen - t));
            publish.push(listed - t);
            edge.push(Math.max(0, seen - listed));
          }
        }
      }
      if (n === 1) n1p50 = pct(lat, 50);
      const failed = results.flatMap((r) => r.failed);
      rows.push(
        `N=${String(n).padStart(2)}  segments=${String(lat.length).padStart(4)}  availability p50=${pct(lat, 50)} ms  ` +
          `p99=${pct(lat, 99)} ms  max=${Math.max(...lat)} ms  never seen=${missing}  ` +
          `ingest CPU/segment=${((cpu * 1000) / (n * count)).toFixed(1)} ms ` +
          `(workerd ${((cpuWorkerd * 1000) / (n * count)).toFixed(1)} ms)\n` +
          `      where it goes (p50/p99): playlist PUT + DO publish ${pct(publish, 50)}/${pct(publish, 99)} ms, ` +
          `edge state cache + viewer poll ${pct(edge, 50)}/${pct(edge, 99)} ms` +
          (failed.length ? `\n      failed PUTs: ${failed.length} (first: ${failed[0]})` : ""),
      );
      console.log(rows.at(-1));
    }
    // A player holds back 3 target durations from the end of the playlist (the HLS spec's minimum HOLD-BACK,
    // hls.js's default liveSyncDurationCount); that end is the last segment the encoder finished, listed
    // `availability` after it finished. Encoder lookahead and the player's decode are not counted.
    if (ONLY !== "glass") {
      console.log("\nglass-to-glass estimate (3 × segment hold-back + availability p50 at N=1):");
      for (const [mode, seg] of [
        ["standard", 6],
        ["low", 2],
      ] as const) {
        console.log(`  ${mode.padEnd(8)} 3 × ${seg} s + ${n1p50} ms ≈ ${(seg * 3 + n1p50 / 1000).toFixed(1)} s`);
      }
    }
    {
      const { p50, p99, n, failed } = await llPartAvailability(stack.edgeUrl, api, work);
      console.log(
        `\nLL-HLS part availability (N=1, ${n} parts): p50=${p50} ms  p99=${p99} ms${failed ? `  push: ${failed}` : ""}`,
      );
    }
    console.log(`\nglass-to-glass, measured (ffmpeg-stamped frames read back in hls.js, ${GLASS_SECONDS} s per mode):`);
    for (const mode of ["standard", "low", "ll-hls"] as const) {
      const ls = await api("POST", "/v1/live-streams", {
        latency_mode: mode === "standard" ? "standard" : "low",
        playback_policy: "public",
        recording: { mode: "off" },
      });
      const enc = startLiveEncoder(mode === "ll-hls" ? ls.ingest.cmaf_url! : ls.ingest.hls_url!, {
        container: mode === "ll-hls" ? "cmaf" : "hls",
        hlsTime: mode === "standard" ? 6 : 2,
        stamp: true,
      });
      try {
        const master = `${stack.edgeUrl}/${ls.playback_ids[0].id}.m3u8`;
        for (const until = Date.now() + 60_000; Date.now() < until; await sleep(250)) {
          if ((await fetch(master)).status === 200) break;
        }
        const w = await watchLiveStream(master, { lowLatency: mode === "ll-hls", ms: GLASS_SECONDS * 1000 });
        const settled = w.glass.slice(Math.floor(w.glass.length / 2));
        console.log(
          `  ${mode.padEnd(8)} median ${(median(settled) / 1000).toFixed(2)} s  p90 ${(pct(settled, 90) / 1000).toFixed(2)} s  ` +
            `(${settled.length} samples; hls.js latency ${median(w.latency).toFixed(2)} s, target ${(w.target.at(-1) ?? 0).toFixed(2)} s, ${w.parts} parts / ` +
            `${w.fragments} segments loaded${w.errors.length ? `, errors: ${w.errors.join(" ")}` : ""})`,
        );
      } finally {
        enc.proc.kill("SIGINT");
        await Promise.race([enc.exited, sleep(5000)]);
        await enc.kill();
      }
    }
    console.log(
      "  Mux documents standard-latency HLS at typically 25-30 s glass-to-glass " +
        "(mux.com/docs/guides/reduce-live-stream-latency); its reduced and low modes shorten segments the same way.",
    );
  } finally {
    await stack.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
