/**
 * Playlist and storyboard rewriting. Stored playlists use paths relative to the run prefix
 * (`v720/index.m3u8`, `seg_00000.m4s`); viewers get absolute paths under `/{playback_id}/…`, with
 * `?token=` appended for signed playback so authorization flows into every child request without
 * player-side configuration (hls.js, Safari, video.js).
 */

const URI_ATTR = /URI="([^"]*)"/g;

/**
 * Resolves `uri` against `base` (an absolute path ending in `/`) and appends the token. Absolute
 * URLs and anything that would escape the playback ID's path are left alone / dropped to base.
 */
export function rewriteUri(
  uri: string,
  base: string,
  scope: string,
  token: string | null,
  playlistParams: Record<string, string> = {},
): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(uri)) return uri; // absolute URL (data:, https:) — not ours to touch
  const [pathPart, fragment] = splitFragment(uri);
  const resolved = new URL(pathPart, `https://edge.invalid${base}`);
  if (!resolved.pathname.startsWith(scope)) return uri;
  const params = new URLSearchParams(resolved.search);
  // Child playlists inherit request-level parameters (an instant clip's range); segments never do.
  if (resolved.pathname.endsWith(".m3u8")) for (const [k, v] of Object.entries(playlistParams)) params.set(k, v);
  if (token) params.set("token", token);
  const qs = params.toString();
  return `${resolved.pathname}${qs ? `?${qs}` : ""}${fragment}`;
}

function splitFragment(uri: string): [string, string] {
  const i = uri.indexOf("#");
  return i === -1 ? [uri, ""] : [uri.slice(0, i), uri.slice(i)];
}

/** Rewrites URI lines and `URI="…"` attributes (EXT-X-MEDIA, EXT-X-MAP, EXT-X-I-FRAME-STREAM-INF, …). */
export function rewritePlaylist(
  text: string,
  base: string,
  scope: string,
  token: string | null,
  playlistParams: Record<string, string> = {},
): string {
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const t = line.trim();
    if (t === "") out.push(line);
    else if (t.startsWith("#")) {
      out.push(
        t.startsWith("#EXT")
          ? line.replace(URI_ATTR, (_m, u) => `URI="${rewriteUri(u, base, scope, token, playlistParams)}"`)
          : line,
      );
    } else out.push(rewriteUri(t, base, scope, token, playlistParams));
  }
  return out.join("\n");
}

/** Storyboard cues point at the sprite (`storyboard.jpg#xywh=…`); make those absolute + tokened. */
export function rewriteStoryboardVtt(text: string, base: string, scope: string, token: string | null): string {
  return text
    .split(/\r?\n/)
    .map((line) => {
      const t = line.trim();
      if (/^[^\s#][^\s]*\.(jpe?g|png|webp)(#xywh=\d+,\d+,\d+,\d+)?$/i.test(t) && !t.includes("-->")) {
        return rewriteUri(t, base, scope, token);
      }
      return line;
    })
    .join("\n");
}

export function hasEndList(text: string): boolean {
  return /^#EXT-X-ENDLIST\s*$/m.test(text);
}
