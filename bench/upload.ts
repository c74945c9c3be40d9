/**
 * `npm run bench:upload`: a 1 GiB file (BENCH_UPLOAD_BYTES to change) uploaded through the local
 * stack with tus-js-client (50 MB PATCHes → UploadSession DO → R2 multipart parts), against the
 * baseline of one plain streaming PUT of the same bytes into the same local R2 bucket through a
 * minimal worker (bench/upload-baseline.worker.ts). Same runtime (workerd under wrangler dev), same
 * storage, same file: the ratio is the cost of resumability (chunking, the DO hop, part bookkeeping).
 * Peak RSS of each worker's process group (workerd + wrangler) is sampled every 100 ms.
 */
import { execFileSync } from "node:child_process";
import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import * as tus from "tus-js-client";
import { createKeyInD1 } from "../scripts/lib/keys";
import { freePort, type Service, startService, waitForHttp } from "../scripts/lib/proc";
import { startStack } from "../scripts/lib/stack";
import { ROOT, wranglerBin } from "../scripts/lib/wrangler";

const SIZE = Number(process.env.BENCH_UPLOAD_BYTES ?? 1024 ** 3);
const CHUNK = 50 * 1000 * 1000;
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
    const apiPid = stack.services.find((s) => s.name === "api")?.child.pid as number;
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
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const u = new tus.Upload(createReadStream(file, { highWaterMark: MiB }), {
        endpoint: upload.tus_url,
        uploadSize: size,
        chunkSize: CHUNK,
        retryDelays: [0, 1000, 3000],
        metadata: { filename: "bench.bin", filetype: "video/mp4" },
        onSuccess: () => resolve(),
        onError: reject,
      });
      u.start();
    });
    const tusSeconds = (performance.now() - t0) / 1000;
    apiRss.stop();

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
    const t1 = performance.now();
    const status = await putFile(`http://127.0.0.1:${basePort}/bench/baseline`, file, size);
    const putSeconds = (performance.now() - t1) / 1000;
    baseRss.stop();
    if (status !== 200) throw new Error(`baseline PUT answered ${status}`);

    const mb = size / 1e6;
    console.log("");
    console.log(`size                      ${(size / MiB).toFixed(0)} MiB`);
    console.log(`tus (DO + R2 multipart)   ${tusSeconds.toFixed(2)} s   ${(mb / tusSeconds).toFixed(1)} MB/s`);
    console.log(`single PUT to R2          ${putSeconds.toFixed(2)} s   ${(mb / putSeconds).toFixed(1)} MB/s`);
    console.log(`throughput ratio tus/PUT  ${(putSeconds / tusSeconds).toFixed(2)}`);
    console.log(
      `peak RSS, API workerd     ${apiRss.peakMiB().toFixed(0)} MiB during tus (idle ${idleApi.toFixed(0)} MiB)`,
    );
    console.log(`peak RSS, baseline        ${baseRss.peakMiB().toFixed(0)} MiB during PUT`);
  } finally {
    await baseline?.stop();
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
