/**
 * ffprobe → typed facts about a media file. Pure parsing (`parseProbeOutput`) is separate from
 * running ffprobe so the rules can be tested on canned JSON.
 *
 * Failures that are the input's fault become `InputError`s:
 *   input_unreadable   ffprobe cannot open it (zero bytes, truncated MP4 without moov, a PDF), or
 *                      its index declares more media than the file holds (a truncated faststart MP4)
 *   input_no_media     it opens but has neither a video nor an audio stream
 *   input_unsupported  it has media we will not process (still images, unknown codecs)
 */
import { stat } from "node:fs/promises";
import { getBinaries } from "./binaries.js";
import { FfmpegError, InputError } from "./errors.js";
import { FORMAT_NOT_ALLOWED_RE, inputPolicyArgs } from "./input-policy.js";
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
  /** The H.264/MPEG-2 stream carries CEA-608/708 captions in its SEI/user data (ffprobe's `closed_captions`). */
  closedCaptions?: boolean;
}

export interface AudioFacts {
  index: number;
  codec: string;
  profile?: string;
  channels: number;
  sampleRate: number;
  bitrate?: number;
  language?: string;
  /** The stream's `title` tag ("Director's commentary"), when the source names it. */
  title?: string;
  /** The stream's default disposition. */
  isDefault?: boolean;
  duration?: number;
}

export interface MediaFacts {
  /** Canonical container name: mp4, mov, mkv, webm, ts, or ffprobe's first format name. */
  container: string;
  /** ffprobe's format_name, e.g. "mov,mp4,m4a,3gp,3g2,mj2". */
  formatName: string;
  sizeBytes: number;
  duration: number;
  /** The container's start time (format start_time), when ffprobe knows it. */
  startTime?: number;
  bitrate?: number;
  video?: VideoFacts;
  /** The main audio stream (default disposition, else the first): the one the fast path and downloads carry. */
  audio?: AudioFacts;
  /**
   * Every decodable audio stream in file order, `audio` among them; each becomes an entry of the HLS audio
   * group. Absent or one entry for a single-audio source.
   */
  audioStreams?: AudioFacts[];
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
      closedCaptions: v.closed_captions === 1,
    };
  }

  let audio: AudioFacts | undefined;
  if (a) {
    const codec = String(a.codec_name ?? "");
    if (UNKNOWN_CODECS.has(codec)) {
      if (!video) throw new InputError("input_unsupported", "the audio codec is not recognized");
    } else audio = audioFactsOf(a);
  }
  // The other audio streams are extra renditions; one we cannot decode is left out rather than failing the job.
  const audioFacts = audio
    ? audioStreams
        .filter((s) => !UNKNOWN_CODECS.has(String(s.codec_name ?? "")))
        .map((s) => (s === a ? audio : audioFactsOf(s)))
    : [];

  const tags = (format.tags ?? {}) as Record<string, unknown>;
  const majorBrand = typeof tags.major_brand === "string" ? tags.major_brand : undefined;
  const codecs = [video?.codec, audio?.codec].filter((c): c is string => !!c);
  return {
    container: canonicalContainer(formatName, majorBrand, codecs),
    formatName,
    sizeBytes,
    duration,
    startTime: toNumber(format.start_time),
    bitrate: toInt(format.bit_rate),
    video,
    audio,
    ...(audioFacts.length > 1 ? { audioStreams: audioFacts } : {}),
  };
}

function audioFactsOf(a: Record<string, unknown>): AudioFacts {
  const tags = (a.tags ?? {}) as Record<string, unknown>;
  const language = typeof tags.language === "string" && tags.language !== "und" ? tags.language : undefined;
  const title = typeof tags.title === "string" && tags.title.trim() ? tags.title.trim().slice(0, 100) : undefined;
  const disposition = (a.disposition ?? {}) as Record<string, unknown>;
  return {
    index: toInt(a.index) ?? 0,
    codec: String(a.codec_name ?? ""),
    profile: typeof a.profile === "string" ? a.profile : undefined,
    channels: toInt(a.channels) ?? 2,
    sampleRate: toInt(a.sample_rate) ?? 48_000,
    bitrate: toInt(a.bit_rate),
    language,
    title,
    isDefault: disposition.default === 1,
    duration: toNumber(a.duration),
  };
}

export interface ProbeOptions {
  signal?: AbortSignal;
  ffprobePath?: string;
  /** Also measure the keyframe interval of the video (one more cheap ffprobe pass over packets). */
  keyframes?: boolean;
  /** Check that the media the container declares is present (default true; same packet pass). */
  integrity?: boolean;
  /**
   * Read packet times and flags from the container's index alone, never from the packets' bytes (for
   * a stand-in file that holds only the index and the first media, ./mp4-index.ts).
   */
  indexOnly?: boolean;
}

/** ffprobe input options that keep packet flags as the index has them instead of re-parsing the data. */
export const INDEX_ONLY_ARGS = ["-fflags", "+nofillin+noparse"];

async function ffprobeJson(input: string, args: string[], options: ProbeOptions): Promise<unknown> {
  const binary = options.ffprobePath ?? (await getBinaries()).ffprobe;
  const { stdout } = await runProcess(
    binary,
    ["-v", "error", "-print_format", "json", ...args, ...inputPolicyArgs(input), input],
    {
      signal: options.signal,
      collectStdout: true,
      timeoutMs: 120_000,
    },
  );
  return JSON.parse(stdout);
}

/** Containers whose header declares the duration (a sample table or a Duration element), so a
 * file cut short still claims the full length. Others (MPEG-TS, raw streams) estimate it from the
 * data they hold, which a truncation cannot contradict. */
const DECLARED_DURATION_CONTAINERS = new Set(["mp4", "mov", "mkv", "webm"]);
/** How far before the declared end the truncation check starts reading. */
export const TAIL_SECONDS = 3;
export const KEYFRAME_WINDOW_SECONDS = 30;

export interface PacketScan {
  /** Per stream index: the latest pts + duration seen (seconds). */
  streamEnds: Map<number, number>;
  /** Video packets of the keyframe window, in read order (only when a window was asked for). */
  windowPackets: { time: number; key: boolean }[];
}

/**
 * One ffprobe pass over packet headers (no decoding), streamed line by line so a long file never
 * sits in memory. `readIntervals` is ffprobe's -read_intervals; absent reads the whole file.
 * Video packets of `windowStream` with a time below `windowEnd` are kept for the keyframe check.
 */
export async function scanPackets(
  input: string,
  scan: { readIntervals?: string; windowStream?: number; windowEnd?: number },
  options: ProbeOptions = {},
): Promise<PacketScan> {
  const result: PacketScan = { streamEnds: new Map(), windowPackets: [] };
  const entries = "stream_index,pts_time,dts_time,duration_time,flags";
  const args = [
    ...(scan.readIntervals ? ["-read_intervals", scan.readIntervals] : []),
    ...(options.indexOnly ? INDEX_ONLY_ARGS : []),
  ];
  await eachPacket(input, entries, args, options, (fields) => {
    const index = toInt(fields.get("stream_index"));
    const time = toNumber(fields.get("pts_time")) ?? toNumber(fields.get("dts_time"));
    if (index === undefined || time === undefined) return;
    const end = time + (toNumber(fields.get("duration_time")) ?? 0);
    result.streamEnds.set(index, Math.max(result.streamEnds.get(index) ?? end, end));
    if (index === scan.windowStream && (scan.windowEnd === undefined || time < scan.windowEnd)) {
      result.windowPackets.push({ time, key: (fields.get("flags") ?? "").startsWith("K") });
    }
  });
  return result;
}

/**
 * Runs ffprobe over `input`'s packet headers (no decoding) with `-show_entries packet=<entries>` and hands
 * each packet's fields to `onPacket`, streamed line by line so a long file never sits in memory.
 * `compact=p=0` prints key=value pairs separated by "|", in whatever order a given ffprobe prints them.
 */
export async function eachPacket(
  input: string,
  entries: string,
  extraArgs: readonly string[],
  options: { signal?: AbortSignal; ffprobePath?: string },
  onPacket: (fields: Map<string, string>) => void,
): Promise<void> {
  const binary = options.ffprobePath ?? (await getBinaries()).ffprobe;
  let pending = "";
  const onLine = (line: string) => {
    const fields = new Map<string, string>();
    for (const pair of line.split("|")) {
      const eq = pair.indexOf("=");
      if (eq > 0) fields.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    onPacket(fields);
  };
  await runProcess(
    binary,
    [
      "-v",
      "error",
      "-of",
      "compact=p=0",
      "-show_entries",
      `packet=${entries}`,
      ...extraArgs,
      ...inputPolicyArgs(input),
      input,
    ],
    {
      signal: options.signal,
      timeoutMs: 120_000,
      onStdout: (chunk) => {
        const lines = (pending + chunk.toString()).split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) onLine(line);
      },
    },
  );
  if (pending) onLine(pending);
}

/**
 * The longest gap between keyframes in a window of video packets. Returns the window's span when
 * fewer than two keyframes appear in it.
 */
export function keyframeIntervalOf(packets: readonly { time: number; key: boolean }[]): number | undefined {
  if (packets.length === 0) return undefined;
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const p of packets) {
    first = Math.min(first, p.time);
    last = Math.max(last, p.time);
  }
  const keyTimes = packets.filter((p) => p.key).map((p) => p.time);
  keyTimes.sort((x, y) => x - y);
  if (keyTimes.length < 2) return last - first;
  let longest = 0;
  for (let i = 1; i < keyTimes.length; i++) longest = Math.max(longest, keyTimes[i] - keyTimes[i - 1]);
  // A stream whose last keyframe is long before the end of the window has at least that gap.
  return Math.max(longest, last - keyTimes[keyTimes.length - 1]);
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
  const windowSeconds = options.windowSeconds ?? KEYFRAME_WINDOW_SECONDS;
  const scan = await scanPackets(input, { readIntervals: `%+${windowSeconds}`, windowStream: streamIndex }, options);
  return keyframeIntervalOf(scan.windowPackets);
}

/** Missing media we let pass: container durations round, and the last frame's duration is a guess. */
export function truncationTolerance(declared: number): number {
  return Math.max(0.5, Math.min(2, declared * 0.01));
}

/** How long the file says its media lasts: the audio/video tracks' own durations, else the container's. */
function declaredDuration(facts: MediaFacts): number {
  const streams = [facts.video?.duration, facts.audio?.duration].filter((d): d is number => d !== undefined && d > 0);
  return streams.length ? Math.max(...streams) : facts.duration;
}

/** Seconds of audio/video media the scan saw, measured from the container's start. */
function presentDuration(facts: MediaFacts, scan: PacketScan): number {
  let end = Number.NEGATIVE_INFINITY;
  for (const index of [facts.video?.index, facts.audio?.index]) {
    const e = index === undefined ? undefined : scan.streamEnds.get(index);
    if (e !== undefined) end = Math.max(end, e);
  }
  return Number.isFinite(end) ? Math.max(0, end - (facts.startTime ?? 0)) : 0;
}

function mediaPresent(facts: MediaFacts, scan: PacketScan): boolean {
  const declared = declaredDuration(facts);
  return presentDuration(facts, scan) >= declared - truncationTolerance(declared);
}

/**
 * The second half of `probe` (keyframe interval and integrity) from a packet index already read, e.g.
 * probeStandIn over a streamed source's stand-in (./mp4-index.ts): no second ffprobe pass on the critical path.
 */
export function applyPacketIndex(
  facts: MediaFacts,
  packets: readonly { stream: number; pts: number; end: number; key: boolean }[],
): void {
  const video = facts.video;
  const windowEnd = (facts.startTime ?? 0) + KEYFRAME_WINDOW_SECONDS;
  const scan: PacketScan = { streamEnds: new Map(), windowPackets: [] };
  for (const p of packets) {
    scan.streamEnds.set(p.stream, Math.max(scan.streamEnds.get(p.stream) ?? p.end, p.end));
    if (p.stream === video?.index && p.pts < windowEnd) scan.windowPackets.push({ time: p.pts, key: p.key });
  }
  if (video) video.keyframeInterval = keyframeIntervalOf(scan.windowPackets);
  const declared = declaredDuration(facts);
  if (DECLARED_DURATION_CONTAINERS.has(facts.container) && declared > 0 && !mediaPresent(facts, scan)) {
    throw truncated(declared, presentDuration(facts, scan));
  }
}

/** The refusal of a file whose media ends before its header says it does. */
function truncated(declared: number, present: number): InputError {
  return new InputError(
    "input_unreadable",
    `the file is truncated: it declares ${declared.toFixed(1)} s but only ${(Math.floor(present * 10) / 10).toFixed(1)} s of media is present`,
  );
}

/** Probes a local file. Throws InputError for inputs we cannot use, FfmpegError/BinaryNotFoundError otherwise. */
/** Frames decoded to look for caption side data: broadcast streams carry cc_data (padding at least) in every one. */
export const CAPTION_PROBE_FRAMES = 30;

/**
 * Whether the first video frames carry ATSC A/53 closed captions (CEA-608/708 in H.264 SEI or MPEG-2 user
 * data). ffprobe's own `closed_captions` stream field is only set once its decoder has seen some, which
 * `-show_streams` does not do in every version (5.1 prints 0 where its summary says "Closed Captions"),
 * so the frames' side data decides.
 */
export async function probeClosedCaptions(input: string, options: ProbeOptions = {}): Promise<boolean> {
  const json = (await ffprobeJson(
    input,
    [
      ...["-select_streams", "v:0", "-read_intervals", `%+#${CAPTION_PROBE_FRAMES}`, "-show_frames"],
      ...["-show_entries", "frame=side_data_list:side_data=side_data_type"],
    ],
    options,
  )) as Record<string, { type?: string; side_data_list?: { side_data_type?: string }[] }[] | undefined>;
  // Frames alone come as `frames`; ffprobe adds the packets (as `packets_and_frames`) when the side_data
  // entry also names packet side data, which depends on the version.
  const frames = [...(json.frames ?? []), ...(json.packets_and_frames ?? []).filter((f) => f.type === "frame")];
  return frames.some((f) => (f.side_data_list ?? []).some((d) => /closed captions/i.test(d.side_data_type ?? "")));
}

export async function probe(input: string, options: ProbeOptions = {}): Promise<MediaFacts> {
  const { facts } = await probeJson(input, ["-show_format", "-show_streams"], options);
  return checkPackets(input, facts, options);
}

/**
 * One ffprobe run over `input` with `args` (which must include -show_format -show_streams), its JSON and
 * the facts read from it; a file ffprobe cannot read is the input's fault (InputError).
 */
export async function probeJson(
  input: string,
  args: string[],
  options: ProbeOptions = {},
): Promise<{ facts: MediaFacts; json: unknown }> {
  const { size } = await stat(input);
  if (size === 0) throw new InputError("input_unreadable", "the file is empty (0 bytes)");
  let json: unknown;
  try {
    json = await ffprobeJson(input, args, options);
  } catch (err) {
    if (err instanceof FfmpegError && err.exitCode !== null && err.exitCode !== 0 && !err.signal) {
      const reason = err.details.stderr.split("\n").filter(Boolean).pop()?.replace(`${input}: `, "") ?? "";
      const refused = FORMAT_NOT_ALLOWED_RE.exec(err.details.stderr);
      if (refused) {
        // A playlist, concat list or similar: it would make ffmpeg open other files or hosts.
        const demuxer = /\[([a-z0-9_,]+) @/.exec(err.details.stderr)?.[1]?.split(",")[0];
        throw new InputError(
          "input_unsupported",
          `the source is a ${demuxer ? `${demuxer} ` : ""}file that refers to other files or URLs, which is not accepted`,
          { cause: err },
        );
      }
      throw new InputError("input_unreadable", `not a readable media file${reason ? `: ${reason}` : ""}`, {
        cause: err,
      });
    }
    throw err;
  }
  return { facts: parseProbeOutput(json, size), json };
}

async function checkPackets(input: string, facts: MediaFacts, options: ProbeOptions): Promise<MediaFacts> {
  // One more ffprobe pass over packet headers answers both remaining questions: how far apart the
  // keyframes of the first seconds are (fast path), and whether the media the header declares is
  // really in the file. A faststart MP4 cut short keeps its complete index, so ffprobe reports the
  // full duration and ffmpeg quietly produces a shorter output; only reading the packets near the
  // declared end shows that they are missing. Reading the first window and the last seconds is
  // cheap at any length; the whole file is read only when something is missing, to say how much.
  const video = facts.video;
  const wantKeyframes = !!options.keyframes && !!video;
  const declared = declaredDuration(facts);
  const wantIntegrity =
    options.integrity !== false && DECLARED_DURATION_CONTAINERS.has(facts.container) && declared > 0;
  if (!wantKeyframes && !wantIntegrity) return facts;
  const start = facts.startTime ?? 0;
  const windowEnd = start + KEYFRAME_WINDOW_SECONDS;
  const tailStart = start + declared - TAIL_SECONDS;
  const intervals: string[] = [];
  if (wantKeyframes) intervals.push(`%+${KEYFRAME_WINDOW_SECONDS}`);
  if (wantIntegrity && tailStart > (wantKeyframes ? windowEnd : start)) {
    intervals.push(`${tailStart.toFixed(3)}%`);
  } else if (wantIntegrity) {
    intervals.length = 0; // short file: read it all
  }
  const scan = await scanPackets(
    input,
    { readIntervals: intervals.length ? intervals.join(",") : undefined, windowStream: video?.index, windowEnd },
    options,
  );
  if (wantKeyframes && video) video.keyframeInterval = keyframeIntervalOf(scan.windowPackets);
  if (wantIntegrity && !mediaPresent(facts, scan)) {
    // Measure what is there (the quick pass may have stopped at its window), and only then refuse.
    const present = intervals.length
      ? presentDuration(facts, await scanPackets(input, {}, options))
      : presentDuration(facts, scan);
    if (present < declared - truncationTolerance(declared)) throw truncated(declared, present);
  }
  return facts;
}

/** Probes the first part of an HLS fMP4 rendition (init + first segment) through the concat protocol. */
export async function probeFiles(cwd: string, files: string[], options: ProbeOptions = {}): Promise<MediaFacts> {
  const binary = options.ffprobePath ?? (await getBinaries()).ffprobe;
  const { stdout } = await runProcess(
    binary,
    [
      "-v",
      "error",
      "-print_format",
      "json",
      "-show_format",
      "-show_streams",
      ...inputPolicyArgs(`concat:${files.join("|")}`),
      `concat:${files.join("|")}`,
    ],
    { cwd, signal: options.signal, collectStdout: true, timeoutMs: 60_000 },
  );
  let size = 0;
  for (const f of files) size += (await stat(`${cwd}/${f}`)).size;
  return parseProbeOutput(JSON.parse(stdout), size);
}
