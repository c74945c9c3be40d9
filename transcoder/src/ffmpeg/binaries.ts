/**
 * Finds the ffmpeg and ffprobe executables and reports the ffmpeg version.
 *
 * ffmpeg: FFMPEG_PATH, then the optional `ffmpeg-static` package, then `ffmpeg` on PATH, then the
 * `@ffmpeg-installer/ffmpeg` binary (an old 4.x build kept as the last resort).
 * ffprobe: FFPROBE_PATH, then an `ffprobe` next to the chosen ffmpeg, then PATH. There is no
 * ffmpeg-based probing fallback: without ffprobe the transcoder refuses to start jobs.
 */
import { execFile } from "node:child_process";
import { constants } from "node:fs";
import { access } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { BinaryNotFoundError } from "./errors.js";

const execFileAsync = promisify(execFile);

export type FfmpegSource = "FFMPEG_PATH" | "ffmpeg-static" | "PATH" | "@ffmpeg-installer/ffmpeg";

export interface FfmpegVersion {
  /** The token after "ffmpeg version", e.g. "5.1.9-0+deb12u1" or "N-47683-g0e8eb07980-static". */
  raw: string;
  /** Parsed when the build carries a release number; snapshot builds ("N-…") have none. */
  major?: number;
  minor?: number;
}

export interface Binaries {
  ffmpeg: string;
  ffmpegSource: FfmpegSource;
  ffprobe: string;
  version: FfmpegVersion;
}

type Env = Record<string, string | undefined>;

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function whichOnPath(name: string, env: Env): Promise<string | undefined> {
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** Optional packages are imported by a computed name so a missing one is a runtime miss, not a type error. */
async function importOptional(name: string): Promise<unknown> {
  try {
    const mod: { default?: unknown } = await import(name);
    return mod.default ?? mod;
  } catch {
    return undefined;
  }
}

export async function findFfmpeg(env: Env = process.env): Promise<{ path: string; source: FfmpegSource }> {
  if (env.FFMPEG_PATH) {
    // An explicit setting that is wrong should fail loudly, not silently fall back to another build.
    if (!(await isExecutable(env.FFMPEG_PATH))) {
      throw new BinaryNotFoundError(`FFMPEG_PATH=${env.FFMPEG_PATH} is not an executable file`);
    }
    return { path: env.FFMPEG_PATH, source: "FFMPEG_PATH" };
  }
  const staticPath = await importOptional("ffmpeg-static");
  if (typeof staticPath === "string" && (await isExecutable(staticPath))) {
    return { path: staticPath, source: "ffmpeg-static" };
  }
  const onPath = await whichOnPath("ffmpeg", env);
  if (onPath) return { path: onPath, source: "PATH" };
  const installer = (await importOptional("@ffmpeg-installer/ffmpeg")) as { path?: unknown } | undefined;
  if (installer && typeof installer.path === "string" && (await isExecutable(installer.path))) {
    return { path: installer.path, source: "@ffmpeg-installer/ffmpeg" };
  }
  throw new BinaryNotFoundError("ffmpeg not found: set FFMPEG_PATH, install ffmpeg-static, or put ffmpeg on PATH");
}

export async function findFfprobe(ffmpegPath: string | undefined, env: Env = process.env): Promise<string> {
  if (env.FFPROBE_PATH) {
    if (!(await isExecutable(env.FFPROBE_PATH))) {
      throw new BinaryNotFoundError(`FFPROBE_PATH=${env.FFPROBE_PATH} is not an executable file`);
    }
    return env.FFPROBE_PATH;
  }
  if (ffmpegPath) {
    const sibling = path.join(path.dirname(ffmpegPath), "ffprobe");
    if (await isExecutable(sibling)) return sibling;
  }
  const onPath = await whichOnPath("ffprobe", env);
  if (onPath) return onPath;
  throw new BinaryNotFoundError(
    "ffprobe not found: set FFPROBE_PATH or put ffprobe on PATH (ffmpeg-static and @ffmpeg-installer do not ship it)",
  );
}

export function parseFfmpegVersion(banner: string): FfmpegVersion {
  const raw = /^\S+ version (\S+)/m.exec(banner)?.[1] ?? "unknown";
  const release = /^n?(\d+)\.(\d+)/.exec(raw);
  return release ? { raw, major: Number(release[1]), minor: Number(release[2]) } : { raw };
}

export async function ffmpegVersion(ffmpegPath: string): Promise<FfmpegVersion> {
  try {
    const { stdout } = await execFileAsync(ffmpegPath, ["-hide_banner", "-version"], { timeout: 10_000 });
    return parseFfmpegVersion(stdout);
  } catch (err) {
    throw new BinaryNotFoundError(`${ffmpegPath} -version failed`, { cause: err });
  }
}

let cached: { key: string; value: Promise<Binaries> } | undefined;

/**
 * Resolves both binaries once per distinct environment (FFMPEG_PATH/FFPROBE_PATH/PATH), so a
 * process that changes them (tests) gets a fresh lookup and everyone else pays the cost once.
 */
export function getBinaries(env: Env = process.env): Promise<Binaries> {
  const key = [env.FFMPEG_PATH, env.FFPROBE_PATH, env.PATH].join("\0");
  if (cached?.key === key) return cached.value;
  const value = (async () => {
    const ffmpeg = await findFfmpeg(env);
    const [ffprobe, version] = await Promise.all([findFfprobe(ffmpeg.path, env), ffmpegVersion(ffmpeg.path)]);
    return { ffmpeg: ffmpeg.path, ffmpegSource: ffmpeg.source, ffprobe, version };
  })();
  // Do not cache a failure: an operator may install ffmpeg while the server runs.
  value.catch(() => {
    if (cached?.value === value) cached = undefined;
  });
  cached = { key, value };
  return value;
}

export function resetBinariesCache(): void {
  cached = undefined;
}
