/**
 * Spawns ffmpeg/ffprobe with argument arrays (never a shell), keeps the tail of stderr for error
 * reports, kills the process when the caller aborts, and turns `-progress` output into callbacks.
 */
import { spawn } from "node:child_process";
import os from "node:os";
import type { Readable } from "node:stream";
import { getBinaries } from "./binaries.js";
import { FfmpegError } from "./errors.js";
import { createProgressParser, type FfmpegProgress } from "./progress.js";
import { binaryEnv } from "./static-env.js";

const STDERR_TAIL_BYTES = 16 * 1024;

export interface RunProcessOptions {
  cwd?: string;
  signal?: AbortSignal;
  /** Keep stdout and return it (ffprobe JSON); otherwise stdout is only streamed to onStdout. */
  collectStdout?: boolean;
  onStdout?: (chunk: Buffer) => void;
  /** Kill the process when it has printed nothing on stdout for this long. */
  stallTimeoutMs?: number;
  /** Kill the process after this long in total. */
  timeoutMs?: number;
  /**
   * Raise the process's nice value (lower its CPU priority) to this, e.g. 10 for work that may run
   * beside more urgent work. Lowering priority needs no privilege; failures are ignored.
   */
  niceness?: number;
  /** Piped into the process's stdin (an input read as `pipe:0`); otherwise stdin is closed. */
  stdin?: Readable;
  /** Called with the pid once the process runs (to change its priority later); the returned function is called when it exits. */
  onSpawn?: (pid: number) => (() => void) | undefined;
}

export interface ProcessResult {
  stdout: string;
  stderr: string;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The operation was aborted", "AbortError");
}

export function runProcess(
  binary: string,
  args: readonly string[],
  options: RunProcessOptions = {},
): Promise<ProcessResult> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, {
      cwd: options.cwd,
      env: binaryEnv(binary),
      stdio: [options.stdin ? "pipe" : "ignore", "pipe", "pipe"],
    });
    const onExit = child.pid !== undefined ? options.onSpawn?.(child.pid) : undefined;
    if (onExit) child.once("close", onExit);
    if (options.niceness && child.pid !== undefined) {
      try {
        os.setPriority(child.pid, options.niceness);
      } catch {
        // Not allowed or already gone: it runs at normal priority, which is only slower for others.
      }
    }
    const stdoutChunks: Buffer[] = [];
    let stderr = "";
    let killedFor: string | undefined;
    let settled = false;
    let stallTimer: NodeJS.Timeout | undefined;
    let totalTimer: NodeJS.Timeout | undefined;

    const kill = (why: string) => {
      if (killedFor) return;
      killedFor = why;
      child.kill("SIGKILL");
    };
    const armStall = () => {
      if (!options.stallTimeoutMs) return;
      clearTimeout(stallTimer);
      stallTimer = setTimeout(() => kill(`no output for ${options.stallTimeoutMs} ms`), options.stallTimeoutMs);
    };
    if (options.stdin && child.stdin) {
      // A process that stops reading early (it failed, or was killed) closes the pipe: that is its exit
      // status to report, not an EPIPE to crash on.
      child.stdin.on("error", () => undefined);
      // An input that fails (its download failed, the job was cancelled) ends the process with that reason.
      // pipe() does not forward a source's error: unheard, it was an uncaught 'error' event that ended the
      // transcoder, and every job on it, when an asset was deleted during its fast path.
      options.stdin.on("error", (err: Error) => kill(signal?.aborted ? "aborted" : `its input failed: ${err.message}`));
      options.stdin.pipe(child.stdin);
    }
    const onAbort = () => kill("aborted");
    signal?.addEventListener("abort", onAbort, { once: true });
    if (options.timeoutMs)
      totalTimer = setTimeout(() => kill(`timed out after ${options.timeoutMs} ms`), options.timeoutMs);
    armStall();

    child.stdout?.on("data", (chunk: Buffer) => {
      armStall();
      if (options.collectStdout) stdoutChunks.push(chunk);
      options.onStdout?.(chunk);
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.length > STDERR_TAIL_BYTES * 2) stderr = stderr.slice(-STDERR_TAIL_BYTES);
    });

    const finish = (err: unknown, result?: ProcessResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(stallTimer);
      clearTimeout(totalTimer);
      signal?.removeEventListener("abort", onAbort);
      if (err) reject(err);
      else resolve(result as ProcessResult);
    };

    child.on("error", (err) => {
      // ENOENT/EACCES: the binary itself is missing, which is an installation problem.
      finish(
        new FfmpegError(`${binary} could not be started: ${err.message}`, {
          binary,
          args,
          exitCode: null,
          signal: null,
          stderr: "",
        }),
      );
    });
    child.on("close", (exitCode, exitSignal) => {
      // A process that is done before the end of its input (ffmpeg stops after an MP4's last sample) leaves
      // that input paused, and whatever feeds it open: a GrowingFile reader held its file handle until garbage
      // collection, one per streamed job. Ending it runs the reader's cleanup now.
      options.stdin?.destroy();
      const tail = stderr.slice(-STDERR_TAIL_BYTES).trim();
      if (killedFor === "aborted" && signal) return finish(abortReason(signal));
      if (exitCode === 0 && !killedFor) {
        return finish(null, { stdout: Buffer.concat(stdoutChunks).toString(), stderr: tail });
      }
      const lastLine = tail.split("\n").filter(Boolean).pop() ?? "";
      const why = killedFor ?? (exitSignal ? `killed by ${exitSignal}` : `exit code ${exitCode}`);
      finish(
        new FfmpegError(`${binary.split("/").pop()} failed (${why})${lastLine ? `: ${lastLine}` : ""}`, {
          binary,
          args,
          exitCode,
          signal: exitSignal,
          stderr: tail,
        }),
      );
    });
  });
}

export interface RunFfmpegOptions {
  cwd?: string;
  signal?: AbortSignal;
  /** Source duration, to turn out_time into a percent. */
  durationSeconds?: number;
  onProgress?: (progress: FfmpegProgress) => void;
  /** Override the discovered binary (tests, or a caller that resolved it already). */
  ffmpegPath?: string;
  stallTimeoutMs?: number;
  /** See RunProcessOptions.niceness. */
  niceness?: number;
  /** See RunProcessOptions.stdin. */
  stdin?: Readable;
  /** See RunProcessOptions.onSpawn. */
  onSpawn?: RunProcessOptions["onSpawn"];
}

/** Options every invocation gets: quiet stderr except errors, never read stdin, overwrite outputs. */
const COMMON_ARGS = ["-hide_banner", "-nostdin", "-y", "-loglevel", "error"];

export async function runFfmpeg(args: readonly string[], options: RunFfmpegOptions = {}): Promise<ProcessResult> {
  const binary = options.ffmpegPath ?? (await getBinaries()).ffmpeg;
  const progressArgs = options.onProgress ? ["-progress", "pipe:1", "-nostats"] : [];
  const parse = options.onProgress ? createProgressParser(options.durationSeconds, options.onProgress) : undefined;
  return runProcess(binary, [...COMMON_ARGS, ...progressArgs, ...args], {
    cwd: options.cwd,
    signal: options.signal,
    niceness: options.niceness,
    stdin: options.stdin,
    onSpawn: options.onSpawn,
    onStdout: parse,
    // ffmpeg prints a progress block about twice a second; minutes of silence means it is stuck.
    stallTimeoutMs: options.onProgress ? (options.stallTimeoutMs ?? 5 * 60_000) : undefined,
  });
}
