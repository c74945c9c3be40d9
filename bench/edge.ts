/**
 * `npm run bench:edge`: requests/s and latency (p50/p99) for signed vs public segment fetches of the
 * same bytes, in one run against the local edge worker; prints signed/public ratios.
 *
 * Self-contained by default: seeds a throwaway local state (D1 migrations + rows, R2 playlists and a
 * segment) with wrangler's local commands, starts `wrangler dev -c workers/edge/wrangler.toml` on it,
 * measures, and stops it. To measure an already running edge instead, pass
 * `--edge-url http://127.0.0.1:8788 --public /{pb}/{rendition}/{segment} --signed '/{pb}/…?token=…'`.
 *
 * Options: --duration 5 (seconds per round), --concurrency 16, --rounds 2 (alternating public/signed),
 * --segment-kb 256.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
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
    publicPath: `/${publicPb}/v720/seg_00000.m4s`,
    signedPath: `/${signedPb}/v720/seg_00000.m4s?token=${token}`,
  };
}

async function startEdge(persist: string, port: number): Promise<ChildProcess> {
  const p = spawn(
    WRANGLER,
    ["dev", "-c", EDGE_CONFIG, "--persist-to", persist, "--port", String(port), "--inspector-port", String(port + 1)],
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
  throw new Error(`edge did not start within 60 s:\n${log}`);
}

interface Stats {
  requests: number;
  errors: number;
  rps: number;
  p50: number;
  p99: number;
}

async function load(url: string, expectBytes: number | null): Promise<Stats> {
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + DURATION_MS;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          const res = await fetch(url);
          const body = await res.arrayBuffer();
          if (res.status !== 200 || (expectBytes !== null && body.byteLength !== expectBytes)) errors++;
        } catch {
          errors++;
        }
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { requests: latencies.length, errors, rps: latencies.length / elapsed, p50: pct(0.5), p99: pct(0.99) };
}

function merge(all: Stats[]): Stats {
  const requests = all.reduce((s, x) => s + x.requests, 0);
  return {
    requests,
    errors: all.reduce((s, x) => s + x.errors, 0),
    rps: all.reduce((s, x) => s + x.rps, 0) / all.length,
    p50: all.reduce((s, x) => s + x.p50, 0) / all.length,
    p99: all.reduce((s, x) => s + x.p99, 0) / all.length,
  };
}

async function main() {
  let edgeUrl = args.get("edge-url");
  let publicPath = args.get("public");
  let signedPath = args.get("signed");
  let child: ChildProcess | null = null;
  let persist: string | null = null;
  let expectBytes: number | null = null;
  try {
    if (!edgeUrl || !publicPath || !signedPath) {
      persist = await mkdtemp(path.join(tmpdir(), "kf-bench-edge-"));
      console.log(`seeding local state in ${persist} …`);
      ({ publicPath, signedPath } = await seed(persist));
      const port = Number(process.env.KEYFRAME_BENCH_EDGE_PORT ?? 8798);
      console.log(`starting wrangler dev (edge) on :${port} …`);
      child = await startEdge(persist, port);
      edgeUrl = `http://127.0.0.1:${port}`;
      expectBytes = SEGMENT_BYTES;
    }
    const pub = `${edgeUrl}${publicPath}`;
    const sig = `${edgeUrl}${signedPath}`;
    for (const [name, url] of [
      ["public", pub],
      ["signed", sig],
    ]) {
      const res = await fetch(url);
      const body = await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${name} segment → ${res.status}: ${new TextDecoder().decode(body)}`);
      expectBytes ??= body.byteLength;
    }
    // Warm both paths (isolate caches: playback state, key import, verified token).
    await load(pub, expectBytes);
    await load(sig, expectBytes);
    const results: { public: Stats[]; signed: Stats[] } = { public: [], signed: [] };
    for (let r = 0; r < ROUNDS; r++) {
      results.public.push(await load(pub, expectBytes));
      results.signed.push(await load(sig, expectBytes));
    }
    const p = merge(results.public);
    const s = merge(results.signed);
    const fmt = (x: Stats) =>
      `${x.rps.toFixed(0).padStart(6)} req/s  p50 ${x.p50.toFixed(2).padStart(7)} ms  p99 ${x.p99.toFixed(2).padStart(7)} ms  (${x.requests} requests, ${x.errors} errors)`;
    console.log(
      `\nsegment ${expectBytes} bytes, concurrency ${CONCURRENCY}, ${ROUNDS} × ${DURATION_MS / 1000} s per mode`,
    );
    console.log(`public  ${fmt(p)}`);
    console.log(`signed  ${fmt(s)}`);
    console.log(
      `ratio signed/public: throughput ${(s.rps / p.rps).toFixed(3)}, p99 latency ${(s.p99 / p.p99).toFixed(3)}`,
    );
    if (p.errors + s.errors > 0) process.exitCode = 1;
  } finally {
    if (child?.pid) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
    if (persist) await rm(persist, { recursive: true, force: true });
  }
}

await main();
