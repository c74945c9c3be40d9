/**
 * Parses ffmpeg's `-progress pipe:1` output: blocks of key=value lines, each block ending with
 * `progress=continue` or `progress=end`. Percent is out_time against the known duration.
 */

export interface FfmpegProgress {
  /** Media time written so far, in seconds. */
  outTimeSeconds: number;
  /** 0–100 when the duration is known. */
  percent?: number;
  /** Encoding speed relative to real time (e.g. 3.2 for "3.2x"). */
  speed?: number;
  done: boolean;
}

function parseClock(value: string): number | undefined {
  const m = /^(-?\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(value.trim());
  if (!m) return undefined;
  return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
}

/**
 * Reads out_time_us, falling back to out_time_ms (which ffmpeg 4.x also prints in microseconds,
 * despite its name) and then to the HH:MM:SS.micro clock.
 */
export function outTimeFromBlock(block: ReadonlyMap<string, string>): number | undefined {
  for (const key of ["out_time_us", "out_time_ms"]) {
    const raw = block.get(key);
    if (raw !== undefined && /^-?\d+$/.test(raw.trim())) {
      const us = Number(raw);
      if (Number.isFinite(us) && us >= 0) return us / 1_000_000;
    }
  }
  const clock = block.get("out_time");
  return clock ? parseClock(clock) : undefined;
}

/** Returns a function to feed stdout chunks to; calls onProgress once per complete block. */
export function createProgressParser(
  durationSeconds: number | undefined,
  onProgress: (progress: FfmpegProgress) => void,
): (chunk: string | Buffer) => void {
  let pending = "";
  let block = new Map<string, string>();
  let lastOutTime = 0;
  return (chunk) => {
    pending += chunk.toString();
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      const eq = line.indexOf("=");
      if (eq <= 0) continue;
      const key = line.slice(0, eq).trim();
      const value = line.slice(eq + 1).trim();
      if (key !== "progress") {
        block.set(key, value);
        continue;
      }
      const done = value === "end";
      // Before the first packet ffmpeg prints a negative or N/A time; keep the last good one.
      lastOutTime = Math.max(lastOutTime, outTimeFromBlock(block) ?? 0);
      const speedRaw = block.get("speed");
      const speed = speedRaw ? Number.parseFloat(speedRaw) : Number.NaN;
      const progress: FfmpegProgress = { outTimeSeconds: lastOutTime, done };
      if (Number.isFinite(speed)) progress.speed = speed;
      if (durationSeconds && durationSeconds > 0) {
        progress.percent = done ? 100 : Math.min(100, Math.max(0, (lastOutTime / durationSeconds) * 100));
      } else if (done) {
        progress.percent = 100;
      }
      onProgress(progress);
      block = new Map();
    }
  };
}
