/**
 * `npm run bench:relay`: what the RTMP relay costs on this machine, without the rest of the stack. A small
 * in-process HTTP server plays the API (the signed relay-auth answer, and the HLS ingest recording when each
 * segment PUT arrives); the relay runs as its own process, as in production; encoders are ffmpeg (testsrc2 +
 * tone, H.264 ultrafast, 2 s GOP) publishing RTMP, as OBS would.
 *
 * Reports, per round of N concurrent broadcasts (N = 1 and 4):
 *   - start-up: encoder spawn → first segment PUT, through the relay vs the same encoder pushing HLS directly
 *     (the difference is what the relay adds before a stream is first on air: key check, converter start);
 *   - cadence: segment PUTs per stream per 2 s while steady (1.0 = no segment lost or late);
 *   - CPU: the relay's process tree (Node + one stream-copy ffmpeg per broadcast), % of one core per stream.
 *
 * Options: --seconds 20 (steady window per round).
 */

import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import path from "node:path";
import { freePort, startService } from "../scripts/lib/proc";
import { ROOT } from "../scripts/lib/wrangler";
import { relaySigner } from "../src/lib/relay-auth";
import { startEncoder } from "../test/node/support/live";
import { startRtmpEncoder } from "../test/node/support/rtmp";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ""), process.argv[i + 1]);
const SECONDS = Number(args.get("seconds") ?? 20);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function treeCpuSeconds(rootPid: number): number {
  const children = new Map<number, number[]>();
  const cpu = new Map<number, number>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      cpu.set(Number(d), (Number(rest[11]) + Number(rest[12])) / 100);
      children.set(Number(rest[1]), [...(children.get(Number(rest[1])) ?? []), Number(d)]);
    } catch {
      // gone
    }
  }
  let total = 0;
  const stack = [rootPid];
  while (stack.length) {
    const pid = stack.pop() as number;
    total += cpu.get(pid) ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return total;
}

const secret = randomBytes(32).toString("base64url");
/** key → arrival times (ms) of its segment PUTs. */
const segments = new Map<string, number[]>();
const api = createServer(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const url = req.url ?? "";
  if (url === "/internal/live/relay-auth") {
    const v = await relaySigner.verifyHeaders(secret, {
      method: "POST",
      path: url,
      header: (n) => req.headers[n] as string | undefined,
    });
    if (!v.ok) return void res.writeHead(401).end("{}");
    const key = JSON.parse(Buffer.concat(chunks).toString()).stream_key as string;
    const port = (api.address() as { port: number }).port;
    res.writeHead(200, { "content-type": "application/json" });
    return void res.end(
      JSON.stringify({
        live_stream_id: `ls_${key}`,
        hls_url: `http://127.0.0.1:${port}/live/${key}/index.m3u8`,
        segment_duration: 2,
      }),
    );
  }
  const m = /^\/live\/([^/]+)\/index\d+\.ts$/.exec(url);
  if (m && req.method === "PUT") segments.set(m[1], [...(segments.get(m[1]) ?? []), Date.now()]);
  res.writeHead(201).end();
});
await new Promise<void>((r) => api.listen(0, "127.0.0.1", () => r()));
const apiUrl = `http://127.0.0.1:${(api.address() as { port: number }).port}`;
const rtmpPort = await freePort();
const healthPort = await freePort();
const relay = startService(
  "relay",
  path.join(ROOT, "node_modules", ".bin", "tsx"),
  [path.join(ROOT, "transcoder/src/relay/main.ts")],
  {
    cwd: ROOT,
    quiet: true,
    env: {
      KEYFRAME_API_URL: apiUrl,
      RELAY_API_SECRET: secret,
      KEYFRAME_RELAY_PORT: String(rtmpPort),
      KEYFRAME_RELAY_HEALTH_PORT: String(healthPort),
    },
  },
);
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`http://127.0.0.1:${healthPort}/health`)).ok) break;
  } catch {
    if (i > 100) throw new Error(`relay did not start: ${relay.tail()}`);
  }
  await sleep(200);
}

const firstSegment = async (key: string, since: number) => {
  while (!segments.get(key)?.length) await sleep(20);
  return (segments.get(key)?.[0] ?? 0) - since;
};

const results: Record<string, unknown>[] = [];
for (const n of [1, 4]) {
  const keys = Array.from({ length: n }, (_, i) => `bench${n}x${i}${randomBytes(8).toString("hex")}`);
  const t0 = Date.now();
  const encoders = keys.map((k) => startRtmpEncoder(`rtmp://127.0.0.1:${rtmpPort}/live/${k}`));
  const viaRelay = await Promise.all(keys.map((k) => firstSegment(k, t0)));
  // The same encoders pushing HLS straight to the ingest: the baseline start-up.
  const directKeys = keys.map((k) => `direct${k}`);
  const t1 = Date.now();
  const direct = directKeys.map((k) => startEncoder(`${apiUrl}/live/${k}/index.m3u8`));
  const viaDirect = await Promise.all(directKeys.map((k) => firstSegment(k, t1)));
  for (const d of direct) await d.kill();
  const cpu0 = treeCpuSeconds(relay.child.pid as number);
  const counts0 = keys.map((k) => segments.get(k)?.length ?? 0);
  const w0 = Date.now();
  await sleep(SECONDS * 1000);
  const wall = (Date.now() - w0) / 1000;
  const cpu = treeCpuSeconds(relay.child.pid as number) - cpu0;
  const cadence = keys.map((k, i) => ((segments.get(k)?.length ?? 0) - counts0[i]) / (wall / 2));
  for (const e of encoders) await e.kill();
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  results.push({
    streams: n,
    startup_ms_relay_median: median(viaRelay),
    startup_ms_direct_median: median(viaDirect),
    relay_startup_overhead_ms: median(viaRelay) - median(viaDirect),
    cadence_min: Number(Math.min(...cadence).toFixed(2)),
    relay_cpu_pct_of_core_per_stream: Number(((cpu / wall / n) * 100).toFixed(1)),
  });
  await sleep(2000);
}
console.log(
  JSON.stringify(
    {
      machine: {
        cpus: (await import("node:os")).cpus().length,
        load: (await import("node:os")).loadavg().map((x) => x.toFixed(1)),
      },
      results,
    },
    null,
    2,
  ),
);
await relay.stop();
api.close();
process.exit(0);
