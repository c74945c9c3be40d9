/**
 * The smart cut of a clip (./clip.ts): the whole GOPs inside the range are stream-copied, only the partial
 * GOPs at the edges are re-encoded (libx264, matched to the source's profile, level, pixel format, size and
 * frame timing), and the pieces are spliced as MPEG-TS before one remux to MP4.
 *
 * Every step assumes things a real upload can break, so the plan is refused (and the caller re-encodes the
 * whole range) unless the source is progressive 8-bit 4:2:0 H.264 at a constant frame rate with closed GOPs
 * and at least one whole GOP in the range, and the written clip is checked (frame count, continuous
 * timestamps, decodes without an error) before it replaces anything. Packet flags cannot tell an IDR frame
 * from an open GOP's I-frame with a recovery point; a copied middle starting on the latter does not reset
 * the decoder after the head, and only the checking decode finds that (the test with x264 open-gop).
 *
 * The splice works on timestamps, not on bytes: every piece is written with `-copyts` and shifted so the
 * clip's first frame lands at TS_BASE, so the pieces' MPEG-TS files can be read back to back through the
 * concat protocol. Decode timestamps have to rise across each join: the edges are encoded with the source's
 * reorder delay (x264 with 0, 1 or pyramid B-frames delays its dts by 0, 1 or 2 frames), which puts the
 * head's last dts one frame before the copied keyframe's and the tail's first one frame after the middle's
 * last.
 */
import { mkdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { inputPolicyArgs } from "./ffmpeg/input-policy.js";
import { eachPacket, probe } from "./ffmpeg/probe.js";
import { runFfmpeg } from "./ffmpeg/process.js";

export interface SmartCutRun {
  ffmpegPath: string;
  ffprobePath: string;
  signal?: AbortSignal;
}

/** A video packet of the source, times in seconds as the container has them (not shifted to zero). */
export interface SourcePacket {
  pts: number;
  dts: number;
  key: boolean;
}

/** What the plan needs to know about the source. */
export interface SmartCutSource {
  /** The container's start time: the clip range counts from it. */
  startTime: number;
  codec: string;
  profile?: string;
  level?: number;
  pixFmt?: string;
  interlaced: boolean;
  rotation: number;
  /** Frames per second (the stream's r_frame_rate). */
  fps?: number;
  /** Video packets around the range, in file (decode) order. */
  packets: SourcePacket[];
}

export interface Piece {
  /**
   * Source time the input seek aims at: just before the keyframe a re-encoded edge decodes from (an MP4
   * seek lands on the keyframe at or before it, an MPEG-TS one on the keyframe after it), or a preroll
   * before a copy (which only reads packets, so reading more costs little).
   */
  readFrom: number;
  /** Output `-ss` (source seconds), absent for a copy that starts at the file's first packet. */
  seek?: number;
  /** Frames (re-encoded) or packets (copied) to write. */
  count: number;
}

export interface SmartCutPlan {
  /** Source time of the clip's first frame. */
  origin: number;
  frameDuration: number;
  /** Frames in the clip. */
  frames: number;
  head?: Piece;
  middle: Piece;
  tail?: Piece;
  /** x264 B-frames giving the source's reorder delay (see the module comment). */
  bframes: 0 | 1 | 3;
  profile: "baseline" | "main" | "high";
  /** x264 `-level`, e.g. "3.1". */
  level?: string;
  pixFmt: "yuv420p" | "yuvj420p";
}

/** Seconds of source read before a piece's first frame, as for the full re-encode (see ./clip.ts). */
export const SMART_CUT_PREROLL_SECONDS = 15;
/** Where the clip's first frame sits in the pieces: far enough from 0 that no dts is negative. */
const TS_BASE = 10;
/** Slack when comparing a frame time (ffprobe prints microseconds) with the requested range. */
const TIME_EPSILON = 1e-5;

const PROFILES: Record<string, SmartCutPlan["profile"]> = {
  "constrained baseline": "baseline",
  baseline: "baseline",
  main: "main",
  high: "high",
};

/** Plans the cut of `[start_time, end_time)` (seconds from the container's start), or says why not. */
export function planSmartCut(
  src: SmartCutSource,
  range: { start_time: number; end_time: number },
): SmartCutPlan | { reason: string } {
  if (src.codec !== "h264") return { reason: `the video is ${src.codec}, not H.264` };
  const profile = PROFILES[(src.profile ?? "").toLowerCase()];
  if (!profile) return { reason: `H.264 profile ${src.profile ?? "unknown"} is not one x264 can match` };
  if (src.pixFmt !== "yuv420p" && src.pixFmt !== "yuvj420p") {
    return { reason: `pixel format ${src.pixFmt ?? "unknown"} is not 8-bit 4:2:0` };
  }
  if (src.interlaced) return { reason: "the video is interlaced" };
  // The pieces are written from decoded frames without the container's display matrix.
  if (src.rotation !== 0) return { reason: "the video carries a rotation" };
  if (!src.fps || !(src.fps > 0) || src.fps > 240) return { reason: "the frame rate is unknown" };
  const d = 1 / src.fps;

  const start = src.startTime + range.start_time;
  const end = src.startTime + range.end_time;
  const frames = src.packets
    .filter((p) => p.pts >= start - TIME_EPSILON && p.pts < end - TIME_EPSILON)
    .sort((a, b) => a.pts - b.pts);
  if (frames.length === 0) return { reason: "no video frame in the range" };
  // Constant frame rate from the range's first frame to its last, none missing at either end: the pieces'
  // timestamps are frame-exact only then (and the packet read started early enough).
  const steady = (gap: number) => Math.abs(gap - d) < d / 10;
  if (frames[0].pts - start > d + TIME_EPSILON || end - frames[frames.length - 1].pts > d + TIME_EPSILON) {
    return { reason: "the range's first or last frame is missing" };
  }
  for (let i = 1; i < frames.length; i++) {
    if (!steady(frames[i].pts - frames[i - 1].pts)) return { reason: "the frame rate is not constant in the range" };
  }

  // The middle runs from the first keyframe in the range to the last, or to the keyframe just after the
  // range when the range ends on a GOP boundary (then there is no tail).
  const last = frames[frames.length - 1];
  const boundary = src.packets.find((p) => p.key && steady(p.pts - last.pts));
  const keys = [...frames.filter((f) => f.key), ...(boundary ? [boundary] : [])];
  if (keys.length < 2) return { reason: "the range holds no whole GOP (fewer than two keyframes)" };
  const k1 = keys[0];
  const k2 = keys[keys.length - 1];
  // Closed GOPs: the packets between the two keyframes in decode order are exactly the frames between them
  // in display order, so the copy needs nothing from outside it.
  const copied = src.packets.filter((p) => p.dts >= k1.dts && p.dts < k2.dts);
  const between = frames.filter((f) => f.pts >= k1.pts && f.pts < k2.pts).length;
  if (copied.length !== between || copied.some((p) => p.pts < k1.pts || p.pts >= k2.pts)) {
    return { reason: "the GOPs are open (frames reference across a keyframe)" };
  }
  const delay = Math.round((k1.pts - k1.dts) / d);
  const delayAtK2 = Math.round((k2.pts - k2.dts) / d);
  if (delay < 0 || delay > 2 || delay !== delayAtK2 || copied.some((p) => p.dts > p.pts + TIME_EPSILON)) {
    return { reason: `the source's decode delay (${delay} frames) is not one x264 can match` };
  }

  const headFrames = frames.indexOf(k1);
  // The head decodes from the keyframe that opens its GOP; without one in the packets read, from a preroll.
  const headGop = src.packets.filter((p) => p.key && p.pts <= frames[0].pts + TIME_EPSILON).pop();
  const before = (t: number) => t - d / 2;
  const tailFrames = k2 === boundary ? 0 : frames.length - frames.indexOf(k2);
  const firstPacket = src.packets.reduce((a, b) => (b.dts < a.dts ? b : a), src.packets[0]);
  return {
    origin: frames[0].pts,
    frameDuration: d,
    frames: frames.length,
    ...(headFrames > 0
      ? {
          head: {
            readFrom: headGop ? before(headGop.pts) : frames[0].pts - SMART_CUT_PREROLL_SECONDS,
            seek: frames[0].pts,
            count: headFrames,
          },
        }
      : {}),
    // Stream copy starts at the first keyframe whose dts is at or after the output seek, so seek to its dts;
    // a seek to a negative time (a source starting at 0 with B-frames) is left out: it is the first packet.
    middle: {
      readFrom: k1.dts - SMART_CUT_PREROLL_SECONDS,
      ...(k1 === firstPacket && k1.dts < 0 ? {} : { seek: k1.dts }),
      count: copied.length,
    },
    ...(tailFrames > 0 ? { tail: { readFrom: before(k2.pts), seek: k2.pts, count: tailFrames } } : {}),
    bframes: delay === 0 ? 0 : delay === 1 ? 1 : 3,
    profile,
    ...(src.level && src.level >= 10 ? { level: `${Math.floor(src.level / 10)}.${src.level % 10}` } : {}),
    pixFmt: src.pixFmt,
  };
}

/** The source facts the plan needs: one ffprobe of the streams, one over the video packets near the range. */
export async function probeSmartCutSource(
  source: string,
  range: { start_time: number; end_time: number },
  run: SmartCutRun,
): Promise<SmartCutSource & { audio: boolean }> {
  const facts = await probe(source, { signal: run.signal, ffprobePath: run.ffprobePath, integrity: false });
  const v = facts.video;
  if (!v) throw new Error("the source has no video");
  const startTime = facts.startTime ?? 0;
  const from = Math.max(0, startTime + range.start_time - SMART_CUT_PREROLL_SECONDS);
  const to = startTime + range.end_time + 2;
  const packets: SourcePacket[] = [];
  await eachPacket(
    source,
    "pts_time,dts_time,flags",
    ["-select_streams", "v:0", "-read_intervals", `${from.toFixed(6)}%${to.toFixed(6)}`],
    { signal: run.signal, ffprobePath: run.ffprobePath },
    (fields) => {
      const pts = Number(fields.get("pts_time"));
      const dts = Number(fields.get("dts_time"));
      if (Number.isFinite(pts) && Number.isFinite(dts)) {
        packets.push({ pts, dts, key: (fields.get("flags") ?? "").startsWith("K") });
      }
    },
  );
  const fps = v.rFrameRate && v.rFrameRate.den > 0 ? v.rFrameRate.num / v.rFrameRate.den : undefined;
  return {
    startTime,
    codec: v.codec,
    profile: v.profile,
    level: v.level,
    pixFmt: v.pixFmt,
    interlaced: v.interlaced,
    rotation: v.rotation,
    fps,
    packets,
    audio: (facts.audioStreams?.length ?? (facts.audio ? 1 : 0)) > 0,
  };
}

/** The clip's re-encoded frames (edges here, the whole range in ./clip.ts): near-transparent, because the
 * ladder encodes the clip again. */
export const INTERMEDIATE_H264_ARGS = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "16"];

const seconds = (t: number) => t.toFixed(6);

/**
 * The arguments of each ffmpeg run of the plan, in order (runFfmpeg adds its quiet, overwriting options);
 * `work` is their working directory.
 */
export function buildSmartCutSteps(
  source: string,
  plan: SmartCutPlan,
  o: { startTime: number; audio: boolean; output: string },
): { name: string; args: string[] }[] {
  // Input seeks count from the container's start.
  const coarse = (at: number) => Math.max(0, at - o.startTime);
  // Original timestamps throughout (-copyts), so each output seek is a source time; the output's times are
  // source time − seek, moved by the offset to origin ↦ TS_BASE. No mux delay: the offsets are the timing.
  const piece = (p: Piece, codec: string[], file: string) => [
    "-copyts",
    "-ss",
    seconds(coarse(p.readFrom)),
    ...inputPolicyArgs(source),
    "-i",
    source,
    "-map",
    "0:v:0",
    ...(p.seek !== undefined ? ["-ss", seconds(p.seek)] : []),
    "-frames:v",
    String(p.count),
    ...codec,
    "-muxdelay",
    "0",
    "-muxpreload",
    "0",
    "-output_ts_offset",
    seconds(TS_BASE - plan.origin + (p.seek ?? 0)),
    "-f",
    "mpegts",
    file,
  ];
  const x264 = [
    ...INTERMEDIATE_H264_ARGS,
    "-profile:v",
    plan.profile,
    ...(plan.level ? ["-level", plan.level] : []),
    "-pix_fmt",
    plan.pixFmt,
    "-bf",
    String(plan.bframes),
    // The frames keep their source times; a constant-rate output would pad from 0 up to the first.
    "-vsync",
    "passthrough",
  ];
  const copy = ["-c:v", "copy", "-bsf:v", "h264_mp4toannexb"];
  const steps: { name: string; args: string[] }[] = [];
  const files: string[] = [];
  if (plan.head) {
    steps.push({ name: "head", args: piece(plan.head, x264, "head.ts") });
    files.push("head.ts");
  }
  steps.push({ name: "middle", args: piece(plan.middle, copy, "middle.ts") });
  files.push("middle.ts");
  if (plan.tail) {
    steps.push({ name: "tail", args: piece(plan.tail, x264, "tail.ts") });
    files.push("tail.ts");
  }
  const duration = plan.frames * plan.frameDuration;
  if (o.audio) {
    // The audio in one piece, re-encoded over exactly the video's span: no joins to click at.
    const from = coarse(plan.origin - SMART_CUT_PREROLL_SECONDS);
    steps.push({
      name: "audio",
      args: [
        "-ss",
        seconds(from),
        ...inputPolicyArgs(source),
        "-i",
        source,
        "-vn",
        "-sn",
        "-dn",
        "-map",
        "0:a",
        "-ss",
        seconds(plan.origin - o.startTime - from),
        "-t",
        seconds(duration),
        "-c:a",
        "aac",
        "-b:a",
        "192k",
        "-f",
        "mp4",
        "audio.m4a",
      ],
    });
  }
  const joined = `concat:${files.join("|")}`;
  steps.push({
    name: "mux",
    args: [
      ...inputPolicyArgs(joined),
      "-i",
      joined,
      ...(o.audio ? [...inputPolicyArgs("audio.m4a"), "-i", "audio.m4a"] : []),
      // Only for its metadata (title, creation time…), as the full re-encode keeps it.
      ...inputPolicyArgs(source),
      "-i",
      source,
      "-map",
      "0:v",
      ...(o.audio ? ["-map", "1:a"] : []),
      "-map_metadata",
      o.audio ? "2" : "1",
      "-c",
      "copy",
      // The access unit delimiters the MPEG-TS muxer put in front of every frame: MP4 has no use for them,
      // and without them the copied frames are the source's bytes again.
      "-bsf:v",
      "filter_units=remove_types=9",
      "-movflags",
      "+faststart",
      "-f",
      "mp4",
      o.output,
    ],
  });
  return steps;
}

/**
 * Writes the planned clip to `output` and checks it; throws (leaving `output` to the caller to remove)
 * when any step fails or the result is not the planned clip.
 */
export async function runSmartCut(
  source: string,
  plan: SmartCutPlan,
  o: { startTime: number; audio: boolean; output: string },
  run: SmartCutRun,
): Promise<void> {
  const work = `${o.output}.pieces`;
  await mkdir(work, { recursive: true });
  try {
    const steps = buildSmartCutSteps(path.resolve(source), plan, { ...o, output: path.resolve(o.output) });
    for (const step of steps) await runFfmpeg(step.args, { ffmpegPath: run.ffmpegPath, cwd: work, signal: run.signal });
    await verifyClip(o.output, plan, run);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The written clip has the planned frames at steady times, rising dts, and decodes without an error. */
async function verifyClip(output: string, plan: SmartCutPlan, run: SmartCutRun): Promise<void> {
  const written = await stat(output).catch(() => null);
  if (!written) throw new Error("the clip was not written");
  const packets: { pts: number; dts: number }[] = [];
  await eachPacket(
    output,
    "pts_time,dts_time",
    ["-select_streams", "v:0"],
    { signal: run.signal, ffprobePath: run.ffprobePath },
    (fields) => packets.push({ pts: Number(fields.get("pts_time")), dts: Number(fields.get("dts_time")) }),
  );
  if (packets.length !== plan.frames) throw new Error(`${packets.length} frames written, ${plan.frames} planned`);
  for (let i = 1; i < packets.length; i++) {
    if (!(packets[i].dts > packets[i - 1].dts)) throw new Error(`dts does not rise at packet ${i}`);
  }
  const d = plan.frameDuration;
  const times = packets.map((p) => p.pts).sort((a, b) => a - b);
  for (let i = 1; i < times.length; i++) {
    if (Math.abs(times[i] - times[i - 1] - d) > d / 10) {
      throw new Error(`frame times jump ${(times[i] - times[i - 1]).toFixed(6)} s at ${times[i - 1].toFixed(6)} s`);
    }
  }
  const { stderr } = await runFfmpeg(["-i", output, "-map", "0:v:0", "-f", "null", "-"], {
    ffmpegPath: run.ffmpegPath,
    signal: run.signal,
  });
  if (stderr.trim()) throw new Error(`the clip does not decode cleanly: ${stderr.trim().split("\n")[0]}`);
}
