/**
 * Running wrangler from scripts: the project's own binary (no npx resolution on every call), argument
 * arrays (no shell), output captured for parsing. D1 helpers for local (`--persist-to`) and remote use.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";

export const ROOT = path.resolve(import.meta.dirname, "..", "..");
export const WRANGLER = path.join(ROOT, "node_modules", ".bin", "wrangler");
export const API_CONFIG = path.join(ROOT, "wrangler.toml");
export const EDGE_CONFIG = path.join(ROOT, "workers", "edge", "wrangler.toml");

export interface D1Target {
  /** Run against the deployed database instead of the local one. */
  remote?: boolean;
  /** Local state folder (wrangler's `--persist-to`); wrangler's default `.wrangler/state` when absent. */
  persistTo?: string;
  /** wrangler config naming the DB binding; the API worker's by default. */
  config?: string;
  /** wrangler environment (`--env`), e.g. "production": its own database. */
  env?: string;
}

export function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string | undefined>; input?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, ...opts.env } as NodeJS.ProcessEnv,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(opts.input ?? "");
  });
}

export function wranglerBin(): string {
  if (!existsSync(WRANGLER)) throw new Error(`wrangler not found at ${WRANGLER}: run 'npm install' first`);
  return WRANGLER;
}

function targetArgs(t: D1Target): string[] {
  const args = ["-c", t.config ?? API_CONFIG];
  if (t.env) args.push("--env", t.env);
  if (t.remote) args.push("--remote");
  else {
    args.push("--local");
    if (t.persistTo) args.push("--persist-to", t.persistTo);
  }
  return args;
}

/** `wrangler d1 migrations apply DB` (idempotent: applied migrations are skipped). */
export async function applyMigrations(t: D1Target): Promise<void> {
  const res = await run(wranglerBin(), ["d1", "migrations", "apply", "DB", ...targetArgs(t)], {
    env: { CI: "true", WRANGLER_SEND_METRICS: "false" },
  });
  if (res.code !== 0) throw new Error(`d1 migrations apply failed:\n${res.stdout}\n${res.stderr}`);
}

/** Executes SQL (one or more `;`-separated statements) and returns each statement's rows. */
export async function d1Execute(t: D1Target, sql: string): Promise<Record<string, unknown>[][]> {
  const res = await run(wranglerBin(), ["d1", "execute", "DB", ...targetArgs(t), "--json", "--command", sql], {
    env: { CI: "true", WRANGLER_SEND_METRICS: "false" },
  });
  if (res.code !== 0) throw new Error(`d1 execute failed:\n${res.stdout}\n${res.stderr}`);
  const start = res.stdout.indexOf("[");
  if (start < 0) throw new Error(`d1 execute printed no JSON:\n${res.stdout}\n${res.stderr}`);
  const parsed = JSON.parse(res.stdout.slice(start)) as { results?: Record<string, unknown>[] }[];
  return parsed.map((r) => r.results ?? []);
}

/** SQL string literal. */
export function sqlString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
