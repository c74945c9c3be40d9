/**
 * One live ladder encode: a source segment (MPEG-TS, or an fMP4 init + media segment) in on stdin, the same
 * span scaled down to one rendition out as MPEG-TS on stdout. Pure argument building.
 *
 * Alignment: `-copyts` keeps the source's timestamps, `-vsync passthrough` keeps every frame where it was,
 * and, on ffmpeg ≥ 5, `-enc_time_base -1` keeps the demuxer's 1/90000 time base (x264 would otherwise round
 * the first PTS to the frame rate's grid, up to half a frame off); `-muxdelay 0 -muxpreload 0` add no offset.
 * The npm ffmpeg (the 2018 4.1-era snapshot N-47683) must not get `-enc_time_base -1`: its libx264 wrapper
 * then takes the 1/90000 time base for the frame rate (x264 logs "MB rate (36450000) > level limit", picks
 * level 6.2 and spends ~40 % of the bitrate asked, the first IDR at QP 51); without it that build lands
 * within half a frame (1.4 ms on a 29.97 fps source offset by 12.3 ms), which is what keepsSourceTimeBase says. Each output starts
 * with an IDR (a fresh encoder) and has no other keyframe the source did not force, so the rendition
 * segment covers exactly the source segment's frames and starts at its start time (ffprobe agrees to the
 * 90 kHz tick; the e2e test checks one frame).
 *
 * Audio is stream-copied into every rendition segment rather than published once as its own rendition: the
 * source rendition carries its audio muxed (the broadcaster's segments), so a separate audio rendition
 * would either need the source re-muxed too or play the audio twice for source viewers; copying costs no
 * CPU (the bytes of a 64–128 kb/s track per rendition) and keeps every variant a self-contained TS that any
 * player can switch to without an audio group.
 */
import { LIVE_RENDITION_KBPS, type LiveRendition, renditionHeight } from "../../../src/lib/live-ladder-protocol.js";
import type { FfmpegVersion } from "../ffmpeg/binaries.js";

/**
 * Whether this ffmpeg can encode in the input's time base (`-enc_time_base -1`) with x264 still told the
 * real frame rate: ffmpeg ≥ 5 (5.1 measured: level 2.1, 336 kb/s of 320k asked for a 240p segment). The npm
 * build (no release number) and 4.x give x264 a 90000 fps frame rate (level 6.2, 118 kb/s, QP 51 IDR).
 */
export function keepsSourceTimeBase(version: FfmpegVersion): boolean {
  return version.major !== undefined && version.major >= 5;
}

/**
 * x264 preset of the live ladder: `superfast` by default (≈ 0.45 s CPU per 2 s 480p→360p segment at 30 fps
 * on this machine, against ≈ 0.6 s for veryfast); KEYFRAME_LIVE_LADDER_PRESET trades CPU for quality per bit.
 */
export function ladderPreset(): string {
  const p = process.env.KEYFRAME_LIVE_LADDER_PRESET;
  return p && /^(ultrafast|superfast|veryfast|faster|fast|medium)$/.test(p) ? p : "superfast";
}

/** `-benchmark` needs info level to print; stats and the banner stay off. */
export function renditionArgs(
  rendition: LiveRendition,
  opts: { preset?: string; sourceTimeBase?: boolean } = {},
): string[] {
  const kbps = LIVE_RENDITION_KBPS[rendition];
  const h = renditionHeight(rendition);
  return [
    "-hide_banner",
    "-nostats",
    "-loglevel",
    "info",
    "-benchmark",
    "-copyts",
    "-i",
    "pipe:0",
    "-map",
    "0:v:0",
    "-map",
    "0:a?",
    "-c:a",
    "copy",
    // The short side becomes the rendition's height (portrait stays portrait); even sizes for 4:2:0.
    "-vf",
    `scale=w='if(gte(iw,ih),-2,${h})':h='if(gte(iw,ih),${h},-2)',format=yuv420p`,
    "-c:v",
    "libx264",
    "-preset",
    opts.preset ?? ladderPreset(),
    "-profile:v",
    "main",
    // One IDR at the start of each segment (a fresh encoder), none after: segment = GOP, like the source.
    "-g",
    "100000",
    "-keyint_min",
    "100000",
    "-sc_threshold",
    "0",
    "-b:v",
    `${Math.round(kbps * 0.8)}k`,
    "-maxrate",
    `${kbps}k`,
    "-bufsize",
    `${kbps * 2}k`,
    "-vsync",
    "passthrough",
    ...(opts.sourceTimeBase === false ? [] : ["-enc_time_base", "-1"]),
    "-muxdelay",
    "0",
    "-muxpreload",
    "0",
    "-f",
    "mpegts",
    "pipe:1",
  ];
}

/** CPU seconds ffmpeg reports with `-benchmark` (`bench: utime=0.159s stime=0.048s rtime=0.432s`). */
export function parseBenchmark(stderr: string): { cpuSeconds: number; wallSeconds: number } | null {
  const m = /bench: utime=([\d.]+)s stime=([\d.]+)s rtime=([\d.]+)s/.exec(stderr);
  return m ? { cpuSeconds: Number(m[1]) + Number(m[2]), wallSeconds: Number(m[3]) } : null;
}
