/**
 * `npm run bench:vod`: how much our pipeline costs over the bare ffmpeg commands doing the same work.
 *
 * On one generated 60 s 1080p30 H.264/AAC clip, in one run:
 *   baseline  remux   the fast-path ffmpeg command alone (stream copy into HLS fMP4)
 *   baseline  ladder  the one-process ladder ffmpeg command alone (split → 1080/720/480/360 + audio)
 *   pipeline  ready     upload complete (PUT answered) → asset `ready` (playable), through API, queue,
 *                       transcoder download, probe, remux, R2 writes and callbacks
 *   pipeline  complete  upload complete → `renditions_status: complete` (remux + ladder + poster +
 *                       storyboard + uploads + master rewrite)
 * and prints ready/remux, complete/ladder and complete/(remux+ladder).
 *
 *   pipeline  servable  upload complete → the edge serves the first segment of the master's first
 *                       variant (what a player needs for its first frame)
 * and, with --concurrent 1,2,4, N uploads PUT at once: each one's upload → ready, against N = 1 in the
 * same run (the fast path must not wait behind another upload's ladder), with how far apart the PUTs were
 * answered and the local API's longest answer to a D1-only request meanwhile (its one workerd also receives
 * the other uploads' bodies).
 *
 * The baselines use the transcoder's own argument builders, so "bare ffmpeg" is the same command.
 * Options: --seconds 60 --height 1080 --runs 1 --concurrent 1,2,4 --clip <reuse an mp4 made by this
 * recipe> --stream-ingest 0 (the download-first path, for a before/after in one sitting) --early-remux 0 (the
 * streamed remux starts after the probe instead of beside it, ditto)
 *
 * --parallel 1,2 [--chunk-seconds 6,12,30]: the segment-parallel ladder instead of the stack (bench/ladder-chunks.ts):
 * time to ladder chunked at each N against the one-process ladder and this run's bare baseline, the per-chunk
 * cost curve, and a model for N up to 64 on 10- and 60-minute sources. --runner local,remote (default local):
 * also through the remote chunk runner (a real transcoder server on this box and an in-memory API: the HTTP
 * path, the ranged source reads and the segment PUTs and read-back, not the extra machines).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import readline from "node:readline";
import { createKeyInD1 } from "../scripts/lib/keys";
import type { components } from "../sdk/src/generated/openapi";
import { buildRemuxArgs, planRungs } from "../transcoder/src/ffmpeg";
import { bareLadder, ffmpeg } from "./bare";
import { benchClip } from "./clip";
import { startCpuMeter } from "./cpu";
import { benchChunkedLadder } from "./ladder-chunks";
import { startBenchStack } from "./stack";

type Schemas = components["schemas"];

const argv = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) argv.set(process.argv[i].replace(/^--/, ""), process.argv[i + 1]);
const SECONDS = Number(argv.get("seconds") ?? 60);
const HEIGHT = Number(argv.get("height") ?? 1080);
const WIDTH = Math.round((HEIGHT * 16) / 9 / 2) * 2;
const RUNS = Number(argv.get("runs") ?? 1);
const CONCURRENT = (argv.get("concurrent") ?? "").split(",").filter(Boolean).map(Number);
const CLIP = argv.get("clip");
const STREAM_INGEST = argv.get("stream-ingest") ?? "1";
const EARLY_REMUX = argv.get("early-remux") ?? "1";
const PARALLEL = (argv.get("parallel") ?? "").split(",").filter(Boolean).map(Number);
const CHUNK_SECONDS = (argv.get("chunk-seconds") ?? "6,12,30").split(",").filter(Boolean).map(Number);
const RUNNERS = (argv.get("runner") ?? "local")
  .split(",")
  .filter((r): r is "local" | "remote" => ["local", "remote"].includes(r));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");
console.log(`load average at start: ${load()}`);
const work = mkdtempSync(path.join(tmpdir(), "keyframe-bench-vod-"));
const clip = benchClip(work, CLIP, { seconds: SECONDS, width: WIDTH, height: HEIGHT });
const bytes = new Uint8Array(readFileSync(clip));
console.log(`clip: ${(statSync(clip).size / 1e6).toFixed(1)} MB`);

// Where the CPU goes (bench/cpu.ts): the bare ladder's own, and every process of the stack during a pipeline run.
const cpu = startCpuMeter();
const bareLadderCpu: number[] = [];
const pipelineCpu: Record<string, string>[] = [];
const remuxMs: number[] = [];
const ladderMs: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const out = path.join(work, `baseline-${i}`);
  mkdirSync(path.join(out, "fast"), { recursive: true });
  remuxMs.push(await ffmpeg(buildRemuxArgs({ kind: "remux", input: clip, videoIndex: 0, audioIndex: 1 }), out));
  cpu.reset();
  ladderMs.push(await bareLadder(clip, out, WIDTH, HEIGHT));
  bareLadderCpu.push(cpu.read().get("ffmpeg ladder") ?? 0);
  console.log(
    `baseline run ${i + 1}: remux ${remuxMs[i].toFixed(0)} ms, ladder ${ladderMs[i].toFixed(0)} ms (${bareLadderCpu[i].toFixed(1)} core-s)`,
  );
}

if (PARALLEL.length) {
  const rungs = planRungs(WIDTH, HEIGHT, "1080p", 30);
  await benchChunkedLadder({
    options: {
      kind: "ladder",
      input: clip,
      video: { streamIndex: 0, rungs, frameRate: { num: 30, den: 1 } },
      audioStreamIndex: 1,
    },
    seconds: SECONDS,
    work,
    bareLadderMs: median(ladderMs),
    parallel: PARALLEL,
    chunkSeconds: CHUNK_SECONDS,
    runners: RUNNERS,
  });
  console.log(`load average at end: ${load()}`);
  rmSync(work, { recursive: true, force: true });
  process.exit(0);
}

const persistTo = path.join(work, "state");
const stack = await startBenchStack(persistTo, {
  transcoderEnv: { TRANSCODER_STREAM_INGEST: STREAM_INGEST, TRANSCODER_EARLY_REMUX: EARLY_REMUX },
});
const readyMs: number[] = [];
const readyAtMs: number[] = [];
const completeMs: number[] = [];
const servableMs: number[] = [];
const concurrentReady: { n: number; ready: number[]; stallMs: number; putSpreadMs: number }[] = [];
// The transcoder's per-stage wall clock (its `job.timings` log line), one record per job.
const stageTimings: Record<string, number>[] = [];
/** When the transcoder published each asset "complete" (its log's clock, this machine's). */
const completedAt = new Map<string, number>();
const transcoderOut = stack.services.find((s) => s.name === "transcoder")?.child.stdout;
if (transcoderOut) {
  readline.createInterface({ input: transcoderOut }).on("line", (line) => {
    try {
      const rec = JSON.parse(line);
      if (rec.event === "job.published" && rec.phase === "complete") completedAt.set(rec.asset_id, Date.parse(rec.ts));
      if (rec.event === "job.timings") {
        const { ts, level, event, job_id, asset_id, attempt, correlation_id, ...stages } = rec;
        stageTimings.push(stages);
        console.log(`transcoder stages (ms): ${JSON.stringify(stages)}`);
      }
    } catch {
      // not a log line
    }
  });
}
try {
  const key = await createKeyInD1({ persistTo, scopes: ["*"], name: "bench" });
  const api = async <T>(method: string, p: string, body?: unknown) => {
    const res = await fetch(`${stack.apiUrl}${p}`, {
      method,
      headers: { authorization: `Bearer ${key.secret}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return res.json() as Promise<T>;
  };
  /** When each upload's PUT was answered (performance.now()), for the PUTs' spread in a round. */
  let answered: number[] = [];
  /** One upload, timed from the moment its PUT is answered. */
  const runOne = async (untilComplete: boolean) => {
    const upload = await api<Schemas["Upload"]>("POST", "/v1/uploads", {
      new_asset_settings: { playback_policy: "public" },
    });
    const put = await fetch(upload.url!, {
      method: "PUT",
      headers: { "content-type": "video/mp4", "content-length": String(bytes.byteLength) },
      body: bytes,
    });
    const { asset_id } = (await put.json()) as { asset_id: string };
    const t0 = performance.now();
    const t0Wall = Date.now();
    answered.push(t0);
    let readyAt = 0;
    let ready = 0;
    let servable = 0;
    // The edge, polled as a player would be: master → first variant → its first segment. Only the edge
    // is polled here: the API allows 600 reads a minute per key, and a throttled poll would delay `ready`.
    const pid = (await api<Schemas["Asset"]>("GET", `/v1/assets/${asset_id}`)).playback_ids?.[0]?.id as
      | string
      | undefined;
    const servableRun = (async () => {
      if (!pid) return;
      const master = `${stack.edgeUrl}/${pid}.m3u8`;
      for (;;) {
        const m = await fetch(master);
        if (m.ok) {
          const variant = (await m.text()).split("\n").find((l) => l && !l.startsWith("#"));
          const v = variant ? await fetch(new URL(variant, master)) : undefined;
          if (v?.ok) {
            const seg = (await v.text()).split("\n").find((l) => l && !l.startsWith("#"));
            const sr = seg ? await fetch(new URL(seg, v.url)) : undefined;
            if (sr?.ok) {
              await sr.arrayBuffer();
              servable = performance.now() - t0;
              return;
            }
          }
        } else await m.body?.cancel();
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    for (;;) {
      const asset = await api<Schemas["Asset"]>("GET", `/v1/assets/${asset_id}`);
      if (asset.status === "errored") throw new Error(`asset errored: ${JSON.stringify(asset.error)}`);
      if (asset.status === "ready" && !ready) {
        ready = performance.now() - t0;
        // The API's own record of the moment (same machine clock): the poll above sees it up to 150 ms late.
        readyAt = asset.ready_at ? Date.parse(asset.ready_at) - t0Wall : ready;
        if (!untilComplete) break;
      }
      if (asset.renditions_status === "complete") break;
      // 150 ms per asset keeps four at once under the API's read limit. Once ready, every 5 s: each GET costs
      // the local stack ~20 ms of CPU (auth and D1 through wrangler dev: ~10 ms in workerd, ~10 ms in wrangler's
      // own node process, measured with bench/cpu.ts), which the poll took from the ladder it was timing (7.5
      // core-s over a run at 150 ms, ~1.2 at 1 s). `complete` is read from the transcoder's log, not the poll.
      await new Promise((r) => setTimeout(r, ready ? 5000 : 150));
    }
    await servableRun;
    // The transcoder's log says when it published "complete"; the 1 s poll only says it has.
    const done = completedAt.get(asset_id);
    return { ready, readyAt, servable, complete: done ? done - t0Wall : performance.now() - t0 };
  };
  for (let i = 0; i < RUNS; i++) {
    cpu.reset();
    const r = await runOne(true);
    pipelineCpu.push(
      Object.fromEntries([...cpu.read()].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v.toFixed(1)])),
    );
    readyMs.push(r.ready);
    readyAtMs.push(r.readyAt);
    servableMs.push(r.servable);
    completeMs.push(r.complete);
    console.log(
      `pipeline run ${i + 1}: ready ${r.readyAt.toFixed(0)} ms (API's ready_at; its poll saw it at ${r.ready.toFixed(0)} ms), first segment servable ${r.servable.toFixed(0)} ms, complete ${r.complete.toFixed(0)} ms`,
    );
  }
  for (const n of CONCURRENT) {
    // How long the local API takes to answer a request that needs only D1 (`/v1/health`), every 100 ms of the
    // round: the longest answer is how long one workerd, busy receiving the other uploads, kept every job's reads
    // (head, source, publish) waiting. In production those PUTs are not in the transcoder's way.
    answered = [];
    let stallMs = 0;
    let pinging = true;
    const pinger = (async () => {
      while (pinging) {
        const t = performance.now();
        // A failed ping (the API went away) is not a stall to record; the round's own requests report it.
        const ok = await fetch(`${stack.apiUrl}/v1/health`)
          .then((r) => r.arrayBuffer())
          .then(() => true)
          .catch(() => false);
        if (ok) stallMs = Math.max(stallMs, performance.now() - t);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const runs = await Promise.all(Array.from({ length: n }, () => runOne(false)))
      .catch((err) => {
        console.log(`${n} at once failed: ${err instanceof Error ? err.message : String(err)}`);
        return [];
      })
      .finally(() => (pinging = false));
    await pinger;
    if (runs.length === 0) continue;
    const putSpreadMs = Math.round(Math.max(...answered) - Math.min(...answered));
    concurrentReady.push({
      n,
      ready: runs.map((r) => Math.round(r.readyAt)),
      stallMs: Math.round(stallMs),
      putSpreadMs,
    });
    console.log(`${n} at once: ready ${runs.map((r) => r.readyAt.toFixed(0)).join(", ")} ms (ready_at)`);
    // No wait for their ladders: the next round's fast paths run while a ladder encodes, which is the point.
  }
} finally {
  await stack.stop();
  rmSync(work, { recursive: true, force: true });
}

const [remux, ladder, ready, complete, servable, readyAt] = [
  remuxMs,
  ladderMs,
  readyMs,
  completeMs,
  servableMs,
  readyAtMs,
].map(median);
console.log(`\n${SECONDS}s ${HEIGHT}p30 H.264/AAC, median of ${RUNS} run(s); load average at end: ${load()}`);
console.table({
  "bare remux (baseline)": { ms: Math.round(remux) },
  "bare ladder (baseline)": { ms: Math.round(ladder) },
  "pipeline: upload → ready (API's ready_at)": { ms: Math.round(readyAt) },
  "pipeline: upload → ready seen by a 150 ms poll": { ms: Math.round(ready) },
  "pipeline: upload → first segment servable": { ms: Math.round(servable) },
  "pipeline: upload → renditions complete": { ms: Math.round(complete) },
});
if (stageTimings.length) {
  console.log("transcoder stage wall clock (ms), per run:");
  console.table(stageTimings);
}
console.log(
  `CPU (core-s) of the bare ladder: ${bareLadderCpu.map((c) => c.toFixed(1)).join(", ")}; of each pipeline run, upload → complete, by process:`,
);
console.table(pipelineCpu);
console.log(`ratio ready / bare remux:                 ${(readyAt / remux).toFixed(2)}x`);
console.log(`ratio complete / bare ladder:             ${(complete / ladder).toFixed(2)}x`);
// The bare ladder itself varies by several seconds between runs on a shared box: each run against each baseline.
console.log(
  `  every pipeline run / every bare ladder:  ${completeMs.flatMap((c) => ladderMs.map((l) => (c / l).toFixed(2))).join(", ")}`,
);
console.log(`ratio complete / (bare remux + ladder):   ${(complete / (remux + ladder)).toFixed(2)}x`);
if (concurrentReady.length) {
  const single = concurrentReady.find((c) => c.n === 1);
  console.log(
    "N uploads at once, each one's upload → ready (ms), worst / N=1 of the same run; the first to last PUT's " +
      "answer; the local API's longest answer to /v1/health (D1 only) during the round:",
  );
  console.table(
    concurrentReady.map((c) => ({
      n: c.n,
      ready_ms: c.ready.join(", "),
      worst_vs_single: single ? (Math.max(...c.ready) / Math.max(...single.ready)).toFixed(2) : "—",
      puts_answered_within_ms: c.putSpreadMs,
      api_longest_answer_ms: c.stallMs,
    })),
  );
}
console.log(`stream ingest: ${STREAM_INGEST === "0" ? "off (download first)" : "on"}`);
console.log(`remux beside the probe: ${EARLY_REMUX === "0" ? "off (after it)" : "on"}`);
console.log(
  `playable after ${(readyAt / 1000).toFixed(2)} s, ${((readyAt / complete) * 100).toFixed(0)}% of the full ladder time`,
);
