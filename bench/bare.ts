/**
 * The benchmarks' baselines: the transcoder's own ffmpeg commands run bare, by the system `ffmpeg` on PATH (the
 * binary the transcoder encodes with when one is installed), so "bare ffmpeg" is the same command.
 */
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { buildLadderArgs, outputFrameRate, planRungs } from "../transcoder/src/ffmpeg";

/** Runs ffmpeg with `args` in `cwd`; resolves with its wall time in ms, rejects with its stderr. */
export function ffmpeg(args: string[], cwd?: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const p = spawn("ffmpeg", ["-hide_banner", "-nostdin", "-y", "-loglevel", "error", ...args], {
      cwd,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    p.stderr.on("data", (d) => (err += d));
    p.on("error", reject);
    p.on("exit", (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(err))));
  });
}

/**
 * The one-process ladder (split → every rung up to 1080p, and the audio) of a `width`×`height` 30 fps clip with
 * its video as stream 0 and audio as stream 1, written under `out`; resolves with its wall time in ms.
 */
export function bareLadder(clip: string, out: string, width: number, height: number): Promise<number> {
  const rungs = planRungs(width, height, "1080p", 30);
  for (const r of rungs) mkdirSync(path.join(out, r.name), { recursive: true });
  mkdirSync(path.join(out, "audio"), { recursive: true });
  const frameRate = outputFrameRate({
    rFrameRate: { num: 30, den: 1 },
    avgFrameRate: { num: 30, den: 1 },
    variableFrameRate: false,
  });
  return ffmpeg(
    buildLadderArgs({ kind: "ladder", input: clip, video: { streamIndex: 0, rungs, frameRate }, audioStreamIndex: 1 }),
    out,
  );
}
