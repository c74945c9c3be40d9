/**
 * Finds the ffmpeg and ffprobe executables and reports their versions.
 *
 * ffmpeg is looked up in this order: an explicit env var (FFMPEG_PATH), the system binary on PATH, then
 * the one shipped inside an npm package (`@ffmpeg-installer/ffmpeg`), so a bare machine works right after
 * `npm install`. The npm ffmpeg is a 2018 snapshot (4.1-era): the pipeline only uses what that build can do,
 * and the tests run it with both.
 *
 * ffprobe is looked up in this order: FFPROBE_PATH, the explicit ffmpeg's sibling `ffprobe` (a custom build
 * usually ships both), then the npm-shipped build (`@ffprobe-installer/ffprobe`), then PATH. The npm one comes
 * before the system's on purpose: it is the ffprobe production runs (transcoder/Dockerfile), a 2023 build (newer
 * than Debian 12's 5.1), and it is statically linked. A probe is a short run on the critical path of every
 * upload, so its process start counts: Debian's ffprobe loads 215 shared libraries and took 138 ms per
 * `-version` on the 2-core dev box (20 runs), the static one 20 ms; the whole streamed index probe took 270–340
 * ms against 90–110 ms, and `bench:ready` went from a 1,374 to a 1,063 ms median (README, "Time to
 * playable"). ffmpeg keeps PATH first: what it encodes with (codecs, x264, hardware) is the operator's choice.
 *
 * The same holds for the fast path's remux, a stream copy that encodes nothing: it runs the npm ffmpeg (`copier`)
 * when one is installed, unless FFMPEG_PATH names an ffmpeg, which then does everything. On the same box Debian's
 * ffmpeg spent 0.25 core-s per remux of the bench clip, mostly loading its libraries, and the static one 0.07
 * (`npm run bench:scale`).
 */
import { execFile } from "node:child_process";
import { constants } from "node:fs";
import { access } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { BinaryNotFoundError } from "./errors.js";
import { binaryEnv } from "./static-env.js";

const execFileAsync = promisify(execFile);

/** Where a binary came from: its env var, the system PATH, or an npm package. */
export type BinarySource = "env" | "system" | "npm";

export interface FfmpegVersion {
  /** The token after "ffmpeg version", e.g. "5.1.9-0+deb12u1" or "N-47683-g0e8eb07980-static". */
  raw: string;
  /** Parsed when the build carries a release number; snapshot builds ("N-…") have none. */
  major?: number;
  minor?: number;
}

export interface FoundBinary {
  path: string;
  source: BinarySource;
  /** The npm package, when source is "npm". */
  package?: string;
}

export interface Binaries {
  ffmpeg: string;
  ffmpegSource: BinarySource;
  /** The ffmpeg for stream copies (the fast path's remux): the npm build when present, unless FFMPEG_PATH is set. */
  copier: string;
  copierSource: BinarySource;
  ffprobe: string;
  ffprobeSource: BinarySource;
  version: FfmpegVersion;
  ffprobeVersion: FfmpegVersion;
}

type Env = Record<string, string | undefined>;

const NPM_PACKAGES = { ffmpeg: "@ffmpeg-installer/ffmpeg", ffprobe: "@ffprobe-installer/ffprobe" } as const;
const ENV_VARS = { ffmpeg: "FFMPEG_PATH", ffprobe: "FFPROBE_PATH" } as const;

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

/**
 * The binary inside an installer package. Imported by a computed name so a platform the package does not
 * cover (it throws at import) is a miss, not a crash.
 */
async function fromNpm(pkg: string): Promise<string | undefined> {
  try {
    const mod: { default?: { path?: unknown }; path?: unknown } = await import(pkg);
    const p = (mod.default ?? mod).path;
    return typeof p === "string" && (await isExecutable(p)) ? p : undefined;
  } catch {
    return undefined;
  }
}

async function find(
  name: "ffmpeg" | "ffprobe",
  env: Env,
  options: { sibling?: string; npmFirst?: boolean } = {},
): Promise<FoundBinary> {
  const { sibling, npmFirst = false } = options;
  const explicit = env[ENV_VARS[name]];
  if (explicit) {
    // An explicit setting that is wrong should fail loudly, not silently fall back to another build.
    if (!(await isExecutable(explicit))) {
      throw new BinaryNotFoundError(`${ENV_VARS[name]}=${explicit} is not an executable file`);
    }
    return { path: explicit, source: "env" };
  }
  if (sibling && (await isExecutable(sibling))) return { path: sibling, source: "env" };
  const npm = async (): Promise<FoundBinary | undefined> => {
    const shipped = await fromNpm(NPM_PACKAGES[name]);
    return shipped ? { path: shipped, source: "npm", package: NPM_PACKAGES[name] } : undefined;
  };
  const system = async (): Promise<FoundBinary | undefined> => {
    const onPath = await whichOnPath(name, env);
    return onPath ? { path: onPath, source: "system" } : undefined;
  };
  const found = npmFirst ? ((await npm()) ?? (await system())) : ((await system()) ?? (await npm()));
  if (found) return found;
  throw new BinaryNotFoundError(
    `${name} not found: set ${ENV_VARS[name]}, put ${name} on PATH, or run npm install (${NPM_PACKAGES[name]})`,
  );
}

export function findFfmpeg(env: Env = process.env): Promise<FoundBinary> {
  return find("ffmpeg", env);
}

/** The ffmpeg for stream copies: FFMPEG_PATH's when set, else the npm build, else the ffmpeg `findFfmpeg` finds. */
export async function findCopier(env: Env = process.env): Promise<FoundBinary> {
  if (env.FFMPEG_PATH) return findFfmpeg(env);
  const shipped = await fromNpm(NPM_PACKAGES.ffmpeg);
  return shipped ? { path: shipped, source: "npm", package: NPM_PACKAGES.ffmpeg } : findFfmpeg(env);
}

export function findFfprobe(env: Env = process.env): Promise<FoundBinary> {
  const sibling = env.FFMPEG_PATH ? path.join(path.dirname(env.FFMPEG_PATH), "ffprobe") : undefined;
  return find("ffprobe", env, { sibling, npmFirst: true });
}

export function parseFfmpegVersion(banner: string): FfmpegVersion {
  const raw = /^\S+ version (\S+)/m.exec(banner)?.[1] ?? "unknown";
  const release = /^n?(\d+)\.(\d+)/.exec(raw);
  return release ? { raw, major: Number(release[1]), minor: Number(release[2]) } : { raw };
}

/** `-version` of ffmpeg or ffprobe (both print "<name> version <v>"). */
export async function ffmpegVersion(binary: string): Promise<FfmpegVersion> {
  try {
    const { stdout } = await execFileAsync(binary, ["-hide_banner", "-version"], {
      timeout: 30_000,
      env: binaryEnv(binary),
    });
    return parseFfmpegVersion(stdout);
  } catch (err) {
    throw new BinaryNotFoundError(`${binary} -version failed`, { cause: err });
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
    const [ffmpeg, ffprobe, copier] = await Promise.all([findFfmpeg(env), findFfprobe(env), findCopier(env)]);
    const [version, ffprobeVersion] = await Promise.all([ffmpegVersion(ffmpeg.path), ffmpegVersion(ffprobe.path)]);
    return {
      ffmpeg: ffmpeg.path,
      ffmpegSource: ffmpeg.source,
      copier: copier.path,
      copierSource: copier.source,
      ffprobe: ffprobe.path,
      ffprobeSource: ffprobe.source,
      version,
      ffprobeVersion,
    };
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
