/**
 * CI's offline proof of the deploy (`.ci/run`): `wrangler deploy --dry-run --outdir` of both workers in
 * every environment (the top level, staging, production) — bundle errors fail it — then the bundle sizes,
 * held under the Workers limit with margin, and the workers' startup CPU measured by
 * `wrangler check startup` (workerd's own CPU profile of the module's top-level evaluation), held well
 * under the startup limit.
 *
 * Without a Docker engine: wrangler 4.86 builds a Dockerfile image even on a dry run, but takes an image
 * *reference* as is. The API's dry runs use a generated copy of wrangler.toml (`.wrangler-ci.toml`, deleted
 * after) whose containers point at a registry reference instead of ./transcoder/Dockerfile; every other
 * line, containers config included, is the real file. The image itself is built where Docker exists
 * (README "Deploy").
 */
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { DEPLOY_ENVS } from "./lib/deploy-plan";
import { ROOT, run, wranglerBin } from "./lib/wrangler";

/** Workers' limits (developers.cloudflare.com/workers/platform/limits): size after gzip, startup CPU. */
const LIMITS = { gzipBytesFree: 3 * 1024 * 1024, gzipBytesPaid: 10 * 1024 * 1024, startupMs: 1000 };
/**
 * Our margin: two thirds of the free plan's size limit. The API carries the offline docs bundle (Scalar's
 * standalone build, ~1.1 MiB gzip) and the dashboard's hls.js/tus-js-client as text modules: 1.5 MiB gzip
 * in all. Moving them to Workers static assets (which do not count) is the way back under a third. Startup: the profile's non-idle time is wall time
 * between samples, so a loaded machine inflates it (measured 1.9 s of JS for the API at load average 35
 * on 2 cores); the budget is the limit itself, overridable with KEYFRAME_STARTUP_BUDGET_MS.
 */
const BUDGET = {
  gzipBytes: (LIMITS.gzipBytesFree * 2) / 3,
  startupMs: Number(process.env.KEYFRAME_STARTUP_BUDGET_MS ?? LIMITS.startupMs),
};

const OUT = path.join(ROOT, ".wrangler", "ci-bundles");
const CI_API_TOML = ".wrangler-ci.toml";
export const DRY_RUN_IMAGE = "registry.cloudflare.com/keyframe-transcoder:ci-dry-run";

/** The API config with each container's Dockerfile replaced by an image reference (no Docker build). */
export function withoutImageBuild(toml: string): string {
  return toml
    .replace(/^image\s*=\s*"\.\/transcoder\/Dockerfile"\s*$/gm, `image = "${DRY_RUN_IMAGE}"`)
    .replace(/^image_build_context\s*=.*\n/gm, "");
}

const workers = [
  { name: "api", config: CI_API_TOML },
  { name: "edge", config: "workers/edge/wrangler.toml" },
];
const envs: (string | undefined)[] = [undefined, ...DEPLOY_ENVS];

function dirBytes(dir: string): { raw: number; gzip: number } {
  let raw = 0;
  let gzip = 0;
  for (const f of readdirSync(dir, { recursive: true }) as string[]) {
    const p = path.join(dir, f);
    if (!statSync(p).isFile() || f.endsWith(".map") || f.endsWith(".json")) continue;
    const bytes = readFileSync(p);
    raw += bytes.length;
    gzip += gzipSync(bytes, { level: 9 }).length;
  }
  return { raw, gzip };
}

/** Startup CPU from a V8 .cpuprofile: the sampled time outside the idle node (JS, GC, program). */
export function startupCpuMs(profile: {
  nodes: { id: number; callFrame: { functionName: string } }[];
  samples: number[];
  timeDeltas: number[];
}): number {
  const idle = new Set(profile.nodes.filter((n) => n.callFrame.functionName === "(idle)").map((n) => n.id));
  let us = 0;
  profile.samples.forEach((id, i) => {
    if (!idle.has(id)) us += profile.timeDeltas[i] ?? 0;
  });
  return us / 1000;
}

async function wrangler(args: string[]) {
  const res = await run(wranglerBin(), args, { env: { CI: "true", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" } });
  if (res.code !== 0) throw new Error(`wrangler ${args.join(" ")} failed:\n${res.stdout}\n${res.stderr}`);
  return res.stdout;
}

async function main() {
  const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
  writeFileSync(
    path.join(ROOT, CI_API_TOML),
    withoutImageBuild(readFileSync(path.join(ROOT, "wrangler.toml"), "utf8")),
  );
  rmSync(OUT, { recursive: true, force: true });
  const failures: string[] = [];
  try {
    for (const w of workers) {
      for (const env of envs) {
        const label = `${w.name}${env ? ` --env ${env}` : " (top level)"}`;
        const outdir = path.join(OUT, `${w.name}-${env ?? "top"}`);
        const envArgs = env ? ["--env", env] : [];
        const bundle = `${outdir}.bundle`;
        await wrangler(["deploy", "--dry-run", "-c", w.config, ...envArgs, "--outdir", outdir, "--outfile", bundle]);
        const size = dirBytes(outdir);
        const ok = size.gzip < BUDGET.gzipBytes;
        console.log(
          `${ok ? "ok  " : "FAIL"} ${label}: ${kib(size.raw)} / ${kib(size.gzip)} gzip (budget ${kib(BUDGET.gzipBytes)}; limit ${kib(LIMITS.gzipBytesFree)} free, ${kib(LIMITS.gzipBytesPaid)} paid)`,
        );
        if (!ok) failures.push(`${label} bundle is ${kib(size.gzip)} gzip`);
        if (env === undefined) {
          const profileFile = `${outdir}.cpuprofile`;
          await wrangler(["check", "startup", "-c", w.config, "--worker", bundle, "--outfile", profileFile]);
          const ms = startupCpuMs(JSON.parse(readFileSync(profileFile, "utf8")));
          const fine = ms < BUDGET.startupMs;
          console.log(
            `${fine ? "ok  " : "FAIL"} ${w.name} startup CPU: ${ms.toFixed(1)} ms (budget ${BUDGET.startupMs} ms; limit ${LIMITS.startupMs} ms)`,
          );
          if (!fine) failures.push(`${w.name} startup CPU ${ms.toFixed(1)} ms`);
        }
      }
    }
  } finally {
    rmSync(path.join(ROOT, CI_API_TOML), { force: true });
  }
  if (failures.length) {
    console.error(`bundle checks failed:\n  ${failures.join("\n  ")}`);
    process.exit(1);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    console.error((err as Error).message);
    process.exit(1);
  });
}
