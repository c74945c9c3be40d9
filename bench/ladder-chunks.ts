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
 */
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { type LadderOptions, runLadder } from "../transcoder/src/ffmpeg";
import { getBinaries } from "../transcoder/src/ffmpeg/binaries.js";
import { encodeChunkLocally } from "../transcoder/src/ladder-chunks/encode.js";
import { runChunkedLadder } from "../transcoder/src/ladder-chunks/index.js";
import { planChunks } from "../transcoder/src/ladder-chunks/plan.js";
import { verifyRendition } from "../transcoder/src/ladder-chunks/verify.js";

export interface ChunkBenchInput {
  options: LadderOptions;
  seconds: number;
  work: string;
  bareLadderMs: number;
  parallel: number[];
  chunkSeconds: number[];
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
  for (const n of input.parallel) {
    const dir = path.join(work, `chunk-bench-n${n}`);
    t0 = performance.now();
    const report = await runChunkedLadder(
      options,
      dir,
      { chunkSeconds: chunkLength, parallel: n },
      { durationSeconds: seconds },
    );
    const ms = performance.now() - t0;
    rows[`chunked, ${report.chunks} × ${chunkLength} s, N = ${n}`] = {
      ms: Math.round(ms),
      vs_bare: `${(ms / input.bareLadderMs).toFixed(2)}x`,
      check: await verified(dir, options),
    };
    rmSync(dir, { recursive: true, force: true });
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
