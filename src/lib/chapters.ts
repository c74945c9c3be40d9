/**
 * Chapter markers → a WebVTT chapters file (`kind="chapters"`): one cue per chapter, running to the next
 * chapter's start and the last to the end of the asset. Shared by the edge (chapters.vtt, embed page).
 */
import { formatTimestamp } from "./webvtt/serialize";

export interface ChapterMarker {
  start_time: number;
  title: string;
}

/** WebVTT cue text must not contain `-->` or raw `&`/`<`; titles are one line already (API schema). */
function cueText(title: string): string {
  return title
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/[\r\n]+/g, " ");
}

/** Chapters in start order, clipped to `[0, duration)`; null duration ends the last chapter 1 s after its start. */
export function chapterCues(chapters: readonly ChapterMarker[], durationSeconds: number | null) {
  const sorted = [...chapters]
    .filter((c) => durationSeconds === null || c.start_time < durationSeconds)
    .sort((a, b) => a.start_time - b.start_time);
  return sorted.map((c, i) => ({
    start: c.start_time,
    end: sorted[i + 1]?.start_time ?? durationSeconds ?? c.start_time + 1,
    title: c.title,
  }));
}

export function chaptersVtt(chapters: readonly ChapterMarker[], durationSeconds: number | null): string {
  const cues = chapterCues(chapters, durationSeconds);
  const blocks = cues.map(
    (c, i) => `chapter-${i + 1}\n${formatTimestamp(c.start)} --> ${formatTimestamp(c.end)}\n${cueText(c.title)}\n`,
  );
  return `WEBVTT\n\n${blocks.join("\n")}`;
}
