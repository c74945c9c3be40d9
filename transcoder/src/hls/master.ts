/**
 * Writes master.m3u8 ourselves from what is on disk: each rendition's media playlist, the sizes of
 * its segments, and ffprobe of its first segment. Nothing comes from ffmpeg's own master.
 *
 * BANDWIDTH is the peak segment bit rate as RFC 8216bis defines it (the highest bit rate of any
 * run of consecutive segments lasting 0.5–1.5× the target duration), with the init section
 * counted as part of the first segment; AVERAGE-BANDWIDTH is all bytes over all seconds. A video
 * variant that plays with the audio group carries the sum of both.
 */
import { readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Rendition } from "../../../src/lib/transcoder-protocol.js";
import { PLAYLIST_NAME } from "../ffmpeg/hls-output.js";
import { type ProbeOptions, probeFiles } from "../ffmpeg/probe.js";
import { AUDIO_GROUP, type AudioLabel, audioGroupLines, labelAudioStreams } from "./audio-group.js";
import { type ClosedCaptionsLabel, withClosedCaptions } from "./closed-captions.js";
import { aacCodec, avcCodecFromInit, avcCodecFromProfile } from "./codecs.js";
import { type MediaPlaylist, parseMediaPlaylist } from "./media-playlist.js";

export const MASTER_NAME = "master.m3u8";
export { AUDIO_GROUP };

export interface SegmentSize {
  bytes: number;
  duration: number;
}

export interface PlaylistMeasurement {
  playlist: MediaPlaylist;
  segments: SegmentSize[];
  initBytes: number;
  totalBytes: number;
  totalDuration: number;
  peakBandwidth: number;
  averageBandwidth: number;
}

/** Peak bit rate over runs of consecutive segments lasting 0.5–1.5× the target duration. */
export function peakBitrate(segments: readonly SegmentSize[], targetDuration: number): number {
  if (segments.length === 0) return 0;
  const lo = 0.5 * targetDuration;
  const hi = 1.5 * targetDuration;
  let peak = 0;
  for (let i = 0; i < segments.length; i++) {
    let bytes = 0;
    let seconds = 0;
    for (let j = i; j < segments.length; j++) {
      bytes += segments[j].bytes;
      seconds += segments[j].duration;
      if (seconds > hi + 1e-6) break;
      if (seconds >= lo - 1e-6 && seconds > 0) peak = Math.max(peak, (bytes * 8) / seconds);
    }
  }
  if (peak > 0) return peak;
  // Every run is outside the window (a lone short segment): fall back to the whole playlist.
  const bytes = segments.reduce((n, s) => n + s.bytes, 0);
  const seconds = segments.reduce((n, s) => n + s.duration, 0);
  return seconds > 0 ? (bytes * 8) / seconds : 0;
}

export async function measurePlaylist(renditionDir: string): Promise<PlaylistMeasurement> {
  const playlist = parseMediaPlaylist(await readFile(path.join(renditionDir, PLAYLIST_NAME), "utf8"));
  if (playlist.segments.length === 0) throw new Error(`${renditionDir}: media playlist has no segments`);
  const initBytes = playlist.mapUri ? (await stat(path.join(renditionDir, playlist.mapUri))).size : 0;
  const segments: SegmentSize[] = await Promise.all(
    playlist.segments.map(async (seg) => ({
      bytes: (await stat(path.join(renditionDir, seg.uri))).size,
      duration: seg.duration,
    })),
  );
  const totalBytes = initBytes + segments.reduce((n, s) => n + s.bytes, 0);
  const totalDuration = segments.reduce((n, s) => n + s.duration, 0);
  const withInit = segments.map((s, i) => (i === 0 ? { ...s, bytes: s.bytes + initBytes } : s));
  const target = playlist.targetDuration || Math.max(...segments.map((s) => s.duration));
  const peak = peakBitrate(withInit, target);
  const average = totalDuration > 0 ? (totalBytes * 8) / totalDuration : peak;
  return {
    playlist,
    segments,
    initBytes,
    totalBytes,
    totalDuration,
    // BANDWIDTH is a ceiling: never below the average, whatever the window arithmetic gives.
    peakBandwidth: Math.max(1, Math.ceil(Math.max(peak, average))),
    averageBandwidth: Math.max(1, Math.ceil(average)),
  };
}

export interface RenditionRef {
  /** Folder under the output directory, e.g. `v720`, `audio`, `fast`. */
  name: string;
  type: Rendition["type"];
}

/** A rendition as measured on disk, with the few facts the master needs beyond `Rendition`. */
export interface MeasuredRendition extends Rendition {
  audioCodec?: string;
  videoCodec?: string;
  channels?: number;
  sampleRate?: number;
  totalBytes: number;
  duration: number;
}

function roundRate(fps: number): number {
  return Math.round(fps * 1000) / 1000;
}

export async function measureRendition(
  outputDir: string,
  ref: RenditionRef,
  options: ProbeOptions = {},
): Promise<MeasuredRendition> {
  const dir = path.join(outputDir, ref.name);
  const m = await measurePlaylist(dir);
  const firstFiles = [...(m.playlist.mapUri ? [m.playlist.mapUri] : []), m.playlist.segments[0].uri];
  const facts = await probeFiles(dir, firstFiles, options);
  const rendition: MeasuredRendition = {
    name: ref.name,
    type: ref.type,
    playlist: `${ref.name}/${PLAYLIST_NAME}`,
    codecs: "",
    bandwidth: m.peakBandwidth,
    average_bandwidth: m.averageBandwidth,
    segments: m.segments.length,
    totalBytes: m.totalBytes,
    duration: m.totalDuration,
  };
  if (ref.type !== "audio") {
    const v = facts.video;
    if (!v) throw new Error(`${ref.name}: no video stream in the first segment`);
    if (v.codec !== "h264") throw new Error(`${ref.name}: unexpected video codec ${v.codec}`);
    const init = m.playlist.mapUri ? await readFile(path.join(dir, m.playlist.mapUri)) : undefined;
    rendition.videoCodec = (init && avcCodecFromInit(init)) || avcCodecFromProfile(v.profile, v.level);
    rendition.width = v.displayWidth;
    rendition.height = v.displayHeight;
    // r_frame_rate is exact for constant-rate output; avg over one segment can be a hair off.
    const fps = v.rFrameRate ? v.rFrameRate.num / v.rFrameRate.den : v.frameRate;
    if (fps) rendition.frame_rate = roundRate(fps);
  }
  if (ref.type !== "video") {
    const a = facts.audio;
    if (a) {
      if (a.codec !== "aac") throw new Error(`${ref.name}: unexpected audio codec ${a.codec}`);
      rendition.audioCodec = aacCodec(a.profile);
      rendition.channels = a.channels;
      rendition.sampleRate = a.sampleRate;
    } else if (ref.type === "audio") {
      throw new Error(`${ref.name}: no audio stream in the first segment`);
    }
  }
  rendition.codecs = [rendition.videoCodec, rendition.audioCodec].filter(Boolean).join(",");
  return rendition;
}

function quoted(value: string): string {
  return `"${value.replace(/"/g, "'")}"`;
}

export interface MasterOptions {
  /** BCP 47 / ISO 639 language of the audio, when the source says (single-audio sources). */
  audioLanguage?: string;
  /** One label per audio rendition (./audio-group.ts); wins over audioLanguage. */
  audioLabels?: readonly AudioLabel[];
  /** The video carries CEA-608 captions: declare them (./closed-captions.ts). Ignored for audio-only masters. */
  closedCaptions?: ClosedCaptionsLabel;
}

/**
 * Renders the master playlist. Shapes:
 *  - muxed (fast path): one STREAM-INF per muxed rendition, no audio group;
 *  - ladder: video STREAM-INFs (largest first) referencing the AUDIO group when there is audio; the group
 *    lists every audio rendition (one per source audio stream), and each variant's BANDWIDTH counts the
 *    largest of them;
 *  - audio only: one STREAM-INF for the main audio playlist (referencing the group when there are several).
 */
export function renderMaster(renditions: readonly MeasuredRendition[], options: MasterOptions = {}): string {
  const video = renditions.filter((r) => r.type === "video").sort((a, b) => (b.height ?? 0) - (a.height ?? 0));
  const muxed = renditions.filter((r) => r.type === "muxed");
  const audios = renditions.filter((r) => r.type === "audio");
  const labels =
    options.audioLabels ??
    labelAudioStreams(audios.map((_, n) => ({ language: n === 0 ? options.audioLanguage : undefined }))).map(
      (l, n) => ({ ...l, dir: audios[n].name }),
    );
  const labelled = labels.filter((l) => audios.some((r) => r.name === l.dir));
  // The main rendition (`audio`) gives CODECS; the group's peak gives BANDWIDTH (RFC 8216bis §4.4.6.2).
  const audio = audios.find((r) => r.name === labelled[0]?.dir) ?? audios[0];
  const audioPeak = audios.reduce<MeasuredRendition | undefined>(
    (best, r) => (!best || r.bandwidth > best.bandwidth ? r : best),
    undefined,
  );
  let lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"];

  const streamInf = (
    r: MeasuredRendition,
    extra: { bandwidth: number; average: number; codecs: string; audio?: boolean },
  ) => {
    const attrs = [
      `BANDWIDTH=${extra.bandwidth}`,
      `AVERAGE-BANDWIDTH=${extra.average}`,
      `CODECS=${quoted(extra.codecs)}`,
    ];
    if (r.width && r.height) attrs.push(`RESOLUTION=${r.width}x${r.height}`);
    if (r.frame_rate) attrs.push(`FRAME-RATE=${r.frame_rate.toFixed(3)}`);
    if (extra.audio) attrs.push(`AUDIO=${quoted(AUDIO_GROUP)}`);
    lines.push(`#EXT-X-STREAM-INF:${attrs.join(",")}`, r.playlist);
  };
  const group = () =>
    audioGroupLines(
      labelled,
      (dir) => audios.find((r) => r.name === dir)?.channels,
      (dir) => audios.find((r) => r.name === dir)?.playlist ?? `${dir}/${PLAYLIST_NAME}`,
    );

  if (video.length > 0) {
    if (audio) lines.push(...group());
    const peak = audioPeak ?? audio;
    const average = Math.max(0, ...audios.map((r) => r.average_bandwidth));
    for (const r of video) {
      streamInf(r, {
        bandwidth: r.bandwidth + (peak?.bandwidth ?? 0),
        average: r.average_bandwidth + average,
        codecs: [r.videoCodec, audio?.audioCodec].filter(Boolean).join(","),
        audio: !!audio,
      });
    }
  } else if (muxed.length > 0) {
    for (const r of muxed) streamInf(r, { bandwidth: r.bandwidth, average: r.average_bandwidth, codecs: r.codecs });
  } else if (audio) {
    const several = audios.length > 1;
    if (several) lines.push(...group());
    streamInf(audio, {
      bandwidth: several && audioPeak ? audioPeak.bandwidth : audio.bandwidth,
      average: audio.average_bandwidth,
      codecs: audio.codecs,
      audio: several,
    });
  } else {
    throw new Error("a master playlist needs at least one rendition");
  }
  // An audio-only master has no video to carry captions.
  if (video.length > 0 || muxed.length > 0) lines = withClosedCaptions(lines, options.closedCaptions);
  return `${lines.join("\n")}\n`;
}

/** Measures the renditions, writes `master.m3u8` into outputDir, and returns the protocol's Rendition[]. */
export async function writeMaster(
  outputDir: string,
  refs: readonly RenditionRef[],
  options: MasterOptions & ProbeOptions = {},
): Promise<{ renditions: MeasuredRendition[]; master: string; path: string }> {
  // One ffprobe per rendition, all at once: they are short and mostly wait on process start-up.
  const renditions = await Promise.all(refs.map((ref) => measureRendition(outputDir, ref, options)));
  const master = renderMaster(renditions, options);
  const file = path.join(outputDir, MASTER_NAME);
  await writeFile(file, master);
  return { renditions, master, path: file };
}

/** Strips the measurement-only fields so the result matches RenditionSchema exactly. */
export function toProtocolRendition(r: MeasuredRendition): Rendition {
  const out: Rendition = {
    name: r.name,
    type: r.type,
    playlist: r.playlist,
    codecs: r.codecs,
    bandwidth: r.bandwidth,
    average_bandwidth: r.average_bandwidth,
    segments: r.segments,
  };
  if (r.width !== undefined) out.width = r.width;
  if (r.height !== undefined) out.height = r.height;
  if (r.frame_rate !== undefined) out.frame_rate = r.frame_rate;
  return out;
}
