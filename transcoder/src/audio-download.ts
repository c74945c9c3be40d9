/**
 * `audio.m4a` beside `highest.mp4` (issue 16): every asset with sound gets an audio-only download when it
 * asks for mp4_support, not only audio-only assets — for podcast feeds, audio players and transcription.
 * A stream copy of the AAC rendition the ladder already wrote (./ffmpeg/progressive.ts), so it costs no
 * encode.
 */
import { DOWNLOADS_DIR, type StaticRenditionFile } from "../../src/lib/transcoder-protocol.js";
import { AUDIO_DIR } from "./ffmpeg/ladder.js";
import type { RunFfmpegOptions } from "./ffmpeg/process.js";
import { runProgressive } from "./ffmpeg/progressive.js";

export async function makeAudioDownload(o: {
  outputDir: string;
  scratchDir: string;
  durationSeconds: number;
  run: RunFfmpegOptions;
  put: (rel: string) => Promise<unknown>;
}): Promise<StaticRenditionFile> {
  const rel = `${DOWNLOADS_DIR}/audio.m4a`;
  const made = await runProgressive({ audioDir: AUDIO_DIR, output: rel, scratchDir: o.scratchDir }, o.outputDir, o.run);
  await o.put(rel);
  return {
    name: "audio.m4a",
    ext: "m4a",
    bitrate: Math.max(1, Math.round((made.bytes * 8) / Math.max(o.durationSeconds, 0.001))),
    filesize: made.bytes,
  };
}
