/**
 * `npm run bench:ready`: time to playable, A against B, in one sitting. Upload → `ready` (the API's own
 * `ready_at`) of a 60 s 1080p30 faststart clip, `--uploads` uploads per stack, each asset deleted once ready
 * (its ladder cancelled, so the next upload meets an idle box), stacks alternating A, B, A, B… for
 * `--rounds` rounds. A and B differ only in the transcoder's environment: by default B is the shipped
 * transcoder and A the same with the remux started after the probe (TRANSCODER_EARLY_REMUX=0); `--a` and
 * `--b` take other `KEY=VALUE,KEY=VALUE` sets. Prints every upload, each side's median, mean and quartiles,
 * B/A of the medians, and each side's median per transcoder stage (its `stage.done` log lines).
 *
 * `--at-once N` PUTs N uploads at once per step (each one's ready is measured from its own PUT's answer);
 * `--timeline 1` prints each upload's stages (and when each ended, from its PUT's answer) and each step's CPU by
 * process; `--poll-ms` sets how often an asset is read until ready (default 100).
 *
 * On this kind of box one invocation's timings move by ±30% from the next: compare sides within a run.
 *
 *   npm run bench:ready -- --uploads 6 --rounds 3 --clip <an mp4 made by bench:vod's recipe>
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import readline from "node:readline";
import { createKeyInD1 } from "../scripts/lib/keys";
import type { components } from "../sdk/src/generated/openapi";
import { benchClip } from "./clip";
import { startCpuMeter } from "./cpu";
import { startBenchStack } from "./stack";

type Schemas = components["schemas"];

const argv = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) argv.set(process.argv[i].replace(/^--/, ""), process.argv[i + 1]);
const UPLOADS = Number(argv.get("uploads") ?? 6);
const ROUNDS = Number(argv.get("rounds") ?? 3);
/** Uploads PUT at once per step (goal 2 of issue 14: each within 2× of one alone). */
const AT_ONCE = Number(argv.get("at-once") ?? 1);
/** `--timeline 1`: print each upload's stages and when each ended, from its PUT's answer. */
const TIMELINE = argv.get("timeline") === "1";
/** How often an upload's asset is read until it is ready. `ready_at` is the API's own clock, so this only sets
 * how much load the polling adds (each local API request costs ~20 ms of CPU across wrangler dev's processes). */
const POLL_MS = Number(argv.get("poll-ms") ?? 100);
const parseEnv = (spec: string): Record<string, string> =>
  Object.fromEntries(
    spec
      .split(",")
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );
const SIDES = {
  A: parseEnv(argv.get("a") ?? "TRANSCODER_EARLY_REMUX=0"),
  B: parseEnv(argv.get("b") ?? ""),
};
/** The stages on the way to `ready`, in order. */
const STAGES = ["head", "probe", "first_segment", "fast_upload", "fast_publish"];

const work = mkdtempSync(path.join(tmpdir(), "keyframe-bench-ready-"));
const clip = benchClip(work, argv.get("clip"));
const bytes = new Uint8Array(readFileSync(clip));
console.log(
  `clip: ${(bytes.byteLength / 1e6).toFixed(1)} MB; A = ${JSON.stringify(SIDES.A)}, B = ${JSON.stringify(SIDES.B)}`,
);

interface Sample {
  readyMs: number;
  stages: Record<string, number>;
}

/** One stack with `env`, `UPLOADS` uploads one after another, each deleted once ready. */
async function round(env: Record<string, string>): Promise<Sample[]> {
  const persistTo = path.join(mkdtempSync(path.join(work, "state-")), "state");
  const stack = await startBenchStack(persistTo, { transcoderEnv: env });
  const stagesByAsset = new Map<string, Record<string, number>>();
  /** When each asset's PUT was answered, and (for --timeline) when each of its stages ended from then. */
  const answeredAt = new Map<string, number>();
  const endedByAsset = new Map<string, Record<string, number>>();
  const out = stack.services.find((s) => s.name === "transcoder")?.child.stdout;
  if (out) {
    readline.createInterface({ input: out }).on("line", (line) => {
      try {
        const rec = JSON.parse(line);
        if (rec.event !== "stage.done" || typeof rec.asset_id !== "string") return;
        const stages = stagesByAsset.get(rec.asset_id) ?? {};
        stages[rec.stage] = rec.ms;
        stagesByAsset.set(rec.asset_id, stages);
        const answered = answeredAt.get(rec.asset_id);
        if (answered !== undefined) {
          const ended = endedByAsset.get(rec.asset_id) ?? {};
          ended[rec.stage] = Date.now() - answered;
          endedByAsset.set(rec.asset_id, ended);
        }
      } catch {
        // not a log line
      }
    });
  }
  const samples: Sample[] = [];
  try {
    const key = await createKeyInD1({ persistTo, scopes: ["*"], name: "bench-ready" });
    const api = async <T>(method: string, p: string, body?: unknown): Promise<T> => {
      const res = await fetch(`${stack.apiUrl}${p}`, {
        method,
        headers: { authorization: `Bearer ${key.secret}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`${method} ${p} answered ${res.status}: ${await res.text()}`);
      return (res.status === 204 ? undefined : await res.json()) as T;
    };
    /** One upload: its PUT, then `ready` (measured from the PUT's answer); returns the asset's id. */
    const uploadOne = async (): Promise<string> => {
      const upload = await api<Schemas["Upload"]>("POST", "/v1/uploads", {
        new_asset_settings: { playback_policy: "public" },
      });
      const put = await fetch(upload.url as string, {
        method: "PUT",
        headers: { "content-type": "video/mp4", "content-length": String(bytes.byteLength) },
        body: bytes,
      });
      if (!put.ok) throw new Error(`the upload's PUT answered ${put.status}`);
      const { asset_id } = (await put.json()) as { asset_id: string };
      const t0 = Date.now();
      answeredAt.set(asset_id, t0);
      for (;;) {
        const asset = await api<Schemas["Asset"]>("GET", `/v1/assets/${asset_id}`);
        if (asset.status === "errored") throw new Error(`asset errored: ${JSON.stringify(asset.error)}`);
        if (asset.status === "ready") {
          samples.push({
            readyMs: Date.parse(asset.ready_at as string) - t0,
            stages: stagesByAsset.get(asset_id) ?? {},
          });
          if (TIMELINE) {
            const st = stagesByAsset.get(asset_id) ?? {};
            const ended = endedByAsset.get(asset_id) ?? {};
            const ends = STAGES.map((name) => `${name} ${st[name] ?? "—"} (ended +${ended[name] ?? "—"})`);
            console.log(`  ${asset_id}: ready +${samples[samples.length - 1].readyMs} ms; ${ends.join(", ")}`);
          }
          return asset_id;
        }
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    };
    // Reading /proc every 100 ms is load of its own: only when the timeline asks for it.
    const cpu = TIMELINE ? startCpuMeter(100) : undefined;
    for (let i = 0; i < UPLOADS; i++) {
      cpu?.reset();
      const assets = await Promise.all(Array.from({ length: AT_ONCE }, uploadOne));
      if (cpu) {
        const used = [...cpu.read()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toFixed(2)}`);
        console.log(`  CPU (core-s) from the first PUT to the last ready: ${used.join(", ")}`);
      }
      for (const id of assets) await api("DELETE", `/v1/assets/${id}`);
      // The cancelled ladder's ffmpeg is stopped within its next progress report.
      await new Promise((r) => setTimeout(r, 2500));
    }
    cpu?.stop();
  } finally {
    await stack.stop();
  }
  return samples;
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const results: Record<"A" | "B", Sample[]> = { A: [], B: [] };
try {
  for (let r = 0; r < ROUNDS; r++) {
    for (const side of ["A", "B"] as const) {
      const got = await round(SIDES[side]);
      results[side].push(...got);
      console.log(`round ${r + 1} ${side}: ready ${got.map((s) => s.readyMs).join(", ")} ms`);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
const summary = (side: "A" | "B") => {
  const ready = results[side].map((s) => s.readyMs);
  const stageMedians = Object.fromEntries(
    STAGES.map((st) => {
      const xs = results[side].map((s) => s.stages[st]).filter((x): x is number => x !== undefined);
      return [st, xs.length ? quantile(xs, 0.5) : "—"];
    }),
  );
  return {
    uploads: ready.length,
    median_ms: quantile(ready, 0.5),
    mean_ms: Math.round(ready.reduce((a, b) => a + b, 0) / Math.max(1, ready.length)),
    p25_ms: quantile(ready, 0.25),
    p75_ms: quantile(ready, 0.75),
    under_1s: ready.filter((x) => x < 1000).length,
    ...stageMedians,
  };
};
const table = { A: summary("A"), B: summary("B") };
console.log("\nupload → ready (ms) and the median of each stage before it (ms):");
console.table(table);
console.log(`B / A, medians: ${(table.B.median_ms / table.A.median_ms).toFixed(3)}`);
