/** Normalised cues → WebVTT text (UTF-8, LF line ends, no BOM). */
import type { Cue } from "./parse";

export function formatTimestamp(seconds: number): string {
  const total = Math.round(seconds * 1000);
  const ms = total % 1000;
  const s = Math.floor(total / 1000) % 60;
  const m = Math.floor(total / 60_000) % 60;
  const h = Math.floor(total / 3_600_000);
  const p = (n: number, w: number) => String(n).padStart(w, "0");
  return `${p(h, 2)}:${p(m, 2)}:${p(s, 2)}.${p(ms, 3)}`;
}

export function cueBlock(cue: Cue, id?: string): string {
  const timing = `${formatTimestamp(cue.start)} --> ${formatTimestamp(cue.end)}${cue.settings ? ` ${cue.settings}` : ""}`;
  return `${id ? `${id}\n` : ""}${timing}\n${cue.text}\n`;
}

export function serializeWebVtt(cues: readonly Cue[], headerLines: string[] = []): string {
  const head = ["WEBVTT", ...headerLines].join("\n");
  return `${head}\n\n${cues.map((c) => cueBlock(c)).join("\n")}`;
}
