/**
 * A minimal reader for the media playlists ffmpeg writes (VOD, fMP4, one EXT-X-MAP, no byte
 * ranges). Kept in-house so the transcoder image needs no parser package at run time.
 */

export interface MediaSegment {
  uri: string;
  duration: number;
}

export interface MediaPlaylist {
  version?: number;
  targetDuration: number;
  playlistType?: string;
  /** URI of the EXT-X-MAP initialization section (init.mp4). */
  mapUri?: string;
  segments: MediaSegment[];
  endList: boolean;
}

function attribute(list: string, name: string): string | undefined {
  const m = new RegExp(`(?:^|,)${name}=(?:"([^"]*)"|([^,]*))`).exec(list);
  return m ? (m[1] ?? m[2]) : undefined;
}

/** URIs we upload as files must be plain names in the rendition's folder. */
function assertLocalName(uri: string): string {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(uri) || uri.startsWith(".")) {
    throw new Error(`unexpected URI in media playlist: ${JSON.stringify(uri)}`);
  }
  return uri;
}

export function parseMediaPlaylist(text: string): MediaPlaylist {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  if (lines[0] !== "#EXTM3U") throw new Error("not an M3U8 playlist (missing #EXTM3U)");
  const playlist: MediaPlaylist = { targetDuration: 0, segments: [], endList: false };
  let pendingDuration: number | undefined;
  for (const line of lines.slice(1)) {
    if (!line) continue;
    if (line.startsWith("#")) {
      const colon = line.indexOf(":");
      const tag = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? "" : line.slice(colon + 1);
      switch (tag) {
        case "#EXT-X-VERSION":
          playlist.version = Number(value);
          break;
        case "#EXT-X-TARGETDURATION":
          playlist.targetDuration = Number(value);
          break;
        case "#EXT-X-PLAYLIST-TYPE":
          playlist.playlistType = value;
          break;
        case "#EXT-X-MAP": {
          const uri = attribute(value, "URI");
          if (uri) playlist.mapUri = assertLocalName(uri);
          break;
        }
        case "#EXTINF":
          pendingDuration = Number.parseFloat(value);
          break;
        case "#EXT-X-BYTERANGE":
          throw new Error("byte-range playlists are not expected here");
        case "#EXT-X-ENDLIST":
          playlist.endList = true;
          break;
      }
      continue;
    }
    if (pendingDuration === undefined || !Number.isFinite(pendingDuration)) {
      throw new Error(`segment ${line} has no #EXTINF duration`);
    }
    playlist.segments.push({ uri: assertLocalName(line), duration: pendingDuration });
    pendingDuration = undefined;
  }
  return playlist;
}

/**
 * A VOD media playlist as ffmpeg's hls muxer writes it (same tags, same order, same number format): the
 * predicted fast playlist and the stitched chunked-ladder playlists are both compared with or stand in for
 * ffmpeg's own. ffmpeg rounds the target duration (lrint), which is what RFC 8216 asks: each EXTINF rounded
 * is at most the target.
 */
export function renderVodPlaylist(segments: readonly { duration: number; uri: string }[], initName: string): string {
  const target = Math.max(1, ...segments.map((s) => Math.round(s.duration)));
  const lines = [
    "#EXTM3U",
    "#EXT-X-VERSION:7",
    `#EXT-X-TARGETDURATION:${target}`,
    "#EXT-X-MEDIA-SEQUENCE:0",
    "#EXT-X-PLAYLIST-TYPE:VOD",
    `#EXT-X-MAP:URI="${initName}"`,
  ];
  for (const s of segments) lines.push(`#EXTINF:${s.duration.toFixed(6)},`, s.uri);
  lines.push("#EXT-X-ENDLIST", "");
  return lines.join("\n");
}
