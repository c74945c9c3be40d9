/**
 * The VOD master's audio group (issue 16, multiple audio tracks): one `#EXT-X-MEDIA:TYPE=AUDIO` entry per
 * audio rendition, in source order, named from the stream's title or language, DEFAULT=YES on exactly one
 * (the stream the source marks default, else the first). Kept apart from master.ts so the live master
 * (src/live) and this one can change without touching each other.
 */
import type { AudioFacts } from "../ffmpeg/probe.js";

export const AUDIO_GROUP = "audio";

/** Folder of the n-th audio rendition: `audio` for the main one (what downloads use), then `audio_1`, `audio_2`, … */
export function audioDirFor(n: number): string {
  return n === 0 ? "audio" : `audio_${n}`;
}

/** How one audio rendition is labelled in the master. */
export interface AudioLabel {
  /** Rendition folder, e.g. `audio`, `audio_1`. */
  dir: string;
  /** BCP 47, canonical (`en`, not `eng`), when known. */
  language?: string;
  name: string;
  isDefault: boolean;
}

/** ffprobe's ISO 639-2 tag ("eng", "spa", "ger") as canonical BCP 47 ("en", "es", "de"), or undefined. */
export function bcp47(tag: string | undefined): string | undefined {
  if (!tag || !/^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/.test(tag)) return undefined;
  try {
    return Intl.getCanonicalLocales(tag)[0];
  } catch {
    return undefined;
  }
}

function languageName(tag: string): string | undefined {
  try {
    return new Intl.DisplayNames(["en"], { type: "language" }).of(tag);
  } catch {
    return undefined;
  }
}

/**
 * Labels for the audio renditions made from `streams` (source order; the n-th goes to audioDirFor(n)).
 * NAME must be unique inside the group (RFC 8216 §4.3.4.1.1): repeats get " 2", " 3", ….
 */
export function labelAudioStreams(
  streams: readonly Pick<AudioFacts, "language" | "title" | "isDefault">[],
): AudioLabel[] {
  const defaultAt = Math.max(
    0,
    streams.findIndex((s) => s.isDefault),
  );
  const seen = new Map<string, number>();
  return streams.map((s, n) => {
    const language = bcp47(s.language);
    const base = s.title ?? (language && languageName(language)) ?? (streams.length > 1 ? `Audio ${n + 1}` : "Default");
    const count = (seen.get(base) ?? 0) + 1;
    seen.set(base, count);
    return { dir: audioDirFor(n), language, name: count > 1 ? `${base} ${count}` : base, isDefault: n === defaultAt };
  });
}

function quoted(value: string): string {
  return `"${value.replace(/["\r\n]/g, "'")}"`;
}

/** The `#EXT-X-MEDIA:TYPE=AUDIO` lines; `uriFor` maps a label to its playlist path. */
export function audioGroupLines(
  labels: readonly AudioLabel[],
  channelsFor: (dir: string) => number | undefined,
  uriFor: (dir: string) => string,
): string[] {
  return labels.map((l) => {
    const channels = channelsFor(l.dir);
    const attrs = [
      "TYPE=AUDIO",
      `GROUP-ID=${quoted(AUDIO_GROUP)}`,
      `NAME=${quoted(l.name)}`,
      ...(l.language ? [`LANGUAGE=${quoted(l.language)}`] : []),
      `DEFAULT=${l.isDefault ? "YES" : "NO"}`,
      "AUTOSELECT=YES",
      ...(channels ? [`CHANNELS=${quoted(String(channels))}`] : []),
      `URI=${quoted(uriFor(l.dir))}`,
    ];
    return `#EXT-X-MEDIA:${attrs.join(",")}`;
  });
}

/** The audio renditions a source gets: its main stream into `audio`, then its others in file order. */
export function planAudioRenditions(
  main: AudioFacts | undefined,
  streams: readonly AudioFacts[] | undefined,
): { facts: AudioFacts; label: AudioLabel }[] {
  if (!main) return [];
  const ordered = [main, ...(streams ?? []).filter((s) => s.index !== main.index)];
  // The main stream is the default one (probe picks it by disposition), so it is labelled DEFAULT.
  const labels = labelAudioStreams(ordered.map((s, n) => ({ ...s, isDefault: n === 0 })));
  return ordered.map((facts, n) => ({ facts, label: labels[n] }));
}
