/**
 * `npm run bench:scale`: issue 14's goal 2 — N uploads at once, each playable within 2× of one alone — measured on
 * the part of Keyframe that runs on the transcoding machine, with Cloudflare's side replaced by the runner tests'
 * Node fake of the API's internal endpoints (test/node/transcoder/helpers/fake-api.ts), not by `wrangler dev`.
 *
 * Why: locally, `wrangler dev`'s workerd and node processes spend ~2 core-s per 41.7 MB upload on the same two
 * cores as the transcoder (the PUT, the range reads, the fast segments' PUTs through the emulated R2). In
 * production that work is Cloudflare's, and the transcoder's container sees only HTTP. `bench:ready --at-once N`
 * measures the whole local stack; this bench measures what a container would: the real transcoder server
 * (its own process, `tsx transcoder/src/server.ts`, signed dispatches) against one fake API per job, served from
 * this process.
 *
 * Each step dispatches N jobs of a 60 s 1080p30 faststart clip at once and times each from its dispatch to its
 * `publish` of phase `fast` (what makes an asset `ready`). Steps alternate N over `--at-once` for `--rounds`
 * rounds on one transcoder. After every job of a step is ready, their ladders are cancelled (the fake answers
 * the next progress report with `cancel`) unless `--ladders 1`, which lets them encode under the next steps, as a
 * busy machine would (niced while any fast phase runs). Prints every job, each N's median and worst against
 * N = 1's median, and where the CPU went (the transcoder and its children, and this process: the fake API).
 *
 *   npm run bench:scale -- --at-once 1,2,4 --rounds 3 --clip <an mp4 made by bench:vod's recipe>
 *
 * `--ladder-rounds K` (after those steps; `--at-once ""` skips them): goal 3 on the same terms. Each round runs the
 * bare one-process ladder (bench/bare.ts, the system ffmpeg), then one job through the transcoder, timed from its
 * dispatch to its `publish` of phase `complete` (download, probe, fast path, ladder, poster, storyboard, every
 * output PUT to the fake API, the master), and prints job / bare for each round, with each side's CPU by process.
 * `--api-nice 19` lowers this process (the fake API, i.e. Cloudflare's side, and the bare ladder it spawns, which
 * runs alone) below the transcoder's ladder (nice 10) once the transcoder has started: the receiver's CPU then
 * comes mostly from what the ladder leaves, as when it runs on other machines.
 * `--cpu-prof DIR` writes the transcoder's V8 CPU profile (`node --cpu-prof`) into DIR when it stops.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { getPriority, setPriority, tmpdir } from "node:os";
import path from "node:path";
import { freePort, type Service, startService, waitForHttp } from "../scripts/lib/proc";
import { newId } from "../src/lib/ids";
import type { FakeApi, FakeApiOptions } from "../test/node/transcoder/helpers/fake-api";
import { downloadDispatch, startFakeApi } from "../test/node/transcoder/helpers/fake-api";
import { signedFetch, TEST_TRANSCODER_SECRET } from "../test/node/transcoder/helpers/signed";
import { bareLadder } from "./bare";
import { benchClip } from "./clip";
import { startCpuMeter } from "./cpu";

const argv = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) argv.set(process.argv[i].replace(/^--/, ""), process.argv[i + 1]);
const AT_ONCE = (argv.get("at-once") ?? "1,2,4").split(",").filter(Boolean).map(Number);
const ROUNDS = Number(argv.get("rounds") ?? 3);
const LADDERS = argv.get("ladders") === "1";
const LADDER_ROUNDS = Number(argv.get("ladder-rounds") ?? 0);
const API_NICE = argv.get("api-nice");
const CPU_PROF = argv.get("cpu-prof");
const ROOT = path.resolve(import.meta.dirname, "..");

const work = mkdtempSync(path.join(tmpdir(), "keyframe-bench-scale-"));
const clip = benchClip(work, argv.get("clip"));
const size = statSync(clip).size;
console.log(
  `clip: ${(size / 1e6).toFixed(1)} MB; at once: ${AT_ONCE.join(", ")}; rounds: ${ROUNDS}; ladders ${LADDERS ? "kept" : "cancelled once ready"}; ladder rounds: ${LADDER_ROUNDS}`,
);

/** The transcoder as production runs it: its own process, listening for signed dispatches. */
async function startTranscoder(): Promise<{ url: string; service: Service }> {
  const port = await freePort();
  mkdirSync(path.join(work, "jobs"), { recursive: true });
  const service = startService(
    "transcoder",
    process.execPath,
    [
      ...(CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${CPU_PROF}`] : []),
      "--import",
      "tsx",
      path.join(ROOT, "transcoder", "src", "server.ts"),
    ],
    {
      cwd: ROOT,
      env: {
        KEYFRAME_TRANSCODER_PORT: String(port),
        KEYFRAME_TRANSCODER_HOST: "127.0.0.1",
        KEYFRAME_TRANSCODER_JOURNAL_DIR: path.join(work, "journal"),
        TRANSCODER_WORK_DIR: path.join(work, "jobs"),
        TRANSCODER_AUTH_SECRET: TEST_TRANSCODER_SECRET,
      },
      quiet: true,
    },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/health`, service, { timeoutMs: 30_000 });
  return { url, service };
}

interface Job {
  api: FakeApi;
  options: FakeApiOptions;
  dispatchedAt: number;
  readyMs?: number;
  completeMs?: number;
}

/**
 * N jobs dispatched at once; resolves with each one's dispatch → `publish` (fast) once all are ready, or with
 * `until: "complete"`, also dispatch → `publish` (complete) once all have published their ladders.
 */
async function step(transcoderUrl: string, n: number, until: "fast" | "complete" = "fast"): Promise<Job[]> {
  const jobs: Job[] = [];
  for (let i = 0; i < n; i++) {
    const jobId = newId("job");
    const outputDir = mkdtempSync(path.join(work, "out-"));
    const options: FakeApiOptions = { jobId, token: `token-${newId("job")}`, sourceFile: clip, outputDir };
    jobs.push({ api: await startFakeApi(options), options, dispatchedAt: 0 });
  }
  await Promise.all(
    jobs.map(async (job) => {
      const dispatch = {
        ...downloadDispatch(job.options.jobId, job.api.url, job.options.token, size),
        asset_id: newId("asset"),
      };
      dispatch.settings = { ...dispatch.settings, mp4_support: "none" };
      job.dispatchedAt = performance.now();
      const res = await signedFetch(transcoderUrl, "/jobs", { body: JSON.stringify(dispatch) });
      if (res.status !== 202)
        throw new Error(`the transcoder answered the dispatch ${res.status}: ${await res.text()}`);
    }),
  );
  const limitMs = until === "fast" ? 120_000 : 900_000;
  const deadline = performance.now() + limitMs;
  const done = (j: Job) => (until === "fast" ? j.readyMs : j.completeMs) !== undefined;
  while (!jobs.every(done)) {
    for (const job of jobs) {
      if (job.api.failures.length) throw new Error(`a job failed: ${JSON.stringify(job.api.failures[0])}`);
      const since = Math.round(performance.now() - job.dispatchedAt);
      if (job.readyMs === undefined && job.api.events.includes("publish:fast")) job.readyMs = since;
      if (job.completeMs === undefined && job.api.events.includes("publish:complete")) job.completeMs = since;
    }
    if (performance.now() > deadline)
      throw new Error(`jobs not ${until === "fast" ? "ready" : "complete"} within ${limitMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return jobs;
}

/** Cancels the jobs' ladders (the fake answers the next progress report with `cancel`) and waits for the transcoder to be idle. */
async function cancelAndClose(transcoderUrl: string, jobs: Job[]) {
  for (const job of jobs) job.options.cancelFromProgress = 0;
  const deadline = performance.now() + 30_000;
  for (;;) {
    const health = (await (await fetch(`${transcoderUrl}/health`)).json()) as { running: number; queued: number };
    if (health.running === 0 && health.queued === 0) break;
    if (performance.now() > deadline) throw new Error("the cancelled jobs did not end within 30 s");
    await new Promise((r) => setTimeout(r, 100));
  }
  await Promise.all(jobs.map((j) => j.api.close()));
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const transcoder = await startTranscoder();
if (API_NICE !== undefined) {
  setPriority(Number(API_NICE));
  console.log(`this process (the fake API) now runs at nice ${getPriority()}; the transcoder stays at its own`);
}
const byN = new Map<number, number[][]>();
const cpuByN = new Map<number, Map<string, number>[]>();
const cpu = startCpuMeter(100);
const selfCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const kept: Job[] = [];
const ladderRounds: { bareMs: number; jobMs: number }[] = [];
try {
  // One job first: the transcoder's first run pays for module loading and cold caches.
  const warm = await step(transcoder.url, 1);
  console.log(`warm-up: ready ${warm[0].readyMs} ms`);
  await cancelAndClose(transcoder.url, warm);
  for (let r = 0; r < ROUNDS; r++) {
    for (const n of AT_ONCE) {
      cpu.reset();
      const self0 = selfCpu();
      const jobs = await step(transcoder.url, n);
      const used = cpu.read();
      used.set("fake API (this process)", selfCpu() - self0);
      const ready = jobs.map((j) => j.readyMs as number);
      byN.set(n, [...(byN.get(n) ?? []), ready]);
      cpuByN.set(n, [...(cpuByN.get(n) ?? []), used]);
      const where = [...used].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toFixed(2)}`);
      console.log(`round ${r + 1}, ${n} at once: ready ${ready.join(", ")} ms; CPU (core-s) ${where.join(", ")}`);
      if (LADDERS) kept.push(...jobs);
      else await cancelAndClose(transcoder.url, jobs);
    }
  }
  for (let r = 0; r < LADDER_ROUNDS; r++) {
    const out = mkdtempSync(path.join(work, "bare-"));
    cpu.reset();
    const bareMs = Math.round(await bareLadder(clip, out, 1920, 1080));
    const bareCpu = cpu.read().get("ffmpeg ladder") ?? 0;
    rmSync(out, { recursive: true, force: true });
    cpu.reset();
    const self0 = selfCpu();
    const [job] = await step(transcoder.url, 1, "complete");
    const jobCpu = cpu.read();
    jobCpu.set("fake API (this process)", selfCpu() - self0);
    await cancelAndClose(transcoder.url, [job]);
    const jobMs = job.completeMs as number;
    ladderRounds.push({ bareMs, jobMs });
    const where = [...jobCpu].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toFixed(1)}`);
    console.log(
      `ladder round ${r + 1}: bare ${bareMs} ms (${bareCpu.toFixed(1)} core-s); job ready ${job.readyMs} ms, complete ${jobMs} ms = ${(jobMs / bareMs).toFixed(3)}x bare; job CPU (core-s) ${where.join(", ")}`,
    );
    // The job's own stage timings (its `job.timings` log line, still in the quiet service's last lines).
    const timings = transcoder.service
      .tail()
      .split("\n")
      .find((l) => l.includes('"job.timings"') && l.includes(job.options.jobId));
    if (timings) {
      const { ts, level, event, job_id, asset_id, attempt, correlation_id, ...stages } = JSON.parse(timings);
      console.log(`  stages (ms): ${JSON.stringify(stages)}`);
    }
  }
} finally {
  if (kept.length) await cancelAndClose(transcoder.url, kept).catch(() => undefined);
  cpu.stop();
  await transcoder.service.stop();
  rmSync(work, { recursive: true, force: true });
}

if (ladderRounds.length) {
  const ratios = ladderRounds.map((r) => r.jobMs / r.bareMs);
  console.log(
    `\ngoal 3 on the transcoder alone: dispatch → complete / bare ladder, per round ${ratios.map((x) => x.toFixed(3)).join(", ")}; median ${median(ratios).toFixed(3)}x (bare median ${median(ladderRounds.map((r) => r.bareMs))} ms, job median ${median(ladderRounds.map((r) => r.jobMs))} ms)`,
  );
  console.log(
    `  every job / every bare ladder: ${ladderRounds.flatMap((j) => ladderRounds.map((b) => (j.jobMs / b.bareMs).toFixed(3))).join(", ")}`,
  );
}

if (!byN.size) process.exit(0);
const single = median((byN.get(1) ?? []).flat());
console.log("\ndispatch → ready (publish fast), ms; each step's worst job against N = 1's median:");
console.table(
  [...byN].map(([n, steps]) => {
    const all = steps.flat();
    const worst = steps.map((s) => Math.max(...s));
    const cpuSteps = cpuByN.get(n) ?? [];
    const groups = new Set(cpuSteps.flatMap((m) => [...m.keys()]));
    const cpuMedians = Object.fromEntries(
      [...groups].map((g) => [`cpu ${g}`, median(cpuSteps.map((m) => m.get(g) ?? 0)).toFixed(2)]),
    );
    return {
      n,
      jobs: all.length,
      median_ms: median(all),
      worst_per_step_ms: worst.join(", "),
      worst_vs_single: single ? (median(worst) / single).toFixed(2) : "—",
      ...cpuMedians,
    };
  }),
);
