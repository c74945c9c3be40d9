/**
 * The HLS output options every rendition shares: VOD, fMP4/CMAF segments of ~6 s, `init.mp4`
 * and `seg_%05d.m4s` next to `index.m3u8` in the rendition's own folder. Each output is a
 * separate muxer with its own options, which ffmpeg has supported since 4.0; we never use
 * ffmpeg's master playlist or `-var_stream_map`.
 */

export const SEGMENT_SECONDS = 6;
/**
 * The fast rendition's segments are cut at the first keyframe ≥ 2 s apart instead: it exists to be
 * playable sooner, and a first segment of 2 s needs a third of the source bytes (and of the upload) of a
 * 6 s one before the asset can be published. The ladder, which replaces it, keeps 6 s segments.
 */
export const FAST_SEGMENT_SECONDS = 2;
export const PLAYLIST_NAME = "index.m3u8";
export const INIT_NAME = "init.mp4";

/** Options placed before the output path, which is `<dir>/index.m3u8` relative to ffmpeg's cwd. */
export function hlsOutputArgs(dir: string, startNumber?: number, segmentSeconds = SEGMENT_SECONDS): string[] {
  return [
    // Source tags (GPS in phone videos, encoder names) never reach viewers.
    "-map_metadata",
    "-1",
    "-map_chapters",
    "-1",
    // Outputs of one process start at different times; let the slow ones queue instead of failing.
    "-max_muxing_queue_size",
    "4096",
    "-f",
    "hls",
    "-hls_time",
    String(segmentSeconds),
    "-hls_playlist_type",
    "vod",
    "-hls_segment_type",
    "fmp4",
    "-hls_fmp4_init_filename",
    INIT_NAME,
    // A chunk of the segment-parallel ladder numbers its segments where they sit in the whole.
    ...(startNumber ? ["-start_number", String(startNumber)] : []),
    "-hls_segment_filename",
    `${dir}/seg_%05d.m4s`,
    `${dir}/${PLAYLIST_NAME}`,
  ];
}
