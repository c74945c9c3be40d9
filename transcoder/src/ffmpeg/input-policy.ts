/**
 * What ffmpeg and ffprobe may open while reading an input. A source is whatever a customer uploaded, and
 * some containers are really lists of other URLs: an HLS playlist or an ffconcat file renamed `.mp4`
 * makes a bare `-i` read `file:///etc/passwd` or fetch other hosts (with the `-headers` we pass, i.e. the
 * source token). So every input we open gets
 *
 *   -protocol_whitelist  only the protocol the input itself needs (`file`; `http,https,tcp,tls` for the
 *                        API's source URL; `concat,file` for our own segment lists), inherited by anything
 *                        a demuxer opens from it;
 *   -format_whitelist    single-file media demuxers only: no `hls`, `dash`, `concat`, `image2` (file
 *                        patterns), `lavfi` (its `movie` filter opens files) or any other demuxer that
 *                        opens further URLs. Still-image pipes stay allowed so a picture is still refused
 *                        precisely as `input_unsupported` by the probe.
 *
 * Both options exist in every ffmpeg/ffprobe we support (checked on the npm 4.1 build and system 5.1).
 * A refused demuxer makes ffprobe fail with "Format not on whitelist", which the probe reports as
 * `input_unsupported` (see probe.ts).
 */

/** Demuxer names (ffmpeg matches any of a demuxer's comma-separated names against this list). */
export const SOURCE_FORMATS = [
  // ISO BMFF / QuickTime (the mov demuxer is "mov,mp4,m4a,3gp,3g2,mj2")
  "mov",
  "mp4",
  "m4a",
  "3gp",
  "3g2",
  "mj2",
  "matroska",
  "webm",
  "avi",
  "flv",
  "live_flv",
  "mpegts",
  "mpeg",
  "mpegvideo",
  "m4v",
  "h264",
  "hevc",
  "ivf",
  "obu",
  "mxf",
  "asf",
  "nut",
  "dv",
  "yuv4mpegpipe",
  "ogg",
  "wav",
  "w64",
  "aiff",
  "caf",
  "mp3",
  "aac",
  "ac3",
  "eac3",
  "flac",
  "amr",
  "gif",
  // Single still images: accepted by the demuxer so the probe can refuse them as input_unsupported.
  "png_pipe",
  "jpeg_pipe",
  "bmp_pipe",
  "webp_pipe",
  "tiff_pipe",
  "gif_pipe",
].join(",");

export const FORMAT_NOT_ALLOWED_RE = /Format not on whitelist|Protocol '([^']*)' not on whitelist/;

function protocolsFor(input: string): string {
  if (/^https?:\/\//i.test(input)) return "http,https,tcp,tls";
  if (input.startsWith("concat:")) return "concat,file";
  // The source streamed in by the runner itself (never a name that came off the wire).
  if (input === "pipe:0") return "pipe";
  return "file";
}

/** Options to place right before `-i <input>` (ffmpeg) or before the input (ffprobe). */
export function inputPolicyArgs(input: string): string[] {
  return ["-protocol_whitelist", protocolsFor(input), "-format_whitelist", SOURCE_FORMATS];
}
