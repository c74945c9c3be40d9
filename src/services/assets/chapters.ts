/** Chapter markers on an asset: stored sorted; rendered as a WebVTT chapters file by the edge. */
import type { Chapter } from "./schemas";

export function sortChapters(list: Chapter[]): Chapter[] {
  return [...list]
    .sort((a, b) => a.start_time - b.start_time)
    .map((c) => ({ start_time: c.start_time, title: c.title }));
}
