/**
 * `npm run bench:upload`: a 1 GiB file (BENCH_UPLOAD_BYTES to change) uploaded through the local
 * stack with tus-js-client (50 MB PATCHes, BENCH_CHUNK_BYTES to change → UploadSession DO → R2
 * multipart parts), against the baseline of one plain streaming PUT of the same bytes into the same
 * local R2 bucket through a minimal worker (bench/upload-baseline.worker.ts). Same runtime (workerd
 * under wrangler dev), same storage, same file: the ratio is the cost of resumability (chunking, the
 * DO hop, part bookkeeping). BENCH_SKIP_PUT=1 runs the tus half only.
 *
 * Besides wall time it reports what is less sensitive to a busy machine: the CPU seconds each process
 * used (all local work, R2's emulation included, runs on one workerd thread), the 1-minute load
 * average, and the UploadSession's own per-PATCH profile (`tus_patch` log lines, summed): time spent
 * waiting for the body vs waiting for R2 part uploads, bytes copied, tail bytes through DO SQLite,
 * D1 progress writes. Peak RSS of each worker's process group is sampled every 100 ms.
 */
import { execFileSync } from "node:child_process";
import { closeSync, createReadStream, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import http from "node:http";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import * as tus from "tus-js-client";
import { createKeyInD1 } from "../scripts/lib/keys";
import { freePort, type Service, startService, waitForHttp } from "../scripts/lib/proc";
import { startStack } from "../scripts/lib/stack";
import { ROOT, wranglerBin } from "../scripts/lib/wrangler";

const SIZE = Number(process.env.BENCH_UPLOAD_BYTES ?? 1024 ** 3);
/** tus-js-client chunkSize: one PATCH per chunk (BENCH_CHUNK_BYTES; ≤ 100 MB, the Workers body cap). */
const CHUNK = Number(process.env.BENCH_CHUNK_BYTES ?? 50 * 1000 * 1000);
/** BENCH_SKIP_PUT=1: tus only (for iterating on the tus path). */
const SKIP_PUT = process.env.BENCH_SKIP_PUT === "1";
const MiB = 1024 * 1024;

function writeTestFile(file: string, size: number) {
  const fd = openSync(file, "w");
  const block = Buffer.alloc(8 * MiB);
  let x = 0x2545f491;
  for (let i = 0; i + 4 <= block.length; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    block.writeUInt32LE(x, i);
  }
  for (let written = 0; written < size; ) {
    const n = Math.min(block.length, size - written);
    block[0] = written & 0xff; // every block differs a little
    writeSync(fd, block, 0, n);
    written += n;
  }
  closeSync(fd);
}

/** Peak resident memory (KiB) of a process group, sampled until stopped. */
function rssSampler(pgid: number) {
  let peak = 0;
  const sample = () => {
    try {
      const out = execFileSync("ps", ["-o", "rss=", "-g", String(pgid)], { encoding: "utf8" });
      const workerdOut = out.split("\n").map((l) => Number(l.trim()) || 0);
      peak = Math.max(peak, Math.max(...workerdOut));
    } catch {
      // group gone
    }
  };
  const timer = setInterval(sample, 100);
  sample();
  return {
    reset: () => {
      peak = 0;
    },
    peakMiB: () => peak / 1024,
    stop: () => clearInterval(timer),
  };
}

/** Sums the UploadSession's per-PATCH `tus_patch` log lines (src/uploads/patch-profile.ts) from the API's output. */
function patchProfiles(api: Service) {
  const totals: Record<string, number> = {};
  let patches = 0;
  const onLine = (line: string) => {
    const at = line.indexOf('{"level"');
    if (at < 0 || !line.includes('"msg":"tus_patch"')) return;
    try {
      const rec = JSON.parse(line.slice(at)) as Record<string, unknown>;
      patches++;
      for (const [k, v] of Object.entries(rec)) {
        if (typeof v !== "number" || k === "offset") continue;
        totals[k] = k.startsWith("max_") || k.endsWith("_max_ms") ? Math.max(totals[k] ?? 0, v) : (totals[k] ?? 0) + v;
      }
    } catch {
      // not one of ours
    }
  };
  let rest = "";
  const onData = (b: Buffer) => {
    const lines = (rest + b.toString("utf8")).split("\n");
    rest = lines.pop() ?? "";
    for (const l of lines) onLine(l);
  };
  api.child.stdout?.on("data", onData);
  api.child.stderr?.on("data", onData);
  return { patches: () => patches, totals: () => totals };
}

/** CPU seconds (user + system) used so far by each live process of a process group, by pid. */
function groupCpu(pgid: number): Map<number, { name: string; seconds: number }> {
  const out = new Map<number, { name: string; seconds: number }>();
  let pids: number[] = [];
  try {
    pids = execFileSync("ps", ["-o", "pid=", "-g", String(pgid)], { encoding: "utf8" })
      .split("\n")
      .map((l) => Number(l.trim()))
      .filter((n) => n > 0);
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const name = stat.slice(stat.indexOf("(") + 1, close);
      const fields = stat.slice(close + 2).split(" ");
      // utime and stime are fields 14 and 15 of /proc/pid/stat (1-based), in clock ticks (100 Hz).
      out.set(pid, { name, seconds: (Number(fields[11]) + Number(fields[12])) / 100 });
    } catch {
      // gone
    }
  }
  return out;
}

/** CPU seconds each process of the group used between two groupCpu() snapshots, busiest first. */
function cpuDelta(before: ReturnType<typeof groupCpu>, after: ReturnType<typeof groupCpu>): string {
  return [...after]
    .map(([pid, a]) => ({ name: a.name, s: a.seconds - (before.get(pid)?.seconds ?? 0) }))
    .filter((x) => x.s >= 0.05)
    .sort((x, y) => y.s - x.s)
    .map((x) => `${x.name} ${x.s.toFixed(1)} s`)
    .join(", ");
}

function putFile(url: string, file: string, size: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "PUT", headers: { "content-length": String(size) } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    createReadStream(file, { highWaterMark: MiB }).pipe(req);
  });
}

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), "keyframe-bench-upload-"));
  const file = path.join(dir, "source.bin");
  console.log(`writing ${(SIZE / MiB).toFixed(0)} MiB test file…`);
  writeTestFile(file, SIZE);
  const size = statSync(file).size;
  const [apiPort, edgePort, transcoderPort, basePort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  console.log("starting the local stack…");
  const stack = await startStack({
    apiPort,
    edgePort,
    transcoderPort,
    persistTo: dir,
    quiet: true,
    cron: false,
    transcoder: false,
  });
  let baseline: Service | undefined;
  try {
    const apiService = stack.services.find((s) => s.name === "api") as Service;
    const apiPid = apiService.child.pid as number;
    const profiles = patchProfiles(apiService);
    const key = await createKeyInD1({ persistTo: dir, scopes: ["*"], newEnvironment: "bench" });
    const created = await fetch(`${stack.apiUrl}/v1/uploads`, {
      method: "POST",
      headers: { authorization: `Bearer ${key.secret}`, "content-type": "application/json" },
      body: JSON.stringify({ expires_in: 3600 }),
    });
    const upload = (await created.json()) as { id: string; tus_url: string };

    const apiRss = rssSampler(apiPid);
    await new Promise((r) => setTimeout(r, 500));
    const idleApi = apiRss.peakMiB();
    apiRss.reset();
    console.log(`tus upload (chunkSize ${CHUNK / 1e6} MB)…`);
    const loadBefore = loadavg()[0];
    const chunkMs: number[] = [];
    const cpu0 = groupCpu(apiPid);
    const clientCpu0 = process.cpuUsage();
    const t0 = performance.now();
    let tChunk = t0;
    await new Promise<void>((resolve, reject) => {
      const u = new tus.Upload(createReadStream(file, { highWaterMark: MiB }), {
        endpoint: upload.tus_url,
        uploadSize: size,
        chunkSize: CHUNK,
        retryDelays: [0, 1000, 3000],
        metadata: { filename: "bench.bin", filetype: "video/mp4" },
        onChunkComplete: () => {
          const now = performance.now();
          chunkMs.push(now - tChunk);
          tChunk = now;
        },
        onSuccess: () => resolve(),
        onError: reject,
      });
      u.start();
    });
    const tusSeconds = (performance.now() - t0) / 1000;
    const loadAfterTus = loadavg()[0];
    const apiCpu = cpuDelta(cpu0, groupCpu(apiPid));
    const clientCpu = process.cpuUsage(clientCpu0);
    apiRss.stop();
    await new Promise((r) => setTimeout(r, 300)); // let the last log lines arrive
    const mb = size / 1e6;
    const prof = profiles.totals();
    const sec = (ms: number | undefined) => `${((ms ?? 0) / 1000).toFixed(2)} s`;
    console.log("");
    console.log(`size ${(size / MiB).toFixed(0)} MiB, chunkSize ${CHUNK} B, ${chunkMs.length} PATCHes`);
    console.log(`tus (DO + R2 multipart)   ${tusSeconds.toFixed(2)} s   ${(mb / tusSeconds).toFixed(1)} MB/s`);
    console.log(`  load average 1 min: ${loadBefore.toFixed(2)} before, ${loadAfterTus.toFixed(2)} after`);
    console.log(
      `  CPU during the upload: API (${apiCpu}); bench client node ${((clientCpu.user + clientCpu.system) / 1e6).toFixed(1)} s`,
    );
    console.log(
      `  client PATCH wall times: sum ${sec(chunkMs.reduce((a, b) => a + b, 0))}, max ${sec(Math.max(0, ...chunkMs))}`,
    );
    console.log(`  inside the UploadSession (${profiles.patches()} tus_patch lines, summed):`);
    console.log(`    total                 ${sec(prof.total_ms)}`);
    console.log(`    waiting for body      ${sec(prof.read_wait_ms)} (${prof.reads ?? 0} reads)`);
    console.log(
      `    waiting for R2 parts  ${sec(prof.part_wait_ms)} (parts ${prof.parts ?? 0}, latency sum ${sec(prof.part_ms)}, max ${sec(prof.part_max_ms)}, max in flight ${prof.max_in_flight ?? 1})`,
    );
    console.log(`    copying bytes         ${sec(prof.copy_ms)} (${((prof.copy_bytes ?? 0) / MiB).toFixed(0)} MiB)`);
    console.log(
      `    DO SQLite             ${sec(prof.sql_ms)} (tail written ${((prof.tail_write_bytes ?? 0) / MiB).toFixed(1)} MiB, read ${((prof.tail_read_bytes ?? 0) / MiB).toFixed(1)} MiB)`,
    );
    console.log(`    D1 progress writes    ${sec(prof.d1_ms)} (${prof.d1_writes ?? "?"} writes)`);
    console.log(`    finalize (last part + complete + asset) ${sec(prof.finalize_ms)}`);
    console.log(
      `  peak RSS, API workerd   ${apiRss.peakMiB().toFixed(0)} MiB during tus (idle ${idleApi.toFixed(0)} MiB)`,
    );
    if (SKIP_PUT) return;

    console.log("baseline: one streaming PUT into the same local R2…");
    baseline = startService(
      "baseline",
      wranglerBin(),
      [
        "dev",
        "-c",
        path.join(ROOT, "bench", "upload-baseline.wrangler.toml"),
        "--ip",
        "127.0.0.1",
        "--port",
        String(basePort),
        "--persist-to",
        dir,
        "--inspector-port",
        String(await freePort()),
        "--show-interactive-dev-session=false",
      ],
      { cwd: ROOT, env: { WRANGLER_SEND_METRICS: "false" } as unknown as NodeJS.ProcessEnv, quiet: true },
    );
    await waitForHttp(`http://127.0.0.1:${basePort}/`, baseline, { accept: () => true });
    const baseRss = rssSampler(baseline.child.pid as number);
    const baseCpu0 = groupCpu(baseline.child.pid as number);
    const putClientCpu0 = process.cpuUsage();
    const t1 = performance.now();
    const status = await putFile(`http://127.0.0.1:${basePort}/bench/baseline`, file, size);
    const putSeconds = (performance.now() - t1) / 1000;
    baseRss.stop();
    const baseCpu = cpuDelta(baseCpu0, groupCpu(baseline.child.pid as number));
    const putClientCpu = process.cpuUsage(putClientCpu0);
    if (status !== 200) throw new Error(`baseline PUT answered ${status}`);

    console.log(`  load average 1 min after the PUT: ${loadavg()[0].toFixed(2)}`);
    console.log(`single PUT to R2          ${putSeconds.toFixed(2)} s   ${(mb / putSeconds).toFixed(1)} MB/s`);
    console.log(
      `  CPU during the PUT: baseline (${baseCpu}); bench client node ${((putClientCpu.user + putClientCpu.system) / 1e6).toFixed(1)} s`,
    );
    console.log(`throughput ratio tus/PUT  ${(putSeconds / tusSeconds).toFixed(2)}`);
    console.log(`peak RSS, baseline        ${baseRss.peakMiB().toFixed(0)} MiB during PUT`);
  } finally {
    await baseline?.stop();
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
