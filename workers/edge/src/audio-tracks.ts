/**
 * Dubbed audio tracks at the edge (src/lib/audio-tracks.ts). Like subtitles (./text-tracks.ts), ready tracks
 * are read from D1 once per asset per isolate per TTL and added to the master as it is served; R2 masters are
 * never rewritten. A track's files live in the run it was rendered for (`{run}/{track_id}/index.m3u8`, served
 * by the ordinary rendition route), so only tracks of the asset's current run are listed.
 *
 * The entries join the master's AUDIO group. A master without one (the fast path's muxed variants, or a
 * video-only source) gets a group: for muxed variants an entry without URI stands for the audio already in
 * the variant ("Original"), and every variant references the group.
 */
import { readReadyAudioTracks } from "./db";
import type { EdgeEnv } from "./state";
import { SHORT_TTL_MS, STATE_TTL_MS } from "./state";

export interface AudioTrack {
  id: string;
  languageCode: string;
  name: string;
  isDefault: boolean;
  runId: string | null;
}

/** The group a master without one gets (the ladder's own group is also named `audio`). */
export const ADDED_AUDIO_GROUP = "audio";
const AAC_LC = "mp4a.40.2";
const MAX_ENTRIES = 5_000;
const cache = new Map<string, { value: AudioTrack[]; expiresAt: number }>();

export function clearAudioTrackCache() {
  cache.clear();
}

/** Ready audio tracks of an asset, oldest first. Empty answers are re-checked sooner so a new track shows up quickly. */
export async function readyAudioTracks(env: EdgeEnv, assetId: string): Promise<AudioTrack[]> {
  const hit = cache.get(assetId);
  if (hit && hit.expiresAt > Date.now()) return hit.value;
  const value = await readReadyAudioTracks(env.DB, assetId);
  if (cache.size >= MAX_ENTRIES) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  cache.set(assetId, { value, expiresAt: Date.now() + (value.length ? STATE_TTL_MS : SHORT_TTL_MS) });
  return value;
}

const quoted = (s: string) => s.replace(/["\r\n]/g, "'");

function attr(line: string, name: string): string | undefined {
  const m = new RegExp(`[:,]${name}=("([^"]*)"|[^,]*)`).exec(line);
  return m ? (m[2] ?? m[1]) : undefined;
}

function setAttr(line: string, name: string, value: string): string {
  const re = new RegExp(`([:,])${name}=("[^"]*"|[^,]*)`);
  return re.test(line) ? line.replace(re, `$1${name}=${value}`) : `${line},${name}=${value}`;
}

/**
 * Adds one `#EXT-X-MEDIA:TYPE=AUDIO` entry per track to the master's audio group (creating the group when the
 * master has none). A track marked default takes DEFAULT=YES from the source's own entry.
 */
export function addAudioTracks(master: string, tracks: AudioTrack[], uriFor: (t: AudioTrack) => string): string {
  if (tracks.length === 0) return master;
  const lines = master.split("\n");
  const isAudioMedia = (l: string) => l.startsWith("#EXT-X-MEDIA:") && attr(l, "TYPE") === "AUDIO";
  const existing = lines.find(isAudioMedia);
  const group = existing ? (attr(existing, "GROUP-ID") ?? ADDED_AUDIO_GROUP) : ADDED_AUDIO_GROUP;
  const variants = lines.filter((l) => l.startsWith("#EXT-X-STREAM-INF:"));
  const muxed = !existing && variants.some((l) => (attr(l, "CODECS") ?? "").includes("mp4a"));
  const dubDefault = tracks.find((t) => t.isDefault)?.id;
  // Exactly one DEFAULT=YES: a default dub, else the source's audio, else (video-only source) the first dub.
  const hasSourceAudio = !!existing || muxed;
  const defaultId = dubDefault ?? (hasSourceAudio ? undefined : tracks[0].id);
  const media = tracks.map((t) =>
    [
      "#EXT-X-MEDIA:TYPE=AUDIO",
      `GROUP-ID="${quoted(group)}"`,
      `NAME="${quoted(t.name)}"`,
      `LANGUAGE="${quoted(t.languageCode)}"`,
      `DEFAULT=${t.id === defaultId ? "YES" : "NO"}`,
      "AUTOSELECT=YES",
      'CHANNELS="2"',
      `URI="${uriFor(t)}"`,
    ].join(","),
  );
  if (muxed) {
    media.unshift(
      `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="${group}",NAME="Original",DEFAULT=${dubDefault ? "NO" : "YES"},AUTOSELECT=YES`,
    );
  }
  const out: string[] = [];
  let lastGroupEntry = -1;
  let firstVariant = -1;
  for (const line of lines) {
    if (isAudioMedia(line) && attr(line, "GROUP-ID") === group) {
      out.push(dubDefault ? setAttr(line, "DEFAULT", "NO") : line);
      lastGroupEntry = out.length - 1;
    } else if (line.startsWith("#EXT-X-STREAM-INF:")) {
      if (firstVariant === -1) firstVariant = out.length;
      let v = line;
      if (!existing) {
        v = setAttr(v, "AUDIO", `"${group}"`);
        const codecs = attr(v, "CODECS");
        if (codecs !== undefined && !codecs.includes("mp4a")) v = setAttr(v, "CODECS", `"${codecs},${AAC_LC}"`);
      }
      out.push(v);
    } else out.push(line);
  }
  const at = lastGroupEntry >= 0 ? lastGroupEntry + 1 : firstVariant >= 0 ? firstVariant : out.length;
  out.splice(at, 0, ...media);
  return out.join("\n");
}
