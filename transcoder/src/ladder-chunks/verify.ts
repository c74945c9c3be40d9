/**
 * Checks a stitched rendition the way a player sees it: init.mp4 followed by every segment of the
 * playlist, read by ffprobe as one stream. Frames must follow each other at the frame interval (no gap,
 * no overlap over one frame at a join), every segment must start with a keyframe, and each segment's
 * `tfdt` must be where the previous one ended. Used by the tests and the bench; it reads files only.
 */

import { readFile } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { INIT_NAME, PLAYLIST_NAME } from "../ffmpeg/hls-output.js";
import { runProcess } from "../ffmpeg/process.js";
import { boxes } from "./fmp4.js";

export interface RenditionCheck {
  segments: number;
  frames: number;
  /** First frame's pts to the last frame's end, in seconds. */
  durationSeconds: number;
  /** Sum of the playlist's EXTINF. */
  playlistSeconds: number;
  /** The largest departure of a frame's pts from the one before plus one frame interval, in seconds. */
  worstStepError: number;
  frameInterval: number;
  problems: string[];
}

interface Packet {
  pts_time?: string;
  dts_time?: string;
  duration_time?: string;
  flags?: string;
  pos?: string;
}

export async function verifyRendition(dir: string, ffprobe: string): Promise<RenditionCheck> {
  const playlist = await readFile(path.join(dir, PLAYLIST_NAME), "utf8");
  const lines = playlist.split("\n").map((l) => l.trim());
  const names = lines.filter((l) => l && !l.startsWith("#"));
  const playlistSeconds = lines
    .map((l) => /^#EXTINF:([\d.]+)/.exec(l)?.[1])
    .filter((x): x is string => x !== undefined)
    .reduce((a, x) => a + Number(x), 0);
  const maps = lines.filter((l) => l.startsWith("#EXT-X-MAP"));
  const problems: string[] = [];
  if (maps.length !== 1 || !maps[0]?.includes(`"${INIT_NAME}"`))
    problems.push(`expected one EXT-X-MAP to ${INIT_NAME}, found ${maps.length}`);
  const init = await readFile(path.join(dir, INIT_NAME));
  const parts: Buffer[] = [init];
  const starts: number[] = [];
  const decodeTimes: number[] = [];
  let offset = init.length;
  for (const name of names) {
    const seg = await readFile(path.join(dir, name));
    starts.push(offset);
    offset += seg.length;
    parts.push(seg);
    const tfdt = boxes(seg).find((b) => b.type === "tfdt");
    if (!tfdt) problems.push(`${name}: no tfdt`);
    else {
      const v = seg.readUInt8(tfdt.payload);
      decodeTimes.push(v === 1 ? Number(seg.readBigUInt64BE(tfdt.payload + 4)) : seg.readUInt32BE(tfdt.payload + 4));
    }
  }
  const { stdout } = await runProcess(
    ffprobe,
    [
      "-v",
      "error",
      "-select_streams",
      "v:0",
      "-show_entries",
      "packet=pts_time,dts_time,duration_time,flags,pos",
      "-of",
      "json",
      "-i",
      "pipe:0",
    ],
    { collectStdout: true, stdin: Readable.from([Buffer.concat(parts)]) },
  );
  const packets = ((JSON.parse(stdout) as { packets?: Packet[] }).packets ?? []).filter(
    (p) => p.pts_time !== undefined,
  );
  // Each segment's first packet (by byte position) must be a keyframe.
  for (let i = 0; i < starts.length; i++) {
    const start = starts[i] as number;
    const end = starts[i + 1] ?? offset;
    const first = packets.find((p) => Number(p.pos) >= start && Number(p.pos) < end);
    if (!first) problems.push(`${names[i]}: no video packet`);
    else if (!first.flags?.includes("K")) problems.push(`${names[i]}: does not start with a keyframe`);
  }
  const pts = packets.map((p) => Number(p.pts_time)).sort((a, b) => a - b);
  const durations = packets.map((p) => Number(p.duration_time)).filter((d) => d > 0);
  const frameInterval = durations.length ? (durations.sort((a, b) => a - b)[durations.length >> 1] as number) : 0;
  let worstStepError = 0;
  for (let i = 1; i < pts.length; i++) {
    const err = Math.abs((pts[i] as number) - (pts[i - 1] as number) - frameInterval);
    worstStepError = Math.max(worstStepError, err);
    if (err > frameInterval * 0.5)
      problems.push(`frame ${i}: pts ${pts[i]} follows ${pts[i - 1]} (interval ${frameInterval.toFixed(6)})`);
  }
  // Decode times grow by whole segments: the next tfdt is where this one's samples end (checked via pts above);
  // here only that they increase, which a chunk left at tfdt 0 would break.
  for (let i = 1; i < decodeTimes.length; i++) {
    if ((decodeTimes[i] as number) <= (decodeTimes[i - 1] as number))
      problems.push(`${names[i]}: tfdt ${decodeTimes[i]} does not follow ${decodeTimes[i - 1]}`);
  }
  const first = pts[0] ?? 0;
  const last = pts.at(-1) ?? 0;
  return {
    segments: names.length,
    frames: pts.length,
    durationSeconds: pts.length ? last + frameInterval - first : 0,
    playlistSeconds,
    worstStepError,
    frameInterval,
    problems: problems.slice(0, 20),
  };
}
