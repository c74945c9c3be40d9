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

/** The local SQLite lock held by a running `wrangler dev` (or its start-up) on the same state folder. */
const LOCKED = /SQLITE_BUSY|database is locked/i;

/** `wrangler d1 migrations apply DB` (idempotent: applied migrations are skipped). */
export async function applyMigrations(t: D1Target): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const res = await run(wranglerBin(), ["d1", "migrations", "apply", "DB", ...targetArgs(t)], {
      env: { CI: "true", WRANGLER_SEND_METRICS: "false" },
    });
    if (res.code === 0) return;
    const output = `${res.stdout}\n${res.stderr}`;
    // A running local stack may hold the lock for a moment; applied migrations are skipped on the next try.
    if (t.remote || !LOCKED.test(output) || attempt >= 6) throw new Error(`d1 migrations apply failed:\n${output}`);
    await new Promise((r) => setTimeout(r, 300 * 2 ** attempt));
  }
}

/**
 * Executes SQL (one or more `;`-separated statements) and returns each statement's rows.
 *
 * Locally, `wrangler dev` processes on the same state folder hold SQLite's lock at times (while they start,
 * under a busy pipeline). wrangler then either reports SQLITE_BUSY or exits 0 having printed nothing, so
 * both are retried with backoff (about 30 s in all). Callers that write must make their SQL safe to run
 * twice (the first try may have committed before its output was lost). Remote calls are not retried.
 */
export async function d1Execute(
  t: D1Target,
  sql: string,
  opts: { attempts?: number; baseDelayMs?: number } = {},
): Promise<Record<string, unknown>[][]> {
  const attempts = t.remote ? 1 : (opts.attempts ?? 8);
  for (let attempt = 1; ; attempt++) {
    const res = await run(wranglerBin(), ["d1", "execute", "DB", ...targetArgs(t), "--json", "--command", sql], {
      env: { CI: "true", WRANGLER_SEND_METRICS: "false" },
    });
    const start = res.stdout.indexOf("[");
    const output = `${res.stdout}\n${res.stderr}`;
    if (res.code === 0 && start >= 0) {
      const parsed = JSON.parse(res.stdout.slice(start)) as { results?: Record<string, unknown>[] }[];
      return parsed.map((r) => r.results ?? []);
    }
    const transient = LOCKED.test(output) || (res.code === 0 && start < 0);
    if (!transient || attempt >= attempts) {
      throw new Error(
        res.code !== 0 ? `d1 execute failed:\n${output}` : `d1 execute printed no JSON (${attempt} tries):\n${output}`,
      );
    }
    const delay = (opts.baseDelayMs ?? 250) * 2 ** (attempt - 1);
    await new Promise((r) => setTimeout(r, Math.min(delay, 8000) * (0.5 + Math.random() / 2)));
  }
}

/** SQL string literal. */
export function sqlString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
