/**
 * The streamed fast path's parts on real ffmpeg output: the faststart layout check, the packet index read
 * from a sparse stand-in holding only the head of the file, the predicted segment cuts against what
 * ffmpeg's HLS muxer really writes, and a remux fed from a file that is still growing.
 */
import { open, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAST_SEGMENT_SECONDS } from "../../../transcoder/src/ffmpeg/hls-output.js";
import {
  faststartLayout,
  indexPackets,
  probeIndexed,
  writeSparseStandIn,
} from "../../../transcoder/src/ffmpeg/mp4-index.js";
import { probe } from "../../../transcoder/src/ffmpeg/probe.js";
import { FAST_DIR, runRemux } from "../../../transcoder/src/ffmpeg/remux.js";
import { parseMediaPlaylist } from "../../../transcoder/src/hls/media-playlist.js";
import { matchesPrediction, predictSegments, renderPredictedPlaylist } from "../../../transcoder/src/hls/predict.js";
import { FIRST_SEGMENT_MARGIN_BYTES, firstSegmentBytes } from "../../../transcoder/src/job/fast-path-streaming.js";
import { GrowingFile } from "../../../transcoder/src/job/growing-file.js";
import { type ClipSpec, makeClip, removeDir, tempDir } from "./helpers/media.js";

let dir: string;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await removeDir(dir);
});

const FASTSTART = ["-movflags", "+faststart"];

/** Streams `source` into `dest` in slices with pauses, like a download, reporting to `file`. */
async function trickle(source: string, file: GrowingFile, slices = 8): Promise<void> {
  const bytes = await readFile(source);
  const fh = await open(file.path, "w");
  try {
    const step = Math.ceil(bytes.length / slices);
    for (let at = 0; at < bytes.length; at += step) {
      const part = bytes.subarray(at, Math.min(bytes.length, at + step));
      await fh.write(part, 0, part.length, at);
      file.progress(at + part.length);
      await sleep(30);
    }
  } finally {
    await fh.close();
  }
  file.complete(bytes.length);
}

const CASES: [string, ClipSpec][] = [
  ["2 s GOP, AAC at 44.1 kHz", { duration: 20, gop: 2, extra: FASTSTART }],
  ["2.5 s GOP (cuts land past each 6 s mark)", { duration: 20, gop: 2.5, extra: FASTSTART }],
  ["B-frames (pts ahead of dts), 1.5 s GOP", { duration: 14, gop: 1.5, extra: ["-preset", "veryfast", ...FASTSTART] }],
  ["video only, 25 fps, 4 s GOP", { duration: 17, fps: 25, gop: 4, audio: false, extra: FASTSTART }],
];

describe("streamed fast path", () => {
  it.each(CASES)(
    "predicts ffmpeg's cuts from the index alone and remuxes a growing file: %s",
    async (name, spec) => {
      const safe = name.replace(/[^a-z0-9]+/gi, "-");
      const clip = await makeClip(dir, `${safe}.mp4`, spec);
      const whole = await readFile(clip);
      const layout = faststartLayout(whole.subarray(0, 64 * 1024));
      expect(layout?.moovEnd).toBeGreaterThan(0);
      expect(layout?.needMore).toBeUndefined();
      // The mvhd's duration (the provisional bound on the download while the index is probed).
      expect(layout?.duration).toBeCloseTo(spec.duration ?? 0, 0);

      // Only the index and the first 16 KiB of media are real; the rest of the stand-in is a hole.
      const standIn = path.join(dir, `${safe}.stand-in`);
      await writeSparseStandIn(standIn, whole.subarray(0, (layout?.moovEnd ?? 0) + 16 * 1024), whole.length);
      const [fromStandIn, fromFile] = await Promise.all([indexPackets(standIn), indexPackets(clip)]);
      expect(fromStandIn.map((p) => [p.stream, p.pts, p.key, p.size])).toEqual(
        fromFile.map((p) => [p.stream, p.pts, p.key, p.size]),
      );
      const facts = await probe(standIn, { keyframes: true, indexOnly: true });
      // The one-run probe the ingest uses gives the same facts (bar the keyframe measure) and the same index.
      const indexed = await probeIndexed(standIn);
      expect(indexed.packets).toEqual(fromStandIn);
      expect(indexed.facts).toEqual({
        ...facts,
        video: facts.video && { ...facts.video, keyframeInterval: undefined },
      });
      expect(facts.video?.keyframeInterval).toBeCloseTo(spec.gop ?? 2, 1);
      expect(facts.duration).toBeCloseTo(spec.duration ?? 0, 0);

      const prediction = predictSegments(fromStandIn, facts.video?.index ?? 0, FAST_SEGMENT_SECONDS);
      expect(prediction?.stable).toBe(true);
      const predicted = prediction?.segments ?? [];
      const total = predicted.reduce((n, s) => n + s.duration, 0);
      expect(total).toBeCloseTo(spec.duration ?? 0, 1);

      const out = path.join(dir, `${safe}-out`);
      const file = new GrowingFile(path.join(dir, `${safe}.download`));
      const remux = runRemux(
        { kind: "remux", input: "pipe:0", videoIndex: facts.video?.index ?? 0, audioIndex: facts.audio?.index },
        out,
        { stdin: file.reader() },
      );
      await Promise.all([trickle(clip, file), remux]);
      const actual = parseMediaPlaylist(await readFile(path.join(out, FAST_DIR, "index.m3u8"), "utf8"));
      expect(actual.segments.map((s) => s.duration)).toEqual(predicted.map((s) => expect.closeTo(s.duration, 2)));
      expect(matchesPrediction(actual, predicted)).toBe(true);
      // The predicted playlist is the real one but for number formatting.
      const rendered = parseMediaPlaylist(renderPredictedPlaylist(predicted, "init.mp4"));
      expect(rendered.segments.map((s) => s.uri)).toEqual(actual.segments.map((s) => s.uri));
      expect(rendered.mapUri).toBe(actual.mapUri);

      // The bytes marked urgent (firstSegmentBytes) are enough for the muxer to close the first segment: a
      // download that stops there, as a bulk download yielding to other jobs does, still makes it final.
      // (Proven here with 64 KiB of the margin only: these clips are smaller than the whole margin.)
      const urgent = firstSegmentBytes(fromStandIn, predicted) - FIRST_SEGMENT_MARGIN_BYTES + 64 * 1024;
      expect(urgent).toBeLessThan(whole.length);
      const out2 = path.join(dir, `${safe}-urgent`);
      const partial = new GrowingFile(path.join(dir, `${safe}.partial`));
      const remux2 = runRemux(
        { kind: "remux", input: "pipe:0", videoIndex: facts.video?.index ?? 0, audioIndex: facts.audio?.index },
        out2,
        { stdin: partial.reader() },
      );
      await writeFile(partial.path, whole.subarray(0, urgent));
      partial.progress(urgent);
      const second = path.join(out2, FAST_DIR, "seg_00001.m4s");
      const deadline = Date.now() + 30_000;
      while (!(await stat(second).catch(() => undefined)) && Date.now() < deadline) await sleep(50);
      expect(
        await stat(second).catch(() => undefined),
        "second segment opened on the urgent bytes alone",
      ).toBeDefined();
      const fh = await open(partial.path, "r+");
      await fh.write(whole, urgent, whole.length - urgent, urgent);
      await fh.close();
      partial.complete(whole.length);
      await remux2;
    },
    120_000,
  );

  it("does not stream a file whose index comes after its media, a fragmented MP4, or one that is not MP4 at all", async () => {
    const moovLast = await readFile(await makeClip(dir, "moov-last.mp4", { duration: 2 }));
    expect(faststartLayout(moovLast.subarray(0, 64 * 1024))).toBeUndefined();
    // Fragmented (OBS's fragmented MP4, a live recording): the moov comes first but indexes no samples.
    const fragmented = await readFile(
      await makeClip(dir, "fragmented.mp4", { duration: 2, extra: ["-movflags", "+frag_keyframe+empty_moov"] }),
    );
    expect(faststartLayout(fragmented.subarray(0, 64 * 1024))).toBeUndefined();
    const ts = await readFile(await makeClip(dir, "clip.ts", { duration: 2 }));
    expect(faststartLayout(ts.subarray(0, 64 * 1024))).toBeUndefined();
    const faststart = await readFile(await makeClip(dir, "short-head.mp4", { duration: 4, extra: FASTSTART }));
    const moovEnd = faststartLayout(faststart)?.moovEnd ?? 0;
    expect(faststartLayout(faststart.subarray(0, moovEnd - 10))).toEqual({ moovEnd, needMore: moovEnd });
  }, 60_000);

  it("fails the reader when the download starts over instead of feeding ffmpeg a spliced file", async () => {
    const file = new GrowingFile(path.join(dir, "restart.bin"));
    await writeFile(file.path, Buffer.alloc(4096, 1));
    file.progress(4096);
    const chunks: Buffer[] = [];
    const reading = (async () => {
      for await (const chunk of file.reader()) chunks.push(chunk as Buffer);
    })();
    await sleep(20);
    file.progress(100);
    await expect(reading).rejects.toThrow(/started over/);
    expect(Buffer.concat(chunks).length).toBe(4096);
  });

  it("ends a reader stopped while it waits, before the first byte or mid-file, with the stop's reason", async () => {
    // A remux stopped before the download has written anything (job/streaming-remux.ts) must end at once,
    // not when the download next moves (a download that never moves again would keep it forever).
    const empty = new GrowingFile(path.join(dir, "never.bin"));
    const before = new AbortController();
    const waiting = (async () => {
      for await (const _ of empty.reader(before.signal)) throw new Error("no bytes were written");
    })();
    setTimeout(() => before.abort(new Error("the source does not stream")), 30);
    await expect(waiting).rejects.toThrow("the source does not stream");

    const partial = new GrowingFile(path.join(dir, "partial.bin"));
    await writeFile(partial.path, Buffer.alloc(2048, 7));
    partial.progress(2048);
    const mid = new AbortController();
    let got = 0;
    const reading = (async () => {
      for await (const chunk of partial.reader(mid.signal)) got += (chunk as Buffer).length;
    })();
    await sleep(30);
    mid.abort(new Error("the job stopped"));
    await expect(reading).rejects.toThrow("the job stopped");
    expect(got).toBe(2048);
  });
});
