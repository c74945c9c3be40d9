/**
 * `npm test`: Vitest under a stall watchdog.
 *
 * A run using @cloudflare/vitest-pool-workers can stop dead between two test files: the last file's
 * tests pass, then nothing — no next file, no error, no exit (cloudflare/workers-sdk#15498). Our CI hit
 * it and was killed at its time limit. The cause we found — a queue consumer writing to the console as a
 * file ends — is removed in test/workers/setup.ts; this is the net for any other. Vitest runs with a
 * reporter that appends a line per finished test, hook and file (test/support/progress-reporter.ts);
 * when nothing at all has happened for KEYFRAME_TEST_STALL_S seconds (default 240; no test or hook may
 * take longer than 180 s), it kills Vitest and everything it started, says so, and runs again just the
 * files that had not finished — at most twice. A file that failed stays failed; the exit code is 0 only
 * when every file passed.
 *
 * Arguments go to `vitest run` as they are. A rerun after a stall passes only the unfinished files
 * (flags like -t are not carried over).
 *
 * With no arguments (the whole suite) it runs KEYFRAME_TEST_LANES Vitest processes side by side (default 2;
 * 1 runs everything in one process as before), each under its own watchdog, their output prefixed with the
 * lane's name: see scripts/lib/test-lanes.ts for how files are dealt out and why. The exit code is 0 only
 * when every lane passed.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ProgressLine } from "../test/support/progress-reporter.js";
import { nodeTestFiles, planLanes } from "./lib/test-lanes.js";

const root = path.resolve(import.meta.dirname, "..");
const stallMs = Number(process.env.KEYFRAME_TEST_STALL_S ?? 240) * 1000;
const MAX_RERUNS = 2;

interface Attempt {
  code: number;
  stalled: boolean;
  /** Every file the run was given, and the state of each that finished. */
  files: string[];
  ended: Map<string, string>;
}

/** All descendants of a process, from /proc (Linux); empty elsewhere. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[] = [];
  try {
    entries = readdirSync("/proc").filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
  for (const entry of entries) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone already
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

function killTree(pid: number): void {
  // Children first collected, then everything killed at once: services the tests started run in their
  // own process groups, so a group kill alone would leave them behind.
  for (const p of [pid, ...descendants(pid)]) {
    try {
      process.kill(p, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

function readProgress(file: string): ProgressLine[] {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ProgressLine);
}

/** Copies a stream to `out` line by line, each line prefixed (lanes share the terminal). */
function prefixLines(from: NodeJS.ReadableStream, out: NodeJS.WriteStream, prefix: string): void {
  let partial = "";
  from.setEncoding("utf8");
  from.on("data", (chunk: string) => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) out.write(`${prefix}${line}\n`);
  });
  from.on("end", () => {
    if (partial) out.write(`${prefix}${partial}\n`);
  });
}

function runVitest(args: string[], progressFile: string, prefix?: string): Promise<Attempt> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        path.join(root, "node_modules/vitest/vitest.mjs"),
        "run",
        "--reporter=default",
        `--reporter=${path.join(root, "test/support/progress-reporter.ts")}`,
        ...args,
      ],
      {
        cwd: root,
        stdio: prefix ? ["ignore", "pipe", "pipe"] : "inherit",
        env: { ...process.env, KEYFRAME_TEST_PROGRESS: progressFile },
      },
    );
    if (prefix && child.stdout && child.stderr) {
      prefixLines(child.stdout, process.stdout, prefix);
      prefixLines(child.stderr, process.stderr, prefix);
    }
    let lastSize = -1;
    let lastChange = Date.now();
    let stalled = false;
    const watchdog = setInterval(() => {
      let size = 0;
      try {
        size = statSync(progressFile).size;
      } catch {
        // nothing written yet
      }
      if (size !== lastSize) {
        lastSize = size;
        lastChange = Date.now();
      } else if (Date.now() - lastChange > stallMs && child.pid !== undefined) {
        stalled = true;
        process.stderr.write(
          `\n${prefix ?? ""}[test] no test, hook or file has finished for ${Math.round(stallMs / 1000)} s: Vitest has stalled ` +
            "(cloudflare/workers-sdk#15498). Killing it and everything it started.\n",
        );
        killTree(child.pid);
      }
    }, 2000);
    const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
    process.on("SIGINT", forward("SIGINT"));
    process.on("SIGTERM", forward("SIGTERM"));
    child.on("exit", (code, signal) => {
      clearInterval(watchdog);
      const lines = readProgress(progressFile);
      const files = lines.filter((l) => l.event === "run").flatMap((l) => l.files ?? []);
      const ended = new Map<string, string>();
      for (const l of lines) if (l.event === "end" && l.file) ended.set(l.file, l.state ?? "unknown");
      resolve({ code: code ?? (signal ? 1 : 0), stalled, files, ended });
    });
  });
}

/** One Vitest run of `args` under the watchdog, rerunning unfinished files after a stall (at most twice). */
async function runWithReruns(initialArgs: string[], tmp: string, label = ""): Promise<number> {
  const say = (text: string) => process.stderr.write(`${label}[test] ${text}\n`);
  let args = initialArgs;
  const failed = new Set<string>();
  for (let run = 0; ; run++) {
    const attempt = await runVitest(
      args,
      path.join(tmp, `progress-${label.replace(/\W+/g, "")}-${run}.jsonl`),
      label || undefined,
    );
    if (!attempt.stalled) {
      if (run === 0) return attempt.code;
      if (failed.size) say(`failed before the stall: ${[...failed].join(", ")}`);
      return attempt.code === 0 && failed.size === 0 ? 0 : 1;
    }
    for (const [file, state] of attempt.ended) if (state !== "passed" && state !== "skipped") failed.add(file);
    const unfinished = attempt.files.filter((f) => !attempt.ended.has(f));
    say(
      `finished before the stall: ${attempt.ended.size} of ${attempt.files.length} files; ` +
        `unfinished: ${unfinished.join(", ") || "none"}`,
    );
    if (attempt.files.length === 0) {
      say("stalled before any file was scheduled");
      return 1;
    }
    if (unfinished.length === 0) {
      // Every file reported its result; only the final teardown hung.
      return failed.size === 0 ? 0 : 1;
    }
    if (run >= MAX_RERUNS) {
      say(`stalled ${run + 1} times; giving up`);
      return 1;
    }
    say(`running the ${unfinished.length} unfinished files again\n`);
    args = unfinished;
  }
}

async function main(): Promise<number> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "keyframe-test-"));
  try {
    const args = process.argv.slice(2);
    const laneCount = Number(process.env.KEYFRAME_TEST_LANES ?? 2);
    if (args.length > 0 || !(laneCount > 1)) return await runWithReruns(args, tmp);
    const lanes = planLanes(nodeTestFiles(root), laneCount);
    const started = Date.now();
    for (const lane of lanes) {
      process.stderr.write(`[test] ${lane.name} (~${lane.weightS} s measured): ${lane.filters.join(" ")}\n`);
    }
    const codes = await Promise.all(
      lanes.map(async (lane) => {
        const code = await runWithReruns(lane.filters, tmp, `[${lane.name}] `);
        process.stderr.write(
          `[test] ${lane.name} ${code === 0 ? "passed" : "FAILED"} after ${Math.round((Date.now() - started) / 1000)} s\n`,
        );
        return code;
      }),
    );
    const failedLanes = lanes.filter((_, i) => codes[i] !== 0).map((l) => l.name);
    process.stderr.write(
      `[test] ${failedLanes.length ? `FAILED: ${failedLanes.join(", ")}` : "every lane passed"} (${Math.round((Date.now() - started) / 1000)} s)\n`,
    );
    return failedLanes.length ? 1 : 0;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

process.exitCode = await main();
