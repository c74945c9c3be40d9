/**
 * Progressive downloads (static renditions): which file names exist and the `Content-Disposition`
 * that saves them under the asset's title. The header carries both forms RFC 6266 asks for: an
 * ASCII-only `filename="…"` for old clients and an RFC 5987 `filename*=UTF-8''…` with the real name.
 */
import { STATIC_RENDITION_NAMES, type StaticRenditionName } from "../../../src/lib/transcoder-protocol";

export function isStaticRenditionName(file: string): file is StaticRenditionName {
  return (STATIC_RENDITION_NAMES as readonly string[]).includes(file);
}

const MAX_NAME_CHARS = 120;

/** RFC 5987 attr-char: ALPHA / DIGIT / "!#$&+-.^_`|~"; everything else is percent-encoded UTF-8. */
function encodeRfc5987(value: string): string {
  return encodeURIComponent(value).replace(
    /['()*]/g,
    (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`,
  );
}

/** `attachment; filename="<title>.mp4"; filename*=UTF-8''<title>.mp4`, falling back to the asset ID. */
export function contentDisposition(title: string | null, fallback: string, ext: string): string {
  // No control characters, no path separators or characters file systems refuse, no leading dots.
  const cleaned = (title ?? "")
    .normalize("NFC")
    .replace(/[\p{Cc}\p{Cf}\u2028\u2029]/gu, "")
    .replace(/[\\/:*?"<>|]/g, "_")
    .replace(/\s+/g, " ")
    .trim()
    .replace(/^\.+/, "");
  const base = Array.from(cleaned).slice(0, MAX_NAME_CHARS).join("").trim() || fallback;
  const name = base.toLowerCase().endsWith(`.${ext}`) ? base : `${base}.${ext}`;
  // The quoted fallback: printable ASCII only, and nothing a lax parser might unescape or decode.
  const ascii = Array.from(name, (ch) => (/^[\x20-\x7e]$/.test(ch) && !/["\\%]/.test(ch) ? ch : "_")).join("");
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeRfc5987(name)}`;
}
