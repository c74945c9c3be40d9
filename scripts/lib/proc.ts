/**
 * Long-running child processes for the local stack: each in its own process group (so wrangler's
 * workerd children die with it), logs forwarded line by line with a prefix (or kept in a small ring
 * buffer when quiet, to explain a failed start), and a stop that escalates SIGTERM → SIGKILL.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import readline from "node:readline";

export interface Service {
  name: string;
  child: ChildProcess;
  /** Last lines of output, for error messages. */
  tail(): string;
  exited: Promise<number | null>;
  stop(timeoutMs?: number): Promise<void>;
}

const COLORS = ["\x1b[36m", "\x1b[35m", "\x1b[33m", "\x1b[32m"];
let colorIndex = 0;

export function startService(
  name: string,
  cmd: string,
  args: string[],
  opts: { cwd: string; env?: Record<string, string | undefined>; quiet?: boolean },
): Service {
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env } as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group: stop() signals the whole tree
  });
  const color = process.stdout.isTTY ? COLORS[colorIndex++ % COLORS.length] : "";
  const reset = color ? "\x1b[0m" : "";
  const prefix = `${color}${name.padEnd(10)}|${reset} `;
  const lines: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    readline.createInterface({ input: stream }).on("line", (line) => {
      lines.push(line);
      if (lines.length > 80) lines.shift();
      if (!opts.quiet) process.stdout.write(`${prefix}${line}\n`);
    });
  }
  const exited = new Promise<number | null>((resolve) => {
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 : null)));
    child.on("error", (err) => {
      lines.push(`spawn error: ${err.message}`);
      resolve(127);
    });
  });
  let stopping: Promise<void> | undefined;
  const stop = (timeoutMs = 8000) => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        await reapGroup(child); // stray grandchildren
        return;
      }
      killGroup(child, "SIGTERM");
      const timer = setTimeout(() => killGroup(child, "SIGKILL"), timeoutMs);
      await exited;
      clearTimeout(timer);
      await reapGroup(child);
    })();
    return stopping;
  };
  return { name, child, tail: () => lines.join("\n"), exited, stop };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals) {
  if (!child.pid) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Once the leader is gone, kill what is left of its group (wrangler's workerd) and wait until the group
 * is empty, so "stopped" means no process and no port left behind.
 */
async function reapGroup(child: ChildProcess, timeoutMs = 10_000) {
  if (!child.pid) return;
  const deadline = Date.now() + timeoutMs;
  while (groupAlive(child.pid) && Date.now() < deadline) {
    killGroup(child, "SIGKILL");
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Whether any process of the service's group is still alive. */
export function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A TCP port nothing listens on right now (the kernel picks it). */
/**
 * A port that is free now, for a server started a moment later. Picked at random BELOW the kernel's
 * ephemeral range: a port-0 pick lies inside that range, where any outgoing connection or port-0
 * listener (workerd opens several while wrangler starts) may take it before our server binds — seen
 * as "Address already in use" when the edge started beside the API.
 */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const [low, high] = nonEphemeralRange();
  for (let i = 0; i < 50; i++) {
    const port = low + Math.floor(Math.random() * (high - low));
    // Never the same port twice from this process: a stack asks for several before any is bound.
    if (handedOut.has(port)) continue;
    if (await canListen(port, host)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port found in ${low}-${high} on ${host}`);
}

const handedOut = new Set<number>();

function nonEphemeralRange(): [number, number] {
  let ephemeralLow = 32768;
  try {
    ephemeralLow = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
  } catch {
    // not Linux: IANA's dynamic range starts at 49152; stay well under both
  }
  const high = Math.min(ephemeralLow, 32768) - 1;
  return [Math.min(20000, high - 1000), high];
}

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/** Polls `url` until `accept(response)` or the service exits or time runs out. */
export async function waitForHttp(
  url: string,
  service: Service,
  opts: { timeoutMs?: number; accept?: (res: Response) => boolean } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  const accept = opts.accept ?? ((r: Response) => r.ok);
  let exited = false;
  service.exited.then(() => {
    exited = true;
  });
  let last = "no response yet";
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${service.name} exited before ${url} answered. Last output:\n${service.tail()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      await res.arrayBuffer();
      if (accept(res)) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${service.name}: ${url} not ready in time (${last}). Last output:\n${service.tail()}`);
}
