/**
 * ffprobe → typed facts about a media file. Pure parsing (`parseProbeOutput`) is separate from
 * running ffprobe so the rules can be tested on canned JSON.
 *
 * Failures that are the input's fault become `InputError`s:
 *   input_unreadable   ffprobe cannot open it (zero bytes, truncated MP4 without moov, a PDF)
 *   input_no_media     it opens but has neither a video nor an audio stream
 *   input_unsupported  it has media we will not process (still images, unknown codecs)
 */
import { stat } from "node:fs/promises";
import { getBinaries } from "./binaries.js";
import { FfmpegError, InputError } from "./errors.js";
import { runProcess } from "./process.js";

export interface Rational {
  num: number;
  den: number;
}

export interface VideoFacts {
  /** Absolute stream index in the file (for `-map 0:N`). */
  index: number;
  codec: string;
  profile?: string;
  /** ffprobe's level (e.g. 31 for H.264 level 3.1). */
  level?: number;
  pixFmt?: string;
  bitDepth?: number;
  /** Coded picture size as stored. */
  width: number;
  height: number;
  /** Size as displayed: sample aspect ratio applied, then rotation. */
  displayWidth: number;
  displayHeight: number;
  /** Degrees clockwise, normalized to 0, 90, 180 or 270. */
  rotation: number;
  rFrameRate?: Rational;
  avgFrameRate?: Rational;
  /** Best single number for the frame rate (avg, else r). */
  frameRate?: number;
  variableFrameRate: boolean;
  interlaced: boolean;
  bitrate?: number;
  duration?: number;
  /** Longest gap between keyframes seen in the first seconds, when measured (see probeKeyframeInterval). */
  keyframeInterval?: number;
}

export interface AudioFacts {
  index: number;
  codec: string;
  profile?: string;
  channels: number;
  sampleRate: number;
  bitrate?: number;
  language?: string;
  duration?: number;
}

export interface MediaFacts {
  /** Canonical container name: mp4, mov, mkv, webm, ts, or ffprobe's first format name. */
  container: string;
  /** ffprobe's format_name, e.g. "mov,mp4,m4a,3gp,3g2,mj2". */
  formatName: string;
  sizeBytes: number;
  duration: number;
  bitrate?: number;
  video?: VideoFacts;
  audio?: AudioFacts;
}

/** Demuxers that read a single picture: a still image is not a video we can stream. */
const IMAGE_FORMAT_RE = /(^|,)(image2|[a-z0-9]+_pipe|gif_pipe|webp_pipe|apng)(,|$)/;
const STILL_IMAGE_CODECS = new Set([
  "png",
  "mjpeg",
  "bmp",
  "tiff",
  "webp",
  "jpeg2000",
  "jpegls",
  "pam",
  "ppm",
  "pgm",
  "pbm",
  "qoi",
  "jpegxl",
]);
const UNKNOWN_CODECS = new Set(["", "none", "unknown"]);

export function parseRational(value: unknown): Rational | undefined {
  if (typeof value !== "string") return undefined;
  const m = /^(\d+)(?:[/:](\d+))?$/.exec(value.trim());
  if (!m) return undefined;
  const num = Number(m[1]);
  const den = m[2] === undefined ? 1 : Number(m[2]);
  if (!num || !den) return undefined;
  return { num, den };
}

function toNumber(value: unknown): number | undefined {
  if (value === undefined || value === null || value === "N/A") return undefined;
  const n = typeof value === "number" ? value : Number(value);
  return Number.isFinite(n) ? n : undefined;
}

function toInt(value: unknown): number | undefined {
  const n = toNumber(value);
  return n === undefined ? undefined : Math.round(n);
}

function rate(r: Rational | undefined): number | undefined {
  return r ? r.num / r.den : undefined;
}

/** A frame rate ffprobe reports that we believe (some demuxers report timebase-ish nonsense like 90000/1). */
function plausibleRate(r: Rational | undefined): Rational | undefined {
  const v = rate(r);
  return v !== undefined && v >= 0.5 && v <= 300 ? r : undefined;
}

function canonicalContainer(formatName: string, majorBrand: string | undefined, codecs: string[]): string {
  const names = formatName.split(",");
  if (names.includes("mp4") || names.includes("mov")) {
    return majorBrand?.trim() === "qt" ? "mov" : "mp4";
  }
  if (names.includes("matroska") || names.includes("webm")) {
    const webmOnly = codecs.length > 0 && codecs.every((c) => ["vp8", "vp9", "av1", "opus", "vorbis"].includes(c));
    return webmOnly ? "webm" : "mkv";
  }
  if (names.includes("mpegts")) return "ts";
  return names[0] ?? "unknown";
}

/** Rotation in degrees clockwise from the display matrix side data (ffmpeg ≥ 5) or the rotate tag (4.x). */
function streamRotation(stream: Record<string, unknown>): number {
  let degrees = 0;
  const sideData = stream.side_data_list;
  if (Array.isArray(sideData)) {
    for (const entry of sideData) {
      const r = toNumber((entry as Record<string, unknown>)?.rotation);
      // ffprobe's display-matrix rotation is counter-clockwise.
      if (r !== undefined) degrees = -r;
    }
  }
  const tags = (stream.tags ?? {}) as Record<string, unknown>;
  const tag = toNumber(tags.rotate);
  if (!degrees && tag !== undefined) degrees = tag;
  return (((Math.round(degrees / 90) * 90) % 360) + 360) % 360;
}

function bitDepthOf(pixFmt: string | undefined, bitsPerRawSample: unknown): number | undefined {
  const raw = toInt(bitsPerRawSample);
  if (raw) return raw;
  if (!pixFmt) return undefined;
  const m = /p(\d+)(le|be)?$/.exec(pixFmt);
  return m ? Number(m[1]) : 8;
}

function isAttachedPicture(stream: Record<string, unknown>): boolean {
  const disposition = (stream.disposition ?? {}) as Record<string, unknown>;
  return disposition.attached_pic === 1 || disposition.timed_thumbnails === 1;
}

/** Picks the default-flagged stream of a type, else the first. */
function pick(streams: Record<string, unknown>[]): Record<string, unknown> | undefined {
  return streams.find((s) => ((s.disposition ?? {}) as Record<string, unknown>).default === 1) ?? streams[0];
}

/**
 * Turns `ffprobe -show_format -show_streams -print_format json` output into facts, throwing the
 * input errors that can be decided from it.
 */
export function parseProbeOutput(json: unknown, sizeBytes: number): MediaFacts {
  const root = (json ?? {}) as { format?: Record<string, unknown>; streams?: Record<string, unknown>[] };
  const format = root.format;
  const streams = Array.isArray(root.streams) ? root.streams : [];
  if (!format) throw new InputError("input_unreadable", "ffprobe found no container format");
  const formatName = String(format.format_name ?? "unknown");

  const videoStreams = streams.filter((s) => s.codec_type === "video" && !isAttachedPicture(s));
  const audioStreams = streams.filter((s) => s.codec_type === "audio");
  if (videoStreams.length === 0 && audioStreams.length === 0) {
    if (streams.some((s) => s.codec_type === "video")) {
      throw new InputError("input_unsupported", "the only picture is embedded cover art and there is no audio");
    }
    const kinds = [...new Set(streams.map((s) => String(s.codec_type ?? "unknown")))];
    throw new InputError(
      "input_no_media",
      kinds.length ? `no audio or video stream (found: ${kinds.join(", ")})` : "no audio or video stream",
    );
  }

  const v = pick(videoStreams);
  const a = pick(audioStreams);
  const formatDuration = toNumber(format.duration);
  const streamDurations = [v, a].map((s) => toNumber(s?.duration)).filter((d): d is number => d !== undefined);
  const duration = formatDuration ?? (streamDurations.length ? Math.max(...streamDurations) : 0);

  let video: VideoFacts | undefined;
  if (v) {
    const codec = String(v.codec_name ?? "");
    if (UNKNOWN_CODECS.has(codec)) throw new InputError("input_unsupported", "the video codec is not recognized");
    const frames = toInt(v.nb_frames);
    const videoDuration = toNumber(v.duration) ?? formatDuration;
    const stillImage =
      IMAGE_FORMAT_RE.test(formatName) ||
      (STILL_IMAGE_CODECS.has(codec) &&
        (frames === 1 || (frames === undefined && !(videoDuration && videoDuration > 0.1))));
    if (stillImage) throw new InputError("input_unsupported", `a still image (${codec}) is not a video`);
    const width = toInt(v.width) ?? 0;
    const height = toInt(v.height) ?? 0;
    if (width <= 0 || height <= 0) throw new InputError("input_unreadable", "the video stream has no picture size");

    const sar = parseRational(v.sample_aspect_ratio);
    const sarValue = sar && sar.num !== sar.den ? sar.num / sar.den : 1;
    // Anamorphic sources are stretched horizontally, as players do.
    let displayWidth = sarValue > 0 && sarValue !== 1 ? Math.round(width * sarValue) : width;
    let displayHeight = height;
    const rotation = streamRotation(v);
    if (rotation === 90 || rotation === 270) [displayWidth, displayHeight] = [displayHeight, displayWidth];

    const rFrameRate = plausibleRate(parseRational(v.r_frame_rate));
    const avgFrameRate = plausibleRate(parseRational(v.avg_frame_rate));
    const r = rate(rFrameRate);
    const avg = rate(avgFrameRate);
    const fieldOrder = String(v.field_order ?? "");
    const interlaced = ["tt", "bb", "tb", "bt"].includes(fieldOrder);
    // r_frame_rate is the base rate timestamps fit on; avg is frames/duration. They disagree when
    // frame durations vary. Interlaced streams legitimately report a field rate of 2× avg.
    const variableFrameRate =
      r !== undefined &&
      avg !== undefined &&
      Math.abs(r - avg) / r > 0.015 &&
      !(interlaced && Math.abs(r - 2 * avg) / r < 0.015);
    const pixFmt = typeof v.pix_fmt === "string" ? v.pix_fmt : undefined;
    video = {
      index: toInt(v.index) ?? 0,
      codec,
      profile: typeof v.profile === "string" ? v.profile : undefined,
      level: toInt(v.level),
      pixFmt,
      bitDepth: bitDepthOf(pixFmt, v.bits_per_raw_sample),
      width,
      height,
      displayWidth,
      displayHeight,
      rotation,
      rFrameRate,
      avgFrameRate,
      frameRate: avg ?? r,
      variableFrameRate,
      interlaced,
      bitrate: toInt(v.bit_rate),
      duration: toNumber(v.duration),
    };
  }

  let audio: AudioFacts | undefined;
  if (a) {
    const codec = String(a.codec_name ?? "");
    if (UNKNOWN_CODECS.has(codec)) {
      if (!video) throw new InputError("input_unsupported", "the audio codec is not recognized");
    } else {
      const tags = (a.tags ?? {}) as Record<string, unknown>;
      const language = typeof tags.language === "string" && tags.language !== "und" ? tags.language : undefined;
      audio = {
        index: toInt(a.index) ?? 0,
        codec,
        profile: typeof a.profile === "string" ? a.profile : undefined,
        channels: toInt(a.channels) ?? 2,
        sampleRate: toInt(a.sample_rate) ?? 48_000,
        bitrate: toInt(a.bit_rate),
        language,
        duration: toNumber(a.duration),
      };
    }
  }

  const tags = (format.tags ?? {}) as Record<string, unknown>;
  const majorBrand = typeof tags.major_brand === "string" ? tags.major_brand : undefined;
  const codecs = [video?.codec, audio?.codec].filter((c): c is string => !!c);
  return {
    container: canonicalContainer(formatName, majorBrand, codecs),
    formatName,
    sizeBytes,
    duration,
    bitrate: toInt(format.bit_rate),
    video,
    audio,
  };
}

export interface ProbeOptions {
  signal?: AbortSignal;
  ffprobePath?: string;
  /** Also measure the keyframe interval of the video (one more cheap ffprobe pass over packets). */
  keyframes?: boolean;
}

async function ffprobeJson(input: string, args: string[], options: ProbeOptions): Promise<unknown> {
  const binary = options.ffprobePath ?? (await getBinaries()).ffprobe;
  const { stdout } = await runProcess(binary, ["-v", "error", "-print_format", "json", ...args, input], {
    signal: options.signal,
    collectStdout: true,
    timeoutMs: 120_000,
  });
  return JSON.parse(stdout);
}

/**
 * The longest gap between video keyframes over the first `windowSeconds`, read from packet flags
 * without decoding. Returns the window length when fewer than two keyframes appear in it.
 */
export async function probeKeyframeInterval(
  input: string,
  streamIndex: number,
  options: ProbeOptions & { windowSeconds?: number } = {},
): Promise<number | undefined> {
  const windowSeconds = options.windowSeconds ?? 30;
  const json = (await ffprobeJson(
    input,
    [
      "-select_streams",
      String(streamIndex),
      "-show_entries",
      "packet=pts_time,dts_time,flags",
      "-read_intervals",
      `%+${windowSeconds}`,
    ],
    options,
  )) as { packets?: { pts_time?: string; dts_time?: string; flags?: string }[] };
  const packets = json.packets ?? [];
  const times = packets
    .map((p) => toNumber(p.pts_time) ?? toNumber(p.dts_time))
    .filter((t): t is number => t !== undefined);
  if (times.length === 0) return undefined;
  const keyTimes = packets
    .filter((p) => p.flags?.startsWith("K"))
    .map((p) => toNumber(p.pts_time) ?? toNumber(p.dts_time))
    .filter((t): t is number => t !== undefined)
    .sort((x, y) => x - y);
  const span = Math.max(...times) - Math.min(...times);
  if (keyTimes.length < 2) return span;
  let longest = 0;
  for (let i = 1; i < keyTimes.length; i++) longest = Math.max(longest, keyTimes[i] - keyTimes[i - 1]);
  // A stream whose last keyframe is long before the end of the window has at least that gap.
  return Math.max(longest, Math.max(...times) - keyTimes[keyTimes.length - 1]);
}

/** Probes a local file. Throws InputError for inputs we cannot use, FfmpegError/BinaryNotFoundError otherwise. */
export async function probe(input: string, options: ProbeOptions = {}): Promise<MediaFacts> {
  const { size } = await stat(input);
  if (size === 0) throw new InputError("input_unreadable", "the file is empty (0 bytes)");
  let json: unknown;
  try {
    json = await ffprobeJson(input, ["-show_format", "-show_streams"], options);
  } catch (err) {
    if (err instanceof FfmpegError && err.exitCode !== null && err.exitCode !== 0 && !err.signal) {
      const reason = err.details.stderr.split("\n").filter(Boolean).pop()?.replace(`${input}: `, "") ?? "";
      throw new InputError("input_unreadable", `not a readable media file${reason ? `: ${reason}` : ""}`, {
        cause: err,
      });
    }
    throw err;
  }
  const facts = parseProbeOutput(json, size);
  if (options.keyframes && facts.video) {
    facts.video.keyframeInterval = await probeKeyframeInterval(input, facts.video.index, options);
  }
  return facts;
}

/** Probes the first part of an HLS fMP4 rendition (init + first segment) through the concat protocol. */
export async function probeFiles(cwd: string, files: string[], options: ProbeOptions = {}): Promise<MediaFacts> {
  const binary = options.ffprobePath ?? (await getBinaries()).ffprobe;
  const { stdout } = await runProcess(
    binary,
    ["-v", "error", "-print_format", "json", "-show_format", "-show_streams", `concat:${files.join("|")}`],
    { cwd, signal: options.signal, collectStdout: true, timeoutMs: 60_000 },
  );
  let size = 0;
  for (const f of files) size += (await stat(`${cwd}/${f}`)).size;
  return parseProbeOutput(JSON.parse(stdout), size);
}
