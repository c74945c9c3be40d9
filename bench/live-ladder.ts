/**
 * `npm run bench:live-ladder`: what the live ladder costs on the real local stack.
 *
 * One broadcast (ffmpeg, real time, `--size` test pattern, 2 s segments) to a stream with `--renditions`. A
 * viewer polls the edge's source playlist and each rendition's playlist every 25 ms and notes when each
 * sequence number first appears in each: the added latency of a rendition is (first seen in the rendition)
 * − (first seen in the source), p50/p95 over the run. The transcoder's own numbers come from its
 * `GET /live-ladder`: per rendition, ffmpeg's CPU time (user+system, from `-benchmark`) over the run's wall
 * time (= cores used per stream for that rendition), and source-fetched → API-accepted time.
 *
 * Also CPU per encoded segment, and what that projects to when every segment is encoded (CPU per segment /
 * segment duration): on a starved machine the ladder skips segments, so CPU over wall time alone understates it.
 *
 * Options: --seconds 60, --size 854x480, --fps 30, --segment 2, --renditions 360p,240p, --preset superfast
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createKeyInD1 } from "../scripts/lib/keys";
import type { components } from "../sdk/src/generated/openapi";
import { startEncoder } from "../test/node/support/live";
import type { LiveLadderSupervisor, RenditionStats } from "../transcoder/src/live-ladder/supervisor";
import { startBenchStack } from "./stack";

/** GET /live-ladder on the transcoder: each running job's stats by stream ID. */
type LadderStats = Partial<ReturnType<LiveLadderSupervisor["stats"]>>;

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ""), process.argv[i + 1]);
const SECONDS = Number(args.get("seconds") ?? 60);
const SIZE = args.get("size") ?? "854x480";
const RENDITIONS = (args.get("renditions") ?? "360p,240p").split(",");
const FPS = Number(args.get("fps") ?? 30);
const SEGMENT_S = Number(args.get("segment") ?? 2);
const PRESET = args.get("preset");
const POLL_MS = 25;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}

const perSegment = (t: RenditionStats | undefined): number => (t?.encoded ? t.cpu_seconds / t.encoded : Number.NaN);

/** Sequence numbers a live media playlist lists (gaps left out). */
function seqs(playlist: string): number[] {
  let seq = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(playlist)?.[1] ?? 0);
  let gap = false;
  const out: number[] = [];
  for (const l of playlist.split("\n")) {
    if (l === "#EXT-X-GAP") gap = true;
    else if (l && !l.startsWith("#")) {
      if (!gap) out.push(seq);
      gap = false;
      seq++;
    }
  }
  return out;
}

async function main() {
  const persistTo = mkdtempSync(path.join(tmpdir(), "keyframe-bench-ladder-"));
  const stack = await startBenchStack(persistTo, {
    transcoderEnv: PRESET ? { KEYFRAME_LIVE_LADDER_PRESET: PRESET } : {},
  });
  try {
    const key = await createKeyInD1({ persistTo, scopes: ["*"], name: "bench" });
    const res = await fetch(`${stack.apiUrl}/v1/live-streams`, {
      method: "POST",
      headers: { authorization: `Bearer ${key.secret}`, "content-type": "application/json" },
      body: JSON.stringify({ playback_policy: "public", renditions: RENDITIONS, recording: { mode: "off" } }),
    });
    const ls = (await res.json()) as components["schemas"]["LiveStream"];
    if (res.status !== 201) throw new Error(`create: ${res.status} ${JSON.stringify(ls)}`);
    const pb = ls.playback_ids[0].id as string;
    const urls = [
      ["source", `${stack.edgeUrl}/${pb}/live.m3u8`],
      ...RENDITIONS.map((r) => [r, `${stack.edgeUrl}/${pb}/live/${r}.m3u8`]),
    ];
    const seen = new Map<string, Map<number, number>>(urls.map(([n]) => [n, new Map()]));
    const enc = startEncoder(ls.ingest.hls_url!, { size: SIZE, hlsTime: SEGMENT_S, fps: FPS, seconds: SECONDS + 10 });
    const startedAt = Date.now();
    let stop = false;
    const pollers = urls.map(async ([name, url]) => {
      while (!stop) {
        try {
          const r = await fetch(url);
          const body = await r.text();
          if (r.ok) for (const s of seqs(body)) if (!seen.get(name)?.has(s)) seen.get(name)?.set(s, Date.now());
        } catch {
          // not yet
        }
        await sleep(POLL_MS);
      }
    });
    let stats: LadderStats = {};
    while (Date.now() - startedAt < SECONDS * 1000) {
      await sleep(2000);
      stats = (await (await fetch(`${stack.transcoderUrl}/live-ladder`)).json()) as LadderStats;
    }
    const wall = (Date.now() - startedAt) / 1000;
    stop = true;
    await Promise.all(pollers);
    await enc.kill();

    const source = seen.get("source") as Map<number, number>;
    console.log(
      `live ladder bench: ${SIZE} source, ${FPS} fps, renditions ${RENDITIONS.join(",")}, preset ${PRESET ?? "superfast"}, ${wall.toFixed(0)} s, ${SEGMENT_S} s segments`,
    );
    console.log(`source segments seen at the edge: ${source.size}`);
    const job = stats[ls.id] ?? { renditions: [] };
    for (const r of RENDITIONS) {
      const mine = seen.get(r) as Map<number, number>;
      const added = [...mine.entries()].filter(([s]) => source.has(s)).map(([s, t]) => t - (source.get(s) as number));
      const t = job.renditions.find((x) => x.rendition === r);
      const cpu = t ? t.cpu_seconds / wall : Number.NaN;
      console.log(
        `${r.padEnd(6)} segments ${String(mine.size).padStart(3)}  added latency at the edge p50 ${pct(added, 50)} ms p95 ${pct(added, 95)} ms` +
          `  | transcoder: encoded ${t?.encoded ?? 0} skipped ${t?.skipped ?? 0} failed ${t?.failures ?? 0}` +
          `, fetch→accepted p50 ${pct(t?.added_ms ?? [], 50)} ms (queued ${pct(t?.queued_ms ?? [], 50)}, ffmpeg ${pct(t?.encode_ms ?? [], 50)}, PUT ${pct(t?.push_ms ?? [], 50)}), CPU ${(cpu * 100).toFixed(1)} % of a core` +
          ` (${(t?.cpu_seconds ?? 0).toFixed(1)} s CPU / ${wall.toFixed(0)} s)` +
          `; per segment ${perSegment(t).toFixed(2)} s CPU → ${((perSegment(t) / SEGMENT_S) * 100).toFixed(0)} % of a core if every segment is encoded`,
      );
    }
    const total = job.renditions.reduce((s, x) => s + x.cpu_seconds, 0) / wall;
    const projected = job.renditions.reduce((s, x) => s + perSegment(x), 0) / SEGMENT_S;
    console.log(
      `ladder CPU per stream: ${(total * 100).toFixed(1)} % of one core measured (sum over renditions), ` +
        `${(projected * 100).toFixed(0)} % projected with every segment encoded`,
    );
  } finally {
    await stack.stop();
    rmSync(persistTo, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
