/**
 * The segment-parallel ladder's figures for `npm run bench:vod -- --parallel 1,2` (issue 14, goal 5), on the
 * clip bench/vod.ts made, beside its bare-ffmpeg ladder baseline of the same run:
 *
 *   time to ladder   the single-process ladder through runLadder, then the chunked ladder through
 *                    runChunkedLadder at each N (N chunks encoded at once on this box), each checked
 *                    with verifyRendition (a broken stitch is not a result)
 *   per-chunk cost   one chunk of each length L alone (N = 1, from the middle of the clip: a real seek),
 *                    wall time w(L); a least-squares line w = a + b·L gives the overhead per chunk a
 *                    (process start, seek, decoder and x264 warm-up, init) and the cost per source second b
 *
 * and models time to ladder on N instances like this box for 10-min and 60-min sources:
 * T(N) = min over L of ceil(D / L / N) · (a + b·L), against b₁·D for one process (b₁ from the baseline).
 * The model leaves out what a remote chunk adds (reading the source over HTTP, PUTting segments), which the
 * chunk instance does while it encodes.
 *
 * With runners including `remote`, the same ladders and one-chunk costs go through the remote chunk runner:
 * a real transcoder server (`POST /ladder-chunks`) and an in-memory API (test/node/support/fake-chunk-api.ts)
 * on this box, so the figures are the HTTP path's own overhead (ranged source reads, segment PUTs, read-back)
 * and the source bytes each chunk pulled, not the gain of more machines.
 */
import { mkdirSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { FAKE_JOB, FAKE_TOKEN, FakeChunkApi } from "../test/node/support/fake-chunk-api";
import { TEST_TRANSCODER_SECRET } from "../test/node/transcoder/helpers/signed";
import { ApiClient } from "../transcoder/src/api-client.js";
import { type LadderOptions, runLadder } from "../transcoder/src/ffmpeg";
import { getBinaries } from "../transcoder/src/ffmpeg/binaries.js";
import { encodeChunkLocally } from "../transcoder/src/ladder-chunks/encode.js";
import { type ChunkRunner, localChunkRunner, runChunkedLadder } from "../transcoder/src/ladder-chunks/index.js";
import { planChunks } from "../transcoder/src/ladder-chunks/plan.js";
import { remoteChunkRunner } from "../transcoder/src/ladder-chunks/remote.js";
import { verifyRendition } from "../transcoder/src/ladder-chunks/verify.js";
import { silentLogger } from "../transcoder/src/log.js";
import { type RunningServer, startServer } from "../transcoder/src/server.js";

export interface ChunkBenchInput {
  options: LadderOptions;
  seconds: number;
  work: string;
  bareLadderMs: number;
  parallel: number[];
  chunkSeconds: number[];
  /** Default: local only. */
  runners?: ("local" | "remote")[];
}

/** A transcoder server and the in-memory API the remote runner talks to. */
async function remoteSetup(source: string): Promise<{ api: FakeChunkApi; server: RunningServer }> {
  const api = new FakeChunkApi(source);
  await api.start();
  const server = await startServer({
    port: 0,
    authSecret: TEST_TRANSCODER_SECRET,
    logger: silentLogger,
    runJob: async () => undefined as never,
  });
  api.transcoderUrl = server.url;
  return { api, server };
}

function remoteRunner(options: LadderOptions, api: FakeChunkApi, out: string, work: string): ChunkRunner {
  const video = options.video;
  if (!video) throw new Error("the chunk bench needs video");
  return remoteChunkRunner({
    client: new ApiClient({ job_id: FAKE_JOB, attempt: 1, api_url: api.url, token: FAKE_TOKEN }),
    video,
    outputDir: out,
    workDir: work,
    local: localChunkRunner(video, options.input, work, out),
  });
}

async function verified(dir: string, options: LadderOptions): Promise<string> {
  const { ffprobe } = await getBinaries();
  const problems: string[] = [];
  for (const rung of options.video?.rungs ?? []) {
    const check = await verifyRendition(path.join(dir, rung.name), ffprobe);
    problems.push(...check.problems.map((p) => `${rung.name}: ${p}`));
  }
  return problems.length ? `BROKEN (${problems.slice(0, 3).join("; ")})` : "ok";
}

export async function benchChunkedLadder(input: ChunkBenchInput): Promise<void> {
  const { options, seconds, work } = input;
  const video = options.video;
  if (!video) throw new Error("the chunk bench needs video");
  const rows: Record<string, { ms: number; vs_bare: string; check: string }> = {};
  rows["bare ffmpeg ladder (baseline)"] = { ms: Math.round(input.bareLadderMs), vs_bare: "1.00x", check: "—" };
  const singleDir = path.join(work, "chunk-bench-single");
  let t0 = performance.now();
  await runLadder(options, singleDir, { durationSeconds: seconds });
  const singleMs = performance.now() - t0;
  rows["runLadder (one process)"] = {
    ms: Math.round(singleMs),
    vs_bare: `${(singleMs / input.bareLadderMs).toFixed(2)}x`,
    check: await verified(singleDir, options),
  };
  rmSync(singleDir, { recursive: true, force: true });
  const chunkLength = Math.max(...input.chunkSeconds.filter((l) => l < seconds), 6);
  const runners = input.runners?.length ? input.runners : ["local" as const];
  const remote = runners.includes("remote") ? await remoteSetup(options.input) : undefined;
  try {
    for (const runner of runners) {
      for (const n of input.parallel) {
        const dir = path.join(work, `chunk-bench-${runner}-n${n}`);
        const chunkWork = path.join(work, `chunk-bench-${runner}-work`);
        t0 = performance.now();
        const report = await runChunkedLadder(
          options,
          dir,
          { chunkSeconds: chunkLength, parallel: n },
          { durationSeconds: seconds },
          {
            workDir: chunkWork,
            runner: remote && runner === "remote" ? remoteRunner(options, remote.api, dir, chunkWork) : undefined,
          },
        );
        const ms = performance.now() - t0;
        rows[`chunked ${runner}, ${report.chunks} × ${chunkLength} s, N = ${n}`] = {
          ms: Math.round(ms),
          vs_bare: `${(ms / input.bareLadderMs).toFixed(2)}x`,
          check: await verified(dir, options),
        };
        rmSync(dir, { recursive: true, force: true });
      }
    }
    if (remote) await remoteChunkCosts(input, remote.api);
  } finally {
    await remote?.server.close({ graceMs: 0 });
    await remote?.api.close();
  }
  console.log(`\ntime to ladder, ${seconds} s source (video + audio), this box:`);
  console.table(rows);

  // Per-chunk cost: one chunk of each length, alone, taken after the first chunk (a seek into the file).
  const costs: { seconds: number; ms: number }[] = [];
  for (const length of input.chunkSeconds) {
    const chunks = planChunks(seconds, video.frameRate, length);
    const chunk = chunks.length > 2 ? chunks[1] : chunks[0];
    if (!chunk || chunk.frames === undefined) {
      console.log(`chunk length ${length} s: the clip is too short for a ${length} s chunk after the first; skipped`);
      continue;
    }
    const dir = path.join(work, `chunk-cost-${length}`);
    mkdirSync(dir, { recursive: true });
    t0 = performance.now();
    await encodeChunkLocally(video, options.input, chunk, dir, {});
    const ms = performance.now() - t0;
    costs.push({ seconds: chunk.seconds, ms });
    rmSync(dir, { recursive: true, force: true });
  }
  console.log("\none chunk alone (video rungs only), wall time:");
  console.table(
    costs.map((c) => ({
      chunk_s: c.seconds,
      wall_ms: Math.round(c.ms),
      ms_per_source_s: Math.round(c.ms / c.seconds),
    })),
  );
  if (costs.length < 2) return;
  const n = costs.length;
  const mx = costs.reduce((s, c) => s + c.seconds, 0) / n;
  const my = costs.reduce((s, c) => s + c.ms, 0) / n;
  const b =
    costs.reduce((s, c) => s + (c.seconds - mx) * (c.ms - my), 0) /
    costs.reduce((s, c) => s + (c.seconds - mx) ** 2, 0);
  const a = my - b * mx;
  const single = input.bareLadderMs / seconds;
  if (a < 0 || b <= 0) {
    // Wall times that fall with chunk length's overhead below zero come from a box busy with other work.
    console.log(`fit unusable (overhead ${Math.round(a)} ms, ${Math.round(b)} ms/s): rerun on a quiet box (uptime)`);
    return;
  }
  console.log(
    `fit: chunk wall ≈ ${Math.round(a)} ms overhead + ${Math.round(b)} ms per source second ` +
      `(one-process ladder: ${Math.round(single)} ms per source second, audio included)`,
  );
  const lengths = [6, 12, 18, 30, 60, 120, 300];
  const model: Record<string, Record<string, string>> = {};
  for (const d of [600, 3600]) {
    const row: Record<string, string> = { "1 process": `${((single * d) / 1000).toFixed(0)} s` };
    for (const instances of [1, 2, 4, 8, 16, 32, 64]) {
      let best = { t: Number.POSITIVE_INFINITY, l: 0 };
      for (const l of lengths) {
        const t = Math.ceil(d / l / instances) * (a + b * l);
        if (t < best.t) best = { t, l };
      }
      row[`N=${instances}`] = `${(best.t / 1000).toFixed(0)} s @${best.l}s`;
    }
    model[`${d / 60} min source`] = row;
  }
  console.log("\nmodel: time to ladder on N instances like this box (best chunk length), video only:");
  console.table(model);
}

/**
 * One chunk of each length alone (the second chunk: a real seek), through the remote runner and locally:
 * wall time of each, the instance's own encode and upload time, and the source bytes its ffmpeg pulled
 * (what the in-memory API sent, socket buffers included) against the file's size.
 */
async function remoteChunkCosts(input: ChunkBenchInput, api: FakeChunkApi): Promise<void> {
  const { options, seconds, work } = input;
  const video = options.video;
  if (!video) return;
  const size = statSync(options.input).size;
  const rows: Record<string, unknown>[] = [];
  for (const length of input.chunkSeconds) {
    const chunks = planChunks(seconds, video.frameRate, length);
    const chunk = chunks.length > 2 ? chunks[1] : undefined;
    if (!chunk) continue;
    const localDir = path.join(work, `remote-cost-local-${length}`);
    mkdirSync(localDir, { recursive: true });
    let t0 = performance.now();
    await encodeChunkLocally(video, options.input, chunk, localDir, {});
    const localMs = performance.now() - t0;
    rmSync(localDir, { recursive: true, force: true });

    const out = path.join(work, `remote-cost-${length}`);
    for (const rung of video.rungs) mkdirSync(path.join(out, rung.name), { recursive: true });
    const before = api.reads.length;
    let instance: { encode?: number; upload?: number; fetch?: number } = {};
    const runner = remoteChunkRunner({
      client: new ApiClient({ job_id: FAKE_JOB, attempt: 1, api_url: api.url, token: FAKE_TOKEN }),
      video,
      outputDir: out,
      workDir: path.join(work, `remote-cost-work-${length}`),
      local: async () => [],
      onRemote: (_c, result, t) => {
        instance = { encode: result.encode_ms, upload: result.upload_ms, fetch: t.fetchMs };
      },
    });
    t0 = performance.now();
    await runner(chunk, {});
    const remoteMs = performance.now() - t0;
    rmSync(out, { recursive: true, force: true });
    const pulled = api.reads.slice(before).reduce((n, r) => n + r.bytes, 0);
    rows.push({
      chunk_s: chunk.seconds,
      local_ms: Math.round(localMs),
      remote_ms: Math.round(remoteMs),
      overhead_ms: Math.round(remoteMs - localMs),
      instance_encode_ms: instance.encode,
      instance_upload_ms: instance.upload,
      read_back_ms: instance.fetch,
      source_mb_pulled: (pulled / 1e6).toFixed(1),
      source_mb: (size / 1e6).toFixed(1),
      needed_mb_approx: ((size * (chunk.seconds + 1)) / seconds / 1e6).toFixed(1),
      requests: api.reads.length - before,
    });
  }
  console.log("\none chunk alone, remote runner (this box: the HTTP path's cost, not more machines):");
  console.table(rows);
}
