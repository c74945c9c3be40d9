/**
 * The live media playlist the edge serves, as the ladder reads it: each segment's sequence number (MEDIA-
 * SEQUENCE + position), its absolute URL, its init segment (EXT-X-MAP, fMP4) and whether the broadcast ended.
 */
export interface SourceSegment {
  seq: number;
  url: string;
  map: string | null;
}

export function parseSourcePlaylist(text: string, base: string): { segments: SourceSegment[]; ended: boolean } | null {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  if (lines[0] !== "#EXTM3U") return null;
  let seq = 0;
  let map: string | null = null;
  let ended = false;
  let gap = false;
  const segments: SourceSegment[] = [];
  for (const line of lines) {
    if (line.startsWith("#EXT-X-MEDIA-SEQUENCE:")) seq = Number(line.slice(22));
    else if (line.startsWith("#EXT-X-MAP:")) {
      const uri = /URI="([^"]+)"/.exec(line)?.[1];
      map = uri ? new URL(uri, base).toString() : null;
    } else if (line === "#EXT-X-GAP") gap = true;
    else if (line === "#EXT-X-ENDLIST") ended = true;
    else if (line && !line.startsWith("#")) {
      if (!gap) segments.push({ seq, url: new URL(line, base).toString(), map });
      gap = false;
      seq++;
    }
  }
  return { segments, ended };
}
