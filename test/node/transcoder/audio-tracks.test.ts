/**
 * Multiple audio tracks (issue 16): a source with two audio streams (eng, spa) goes through probe → ladder →
 * our master like the job's stages do; the master's AUDIO group lists both with LANGUAGE and one DEFAULT,
 * ffprobe reads each audio playlist, and hls.js in Chromium lists both `audioTracks` and, after
 * `hls.audioTrack = 1`, loads fragments from the other rendition.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import type { AudioTracksUpdatedData, ErrorData, FragLoadedData } from "hls.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outputFrameRate, planRungs, runLadder } from "../../../transcoder/src/ffmpeg/ladder.js";
import { type MediaFacts, parseProbeOutput, probe } from "../../../transcoder/src/ffmpeg/probe.js";
import { binaryEnv } from "../../../transcoder/src/ffmpeg/static-env.js";
import { labelAudioStreams, planAudioRenditions } from "../../../transcoder/src/hls/audio-group.js";
import { writeMaster } from "../../../transcoder/src/hls/master.js";
import { launchChromium, servePlayerPage } from "../support/browser.js";
import { ffmpegBin } from "../support/media.js";
import type { PageGlobals } from "../support/page-globals";
import { ffprobeJson, parseM3u8, removeDir, tempDir } from "./helpers/media.js";
import { serveDir } from "./helpers/serve-dir.js";

const execFileAsync = promisify(execFile);

let dir: string;
let source: string;
let facts: MediaFacts;
let master: string;
let out: string;

/** testsrc2 + a 440 Hz English track + an 880 Hz Spanish one (default disposition on the first). */
async function twoAudioSource(file: string): Promise<void> {
  const ffmpeg = await ffmpegBin();
  await execFileAsync(
    ffmpeg,
    [
      ...["-hide_banner", "-nostdin", "-y", "-loglevel", "error"],
      ...["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=8"],
      ...["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=8"],
      ...["-f", "lavfi", "-i", "sine=frequency=880:sample_rate=44100:duration=8"],
      ...["-map", "0:v", "-map", "1:a", "-map", "2:a"],
      ...["-c:v", "libx264", "-preset", "ultrafast", "-g", "60", "-pix_fmt", "yuv420p", "-c:a", "aac"],
      ...["-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=spa"],
      ...["-metadata:s:a:1", "title=Español (doblaje)"],
      ...["-disposition:a:0", "default", "-disposition:a:1", "0"],
      file,
    ],
    { env: binaryEnv(ffmpeg) },
  );
}

beforeAll(async () => {
  dir = await tempDir();
  source = path.join(dir, "two-audio.mkv");
  await twoAudioSource(source);
  facts = await probe(source);
  out = path.join(dir, "out");
  const video = facts.video!;
  const rungs = planRungs(video.displayWidth, video.displayHeight, "1080p", video.frameRate);
  const audio = planAudioRenditions(facts.audio, facts.audioStreams);
  await runLadder(
    {
      kind: "ladder",
      input: source,
      video: { streamIndex: video.index, rungs, frameRate: outputFrameRate(video) },
      audioStreamIndex: facts.audio?.index,
      extraAudio: audio.slice(1).map((a) => ({ streamIndex: a.facts.index, dir: a.label.dir })),
    },
    out,
    { durationSeconds: facts.duration },
  );
  const refs = [
    ...rungs.map((r) => ({ name: r.name, type: "video" as const })),
    ...audio.map((a) => ({ name: a.label.dir, type: "audio" as const })),
  ];
  ({ master } = await writeMaster(out, refs, { audioLabels: audio.map((a) => a.label) }));
}, 120_000);

afterAll(async () => {
  await removeDir(dir);
});

describe("probe", () => {
  it("lists every audio stream with its language, title and disposition", () => {
    expect(facts.audio).toMatchObject({ index: 1, language: "eng", isDefault: true });
    expect(facts.audioStreams?.map((a) => [a.index, a.language, a.title ?? null, a.isDefault])).toEqual([
      [1, "eng", null, true],
      [2, "spa", "Español (doblaje)", false],
    ]);
  });

  it("keeps a single-audio source's facts as they were (no audioStreams)", () => {
    const single = parseProbeOutput(
      {
        format: { format_name: "mov,mp4,m4a,3gp,3g2,mj2", duration: "2" },
        streams: [{ index: 0, codec_type: "audio", codec_name: "aac", channels: 2, sample_rate: "48000" }],
      },
      100,
    );
    expect(single.audio?.index).toBe(0);
    expect(single.audioStreams).toBeUndefined();
  });

  it("leaves out an audio stream it cannot decode instead of failing", () => {
    const f = parseProbeOutput(
      {
        format: { format_name: "matroska,webm", duration: "2" },
        streams: [
          { index: 0, codec_type: "video", codec_name: "h264", width: 64, height: 64, r_frame_rate: "30/1" },
          { index: 1, codec_type: "audio", codec_name: "aac", channels: 2, sample_rate: "48000" },
          { index: 2, codec_type: "audio", codec_name: "none" },
          { index: 3, codec_type: "audio", codec_name: "opus", channels: 2, sample_rate: "48000" },
        ],
      },
      100,
    );
    expect(f.audioStreams?.map((a) => a.index)).toEqual([1, 3]);
  });
});

describe("labels", () => {
  it("names tracks by title, else language, and keeps NAME unique", () => {
    const labels = labelAudioStreams([
      { language: "eng", isDefault: false },
      { language: "eng", isDefault: true },
      { language: undefined, title: undefined },
      { language: "xx-!!" },
    ]);
    expect(labels.map((l) => [l.dir, l.name, l.language ?? null, l.isDefault])).toEqual([
      ["audio", "English", "en", false],
      ["audio_1", "English 2", "en", true],
      ["audio_2", "Audio 3", null, false],
      ["audio_3", "Audio 4", null, false],
    ]);
  });
});

describe("ladder with two audio streams", () => {
  it("writes an AUDIO group with both, one DEFAULT, and variants that reference it", () => {
    const m = parseM3u8(master);
    const group = m.mediaGroups.AUDIO.audio as Record<string, { language?: string; default: boolean; uri: string }>;
    expect(Object.keys(group)).toEqual(["English", "Español (doblaje)"]);
    expect(group.English).toMatchObject({ language: "en", default: true, uri: "audio/index.m3u8" });
    expect(group["Español (doblaje)"]).toMatchObject({ language: "es", default: false, uri: "audio_1/index.m3u8" });
    expect(master.match(/^#EXT-X-MEDIA:TYPE=AUDIO/gm)).toHaveLength(2);
    expect(m.playlists.length).toBeGreaterThan(0);
    for (const p of m.playlists) expect(p.attributes.AUDIO).toBe("audio");
  });

  it("makes each audio playlist a readable AAC stream of the full duration", async () => {
    for (const d of ["audio", "audio_1"]) {
      const j = (await ffprobeJson(path.join(out, d, "index.m3u8"))) as {
        streams: { codec_type: string; codec_name: string; channels: number; sample_rate: string }[];
        format: { duration: string };
      };
      expect(j.streams.map((s) => [s.codec_type, s.codec_name, s.channels, s.sample_rate])).toEqual([
        ["audio", "aac", 2, "48000"],
      ]);
      expect(Number(j.format.duration)).toBeGreaterThan(7.5);
    }
  });

  it("plays in hls.js: both audioTracks listed, switching loads the other rendition", async () => {
    const files = await serveDir(out);
    const src = `${files.origin}/master.m3u8`;
    const page$ = await servePlayerPage();
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`${page$.origin}/`);
      const r = (await page.evaluate(
        (s) =>
          new Promise((resolve) => {
            const g = globalThis as unknown as PageGlobals;
            const out = {
              tracks: [] as unknown[],
              before: [] as string[],
              after: [] as string[],
              errors: [] as string[],
            };
            const v = g.document.getElementById("v")!;
            const hls = new g.Hls({ enableWorker: false });
            let switched = false;
            hls.on(g.Hls.Events.AUDIO_TRACKS_UPDATED, (_e: unknown, d: AudioTracksUpdatedData) => {
              out.tracks = d.audioTracks.map((t) => ({ name: t.name, lang: t.lang, default: t.default }));
            });
            hls.on(g.Hls.Events.FRAG_LOADED, (_e: unknown, d: FragLoadedData) => {
              if (d.frag.type !== "audio") return;
              (switched ? out.after : out.before).push(d.frag.url);
              if (!switched && out.before.length >= 1) {
                switched = true;
                hls.audioTrack = 1;
              }
              if (out.after.length >= 2) resolve(out);
            });
            hls.on(g.Hls.Events.ERROR, (_e: unknown, d: ErrorData) => {
              if (d.fatal) {
                out.errors.push(`${d.type}:${d.details}`);
                resolve(out);
              }
            });
            hls.on(g.Hls.Events.MANIFEST_PARSED, () => v.play().catch(() => undefined));
            hls.loadSource(s);
            hls.attachMedia(v);
            setTimeout(() => resolve({ ...out, timedOut: true }), 45_000);
          }),
        src,
      )) as { tracks: unknown[]; before: string[]; after: string[]; errors: string[]; timedOut?: boolean };
      expect(r.errors).toEqual([]);
      expect(r.tracks).toEqual([
        { name: "English", lang: "en", default: true },
        { name: "Español (doblaje)", lang: "es", default: false },
      ]);
      expect(r.before[0]).toMatch(/\/audio\/seg_\d+\.m4s$/);
      expect(r.after.length).toBeGreaterThanOrEqual(2);
      for (const url of r.after) expect(url).toMatch(/\/audio_1\/seg_\d+\.m4s$/);
    } finally {
      await browser.close();
      await page$.close();
      await files.close();
    }
  }, 90_000);
});
