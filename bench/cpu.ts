/**
 * CPU time by process group on this machine (Linux /proc), for the benchmarks' "where the time goes": each
 * process is tagged once by its command line (the ladder ffmpeg, the fast path's remux, workerd, the two
 * wrangler dev node processes, the transcoder), and its user+system ticks are read every `everyMs`.
 * A process that exits between two reads loses at most that interval of its time (short ffprobe runs
 * are undercounted; the ladder is not). Elsewhere than Linux it reports nothing.
 */
import { readdirSync, readFileSync } from "node:fs";

const TICK_MS = 10; // USER_HZ is 100 on every Linux we run

function tagOf(pid: string): string | undefined {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    if (name === "ffmpeg")
      return cmd.includes("split=") ? "ffmpeg ladder" : cmd.includes("pipe:0") ? "ffmpeg remux" : "ffmpeg other";
    if (name === "ffprobe") return "ffprobe";
    if (name === "workerd") return "workerd";
    if (cmd.includes("wrangler-dist"))
      return cmd.includes("edge") ? "wrangler dev, edge (node)" : "wrangler dev, API (node)";
    if (cmd.includes("transcoder/src/server.ts")) return "transcoder (node)";
    return undefined;
  } catch {
    return undefined;
  }
}

export interface CpuMeter {
  /** Core-seconds per group since the meter started (or since the last `reset`). */
  read(): Map<string, number>;
  reset(): void;
  stop(): void;
}

/** The numeric entries of /proc (every process now), or none off Linux. */
function pids(): string[] {
  try {
    return readdirSync("/proc").filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
}

export function startCpuMeter(everyMs = 250): CpuMeter {
  const procs = new Map<string, { tag: string; first: number; last: number }>();
  // Processes already running when the meter started or was reset count from then; later ones from zero.
  let before = new Set(pids());
  const sample = () => {
    for (const pid of pids()) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        const ticks = Number(f[11]) + Number(f[12]);
        const known = procs.get(pid);
        if (known) known.last = ticks;
        else {
          const tag = tagOf(pid);
          if (tag) procs.set(pid, { tag, first: before.has(pid) ? ticks : 0, last: ticks });
        }
      } catch {
        // gone
      }
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  timer.unref();
  return {
    read() {
      sample();
      const out = new Map<string, number>();
      for (const p of procs.values()) out.set(p.tag, (out.get(p.tag) ?? 0) + ((p.last - p.first) * TICK_MS) / 1000);
      return out;
    },
    reset() {
      sample();
      for (const p of procs.values()) p.first = p.last;
      before = new Set(pids());
    },
    stop() {
      clearInterval(timer);
    },
  };
}
