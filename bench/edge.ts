/**
 * `npm run bench:edge`: requests/s, latency (p50/p99) and workerd CPU per request for the same segment
 * fetched three ways in one run, by the same load generator:
 *   bare    a bare Worker streaming the R2 object with no auth (bench/bare-worker/), the baseline;
 *   public  the edge, public playback ID;
 *   signed  the edge, signed playback ID with a token.
 * Prints edge-public/bare, edge-signed/bare and signed/public ratios against the targets (issue 14:
 * edge ≥ 0.8× bare, signed ≥ 0.95× public, p99 signed ≤ 1.1× public).
 *
 * CPU per request: utime+stime of the serving workerd process (from /proc/<pid>/stat, every workerd in
 * the `wrangler dev` process group) before and after each round, divided by the round's requests.
 *
 * Self-contained by default: seeds a throwaway local state (D1 migrations + rows, R2 playlists and a
 * segment) with wrangler's local commands, starts `wrangler dev` for the edge and for the bare worker on
 * the same state, measures, and stops both. To measure an already running edge instead, pass
 * `--edge-url http://127.0.0.1:8788 --public /{pb}/{rendition}/{segment} --signed '/{pb}/…?token=…'`
 * (and `--bare-url http://…/{r2 key}` for a baseline; no CPU figures then).
 *
 * Options: --duration 5 (seconds per round), --concurrency 16, --rounds 2 (bare/public/signed, order rotated per round),
 * --segment-kb 256.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { exportJWK, generateKeyPair } from "jose";
import { newId } from "../src/lib/ids";
import { signPlaybackToken } from "../src/lib/playback-token";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ""), process.argv[i + 1]);
const DURATION_MS = Number(args.get("duration") ?? 5) * 1000;
const CONCURRENCY = Number(args.get("concurrency") ?? 16);
const ROUNDS = Number(args.get("rounds") ?? 2);
const SEGMENT_BYTES = Number(args.get("segment-kb") ?? 256) * 1024;
const ROOT = path.resolve(import.meta.dirname, "..");
const EDGE_CONFIG = path.join(ROOT, "workers/edge/wrangler.toml");
const BARE_CONFIG = path.join(ROOT, "bench/bare-worker/wrangler.toml");
const WRANGLER = path.join(ROOT, "node_modules/.bin/wrangler");

function run(cmd: string, argv: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, argv, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    p.on("error", reject);
    p.on("exit", (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${argv.join(" ")} → ${code}\n${out}`)),
    );
  });
}

const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;

async function seed(persist: string) {
  const common = ["-c", EDGE_CONFIG, "--local", "--persist-to", persist];
  await run(WRANGLER, ["d1", "migrations", "apply", "DB", ...common]);
  const envId = newId("environment");
  const assetId = newId("asset");
  const runId = newId("job");
  const publicPb = newId("playbackId");
  const signedPb = newId("playbackId");
  const kid = newId("signingKey");
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const pub = await exportJWK(publicKey);
  const sql = [
    `insert into environments (id, name) values (${sqlString(envId)}, 'bench')`,
    `insert into assets (id, environment_id, status, current_run_id, renditions_status, has_poster, has_storyboard)
       values (${sqlString(assetId)}, ${sqlString(envId)}, 'ready', ${sqlString(runId)}, 'complete', 0, 0)`,
    `insert into playback_ids (id, environment_id, asset_id, policy) values
       (${sqlString(publicPb)}, ${sqlString(envId)}, ${sqlString(assetId)}, 'public'),
       (${sqlString(signedPb)}, ${sqlString(envId)}, ${sqlString(assetId)}, 'signed')`,
    `insert into signing_keys (id, environment_id, public_jwk) values
       (${sqlString(kid)}, ${sqlString(envId)}, ${sqlString(JSON.stringify(pub))})`,
  ].join(";\n");
  await run(WRANGLER, ["d1", "execute", "DB", ...common, "--command", sql]);
  const dir = await mkdtemp(path.join(tmpdir(), "kf-bench-obj-"));
  const segment = path.join(dir, "seg.m4s");
  await writeFile(segment, Buffer.alloc(SEGMENT_BYTES, 7));
  const key = `keyframe-media/assets/${assetId}/runs/${runId}/v720/seg_00000.m4s`;
  await run(WRANGLER, ["r2", "object", "put", key, "--file", segment, ...common]);
  await rm(dir, { recursive: true, force: true });
  const token = await signPlaybackToken({
    privateKey: privateKey as CryptoKey,
    kid,
    playbackId: signedPb,
    audience: "v",
    expiresInSeconds: 3600,
  });
  return {
    barePath: `/${key.slice("keyframe-media/".length)}`,
    publicPath: `/${publicPb}/v720/seg_00000.m4s`,
    signedPath: `/${signedPb}/v720/seg_00000.m4s?token=${token}`,
  };
}

async function startWorker(config: string, persist: string, port: number): Promise<ChildProcess> {
  const p = spawn(
    WRANGLER,
    ["dev", "-c", config, "--persist-to", persist, "--port", String(port), "--inspector-port", String(port + 1)],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  let log = "";
  p.stdout?.on("data", (d) => (log += d));
  p.stderr?.on("data", (d) => (log += d));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      if (res.ok) return p;
    } catch {
      // not up yet
    }
    if (p.exitCode !== null) throw new Error(`wrangler dev exited:\n${log}`);
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${config} did not start within 60 s:\n${log}`);
}

/** CPU seconds (utime + stime) of every workerd in process group `pgid` (a detached `wrangler dev`). */
async function workerdCpuSeconds(pgid: number): Promise<number> {
  let ticks = 0;
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    // Fields after the parenthesised command: state(3) ppid(4) pgrp(5) … utime(14) stime(15).
    const close = stat.lastIndexOf(")");
    if (close < 0 || !stat.slice(stat.indexOf("(") + 1, close).startsWith("workerd")) continue;
    const f = stat.slice(close + 2).split(" ");
    if (Number(f[2]) === pgid) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / 100; // USER_HZ is 100 on Linux
}

interface Stats {
  requests: number;
  errors: number;
  rps: number;
  p50: number;
  p99: number;
  /** workerd CPU ms per request (NaN when the server is not ours to watch). */
  cpuMs: number;
}

async function load(url: string, expectBytes: number | null, pgid: number | null = null): Promise<Stats> {
  const cpu0 = pgid ? await workerdCpuSeconds(pgid) : Number.NaN;
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const end = performance.now() + DURATION_MS;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          const res = await fetch(url);
          const body = await res.arrayBuffer();
          if (res.status !== 200 || (expectBytes !== null && body.byteLength !== expectBytes)) {
            errors++;
            firstError ??= `${res.status}, ${body.byteLength} bytes: ${new TextDecoder().decode(body.slice(0, 200))}`;
          }
        } catch (err) {
          errors++;
          firstError ??= String((err as Error)?.cause ?? err);
        }
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  const cpu1 = pgid ? await workerdCpuSeconds(pgid) : Number.NaN;
  if (firstError) console.log(`  ${errors} error(s) on ${url.split("?")[0]}; first: ${firstError}`);
  return {
    requests: latencies.length,
    errors,
    rps: latencies.length / elapsed,
    p50: pct(0.5),
    p99: pct(0.99),
    cpuMs: ((cpu1 - cpu0) * 1000) / latencies.length,
  };
}

function merge(all: Stats[]): Stats {
  const requests = all.reduce((s, x) => s + x.requests, 0);
  return {
    requests,
    errors: all.reduce((s, x) => s + x.errors, 0),
    rps: all.reduce((s, x) => s + x.rps, 0) / all.length,
    p50: all.reduce((s, x) => s + x.p50, 0) / all.length,
    p99: all.reduce((s, x) => s + x.p99, 0) / all.length,
    cpuMs: all.reduce((s, x) => s + x.cpuMs * x.requests, 0) / requests,
  };
}

async function main() {
  let edgeUrl = args.get("edge-url");
  let bareUrl = args.get("bare-url");
  let publicPath = args.get("public");
  let signedPath = args.get("signed");
  let barePath: string | undefined;
  const children: ChildProcess[] = [];
  let persist: string | null = null;
  let expectBytes: number | null = null;
  let edgePg: number | null = null;
  let barePg: number | null = null;
  try {
    if (!edgeUrl || !publicPath || !signedPath) {
      persist = await mkdtemp(path.join(tmpdir(), "kf-bench-edge-"));
      console.log(`seeding local state in ${persist} …`);
      ({ publicPath, signedPath, barePath } = await seed(persist));
      const port = Number(process.env.KEYFRAME_BENCH_EDGE_PORT ?? 8798);
      console.log(`starting wrangler dev (edge) on :${port} and (bare worker) on :${port + 2} …`);
      const edge = await startWorker(EDGE_CONFIG, persist, port);
      children.push(edge);
      const bare = await startWorker(BARE_CONFIG, persist, port + 2);
      children.push(bare);
      edgeUrl = `http://127.0.0.1:${port}`;
      bareUrl = `http://127.0.0.1:${port + 2}`;
      edgePg = edge.pid ?? null;
      barePg = bare.pid ?? null;
      expectBytes = SEGMENT_BYTES;
    }
    const urls: [Mode, string, number | null][] = [
      ["public", `${edgeUrl}${publicPath}`, edgePg],
      ["signed", `${edgeUrl}${signedPath}`, edgePg],
    ];
    if (bareUrl) urls.unshift(["bare", `${bareUrl}${barePath ?? ""}`, barePg]);
    for (const [name, url] of urls) {
      const res = await fetch(url);
      const body = await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${name} segment → ${res.status}: ${new TextDecoder().decode(body)}`);
      expectBytes ??= body.byteLength;
      if (body.byteLength !== expectBytes)
        throw new Error(`${name} segment: ${body.byteLength} bytes, not ${expectBytes}`);
    }
    // Warm every path (isolate caches: playback state, key import, verified token).
    for (const [, url] of urls) await load(url, expectBytes);
    const results = new Map<Mode, Stats[]>(urls.map(([m]) => [m, []]));
    for (let r = 0; r < ROUNDS; r++) {
      // Rotate the order each round so no mode always runs first or last (the machine's load drifts).
      const order = [...urls.slice(r % urls.length), ...urls.slice(0, r % urls.length)];
      for (const [mode, url, pg] of order) results.get(mode)?.push(await load(url, expectBytes, pg));
    }
    const merged = new Map([...results].map(([m, all]) => [m, merge(all)]));
    const fmt = (x: Stats) =>
      `${x.rps.toFixed(0).padStart(6)} req/s  p50 ${x.p50.toFixed(2).padStart(7)} ms  p99 ${x.p99.toFixed(2).padStart(7)} ms  ` +
      `cpu ${Number.isNaN(x.cpuMs) ? "   n/a" : x.cpuMs.toFixed(2).padStart(6)} ms/req  (${x.requests} requests, ${x.errors} errors)`;
    console.log(
      `\nsegment ${expectBytes} bytes, concurrency ${CONCURRENCY}, ${ROUNDS} × ${DURATION_MS / 1000} s per mode`,
    );
    for (const [mode, x] of merged) console.log(`${mode.padEnd(7)} ${fmt(x)}`);
    const p = merged.get("public") as Stats;
    const s = merged.get("signed") as Stats;
    const b = merged.get("bare");
    const ratio = (name: string, a: Stats, base: Stats, target: string) =>
      console.log(
        `${name.padEnd(14)} throughput ${(a.rps / base.rps).toFixed(3)}  p50 ${(a.p50 / base.p50).toFixed(3)}  ` +
          `p99 ${(a.p99 / base.p99).toFixed(3)}  cpu ${(a.cpuMs / base.cpuMs).toFixed(3)}   target: ${target}`,
      );
    if (b) {
      ratio("public/bare", p, b, "throughput ≥ 0.8");
      ratio("signed/bare", s, b, "throughput ≥ 0.8");
    }
    ratio("signed/public", s, p, "throughput ≥ 0.95, p99 ≤ 1.1");
    let errors = 0;
    for (const x of merged.values()) errors += x.errors;
    if (errors > 0) process.exitCode = 1;
  } finally {
    for (const child of children) {
      if (!child.pid) continue;
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
    if (persist) await rm(persist, { recursive: true, force: true });
  }
}

type Mode = "bare" | "public" | "signed";

await main();
