/** How a job describes its media to the API: labels, aspect ratios, source facts and tracks. */
import type { SourceFacts, Track } from "../../../src/lib/transcoder-protocol.js";
import type { MediaFacts } from "../ffmpeg/probe.js";
import { type AudioLabel, bcp47 } from "../hls/audio-group.js";
import type { ClosedCaptionsLabel } from "../hls/closed-captions.js";
import type { MeasuredRendition } from "../hls/master.js";

const STANDARD_LABELS = [240, 360, 480, 720, 1080, 1440, 2160];

/** "720p" for the nearest standard size; tiny pictures keep their own number. */
export function resolutionLabel(shortSide: number): string {
  if (shortSide < 200) return `${shortSide}p`;
  const nearest = STANDARD_LABELS.reduce((best, h) =>
    Math.abs(h - shortSide) < Math.abs(best - shortSide) ? h : best,
  );
  return `${nearest}p`;
}

const COMMON_RATIOS: [number, number][] = [
  [16, 9],
  [9, 16],
  [4, 3],
  [3, 4],
  [1, 1],
  [21, 9],
  [9, 21],
  [3, 2],
  [2, 3],
  [5, 4],
  [4, 5],
];

/** "16:9" when within 1.5% of a common ratio, else the reduced ratio, else "2.39:1". */
export function aspectRatio(width: number, height: number): string {
  const r = width / height;
  for (const [w, h] of COMMON_RATIOS) if (Math.abs(r - w / h) / (w / h) < 0.015) return `${w}:${h}`;
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const g = gcd(width, height);
  if (width / g <= 64 && height / g <= 64) return `${width / g}:${height / g}`;
  return r >= 1 ? `${r.toFixed(2)}:1` : `1:${(1 / r).toFixed(2)}`;
}

export function sourceFactsFor(facts: MediaFacts, remuxed: boolean): SourceFacts {
  const out: SourceFacts = {
    container: facts.container,
    size_bytes: facts.sizeBytes,
    duration: facts.duration,
    remuxed,
  };
  if (facts.bitrate !== undefined) out.bitrate = facts.bitrate;
  if (facts.video) {
    out.video_codec = facts.video.codec;
    out.width = facts.video.displayWidth;
    out.height = facts.video.displayHeight;
    if (facts.video.frameRate) out.frame_rate = Math.round(facts.video.frameRate * 1000) / 1000;
    out.variable_frame_rate = facts.video.variableFrameRate;
  }
  if (facts.audio) out.audio_codec = facts.audio.codec;
  return out;
}

/**
 * How the master names the video's embedded CEA-608 captions, when it has some: the language is the main
 * audio's (608 does not say its own), and so is the name ("English CC"), else "Closed captions".
 */
export function closedCaptionsLabel(facts: MediaFacts): ClosedCaptionsLabel | undefined {
  if (!facts.video?.closedCaptions) return undefined;
  const language = bcp47(facts.audio?.language);
  let name = "Closed captions";
  if (language) {
    try {
      name = `${new Intl.DisplayNames(["en"], { type: "language" }).of(language) ?? language} CC`;
    } catch {
      name = `${language} CC`;
    }
  }
  return { name, ...(language ? { language } : {}) };
}

/** The fast path's tracks: the source's own streams, copied. */
export function sourceTracks(facts: MediaFacts, fast: MeasuredRendition): Track[] {
  const tracks: Track[] = [];
  if (facts.video) {
    tracks.push({
      type: "video",
      codec: facts.video.codec,
      width: fast.width,
      height: fast.height,
      frame_rate: fast.frame_rate,
      duration: facts.duration,
      ...(facts.video.closedCaptions ? { closed_captions: true } : {}),
    });
  }
  if (facts.audio) {
    tracks.push({
      type: "audio",
      codec: facts.audio.codec,
      channels: facts.audio.channels,
      sample_rate: facts.audio.sampleRate,
      duration: facts.duration,
    });
  }
  return tracks;
}

/** The ladder's tracks: its top video rendition and each audio rendition (main first), as measured. */
export function ladderTracks(
  top: MeasuredRendition | undefined,
  audio: readonly MeasuredRendition[],
  labels: readonly AudioLabel[] = [],
  closedCaptions = false,
): Track[] {
  const tracks: Track[] = [];
  if (top) {
    tracks.push({
      type: "video",
      codec: "h264",
      width: top.width,
      height: top.height,
      frame_rate: top.frame_rate,
      bitrate: top.average_bandwidth,
      duration: top.duration,
      ...(closedCaptions ? { closed_captions: true } : {}),
    });
  }
  const ordered = labels.length ? labels.map((l) => audio.find((r) => r.name === l.dir)) : audio;
  ordered.forEach((r, n) => {
    if (!r) return;
    const label = labels[n];
    tracks.push({
      type: "audio",
      codec: "aac",
      channels: r.channels,
      sample_rate: r.sampleRate,
      bitrate: r.average_bandwidth,
      duration: r.duration,
      ...(label
        ? { name: label.name, primary: label.isDefault, ...(label.language ? { language_code: label.language } : {}) }
        : {}),
    });
  });
  return tracks;
}
