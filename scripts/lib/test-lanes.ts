/**
 * How `npm test` splits the whole suite into lanes: separate Vitest processes run side by side (scripts/test.ts).
 *
 * One Vitest process ran the three projects one after another and every node file alone (the node and workers
 * projects cannot run their own files in parallel: see vitest.config.ts), so the suite took the sum of its
 * files: 1,913 s on a 2-core machine, while most end-to-end files spend their time waiting on ffmpeg, a
 * real-time broadcast or a stack starting up. Lanes overlap that waiting: the first two-lane CI run took
 * 1,400 s for the tests (25.5 min for all of `.ci/run`, was 34.3). Lane 1 takes the workers and edge
 * projects (one workerd runtime each, as before); the node files are dealt out longest first to the lane
 * with the least work so far.
 *
 * The weights are seconds per file as measured in a two-lane CI run (fresh clone, `.ci/run` on 0d6eb06,
 * 2026-12-01: lane 1 took 1,191 s and lane 2 1,027 s with the previous weights; the tus-client file gained
 * its second Chromium upload, ~10 s, when the separate npm-Chromium CI step was folded into it; the clip file grew
 * from 4 to 15 tests with the smart cut, and the remote-chunk and smart-cut playback files are new: those three are
 * estimated from a three-lane run, scaled by what the older clip cases took there). They only balance
 * the lanes: a stale or missing weight (a new file counts DEFAULT_WEIGHT_S) makes a lane finish later, never
 * skips a file. Every node file on disk is run, whatever the table says.
 */
import { readdirSync } from "node:fs";
import path from "node:path";

/**
 * The workers and edge projects in lane 1: their files report 164 s, but the lane's wall time says they
 * cost ~546 s beside the other lane (each workers file starts its own workerd runtime: setup the file
 * durations do not include).
 */
export const WORKER_PROJECTS_WEIGHT_S = 546;
export const DEFAULT_WEIGHT_S = 30;

export const NODE_FILE_WEIGHTS_S: Record<string, number> = {
  "test/node/local-start.test.ts": 127,
  "test/node/e2e-live.test.ts": 107,
  "test/node/tus-client.test.ts": 88,
  "test/node/e2e-vod.test.ts": 77,
  "test/node/e2e-signed-playback.test.ts": 64,
  "test/node/dashboard-browser.test.ts": 60,
  "test/node/e2e-bad-input.test.ts": 60,
  "test/node/transcoder/ladder-chunks.test.ts": 56,
  "test/node/e2e-audio-tracks.test.ts": 53,
  "test/node/cli.test.ts": 51,
  "test/node/e2e-captions-clips.test.ts": 51,
  "test/node/e2e-instant-playback.test.ts": 50,
  "test/node/e2e-ll-hls.test.ts": 50,
  "test/node/e2e-live-clips.test.ts": 49,
  "test/node/transcoder/pipeline.test.ts": 49,
  "test/node/keys-create.test.ts": 48,
  "test/node/e2e-relay.test.ts": 44,
  "test/node/e2e-live-ladder.test.ts": 43,
  "test/node/e2e-chunked-ladder.test.ts": 41,
  "test/node/e2e-thumbnails.test.ts": 35,
  "test/node/e2e-clip-assets.test.ts": 33,
  "test/node/e2e-simulcast.test.ts": 30,
  "test/node/transcoder/thumbnails.test.ts": 29,
  "test/node/e2e-media.test.ts": 28,
  "test/node/transcoder/probe.test.ts": 26,
  "test/node/transcoder/cea608.test.ts": 24,
  "test/node/transcoder/clip.test.ts": 70,
  "test/node/stack.test.ts": 23,
  "test/node/e2e-downloads.test.ts": 22,
  "test/node/e2e-concurrency.test.ts": 21,
  "test/node/sdk.test.ts": 21,
  "test/node/transcoder/runner.test.ts": 20,
  "test/node/sdk-drift.test.ts": 19,
  "test/node/transcoder/downloads.test.ts": 19,
  "test/node/e2e-multipart.test.ts": 17,
  "test/node/transcoder/multipart-upload.test.ts": 16,
  "test/node/deploy-plan.test.ts": 11,
  "test/node/transcoder/ladder-chunks-remote.test.ts": 25,
  "test/node/transcoder/streaming.test.ts": 10,
  "test/node/transcoder/smart-cut-playback.test.ts": 10,
  "test/node/transcoder/input-policy.test.ts": 7,
  "test/node/transcoder/live-ladder.test.ts": 7,
  "test/node/transcoder/audio-tracks.test.ts": 6,
  "test/node/transcoder/animated.test.ts": 5,
  "test/node/live-codecs.test.ts": 4,
  "test/node/transcoder/watermark.test.ts": 4,
  "test/node/browser-launcher.test.ts": 3,
  "test/node/transcoder/server.test.ts": 3,
  "test/node/live-recording-clip.test.ts": 2,
  "test/node/clips.test.ts": 1,
  "test/node/live-ladder-playlists.test.ts": 1,
  "test/node/ll-hls-splitter.test.ts": 1,
  "test/node/transcoder/image-entrypoint.test.ts": 1,
  "test/node/transcoder/image-files.test.ts": 1,
  "test/node/transcoder/plan.test.ts": 1,
  "test/node/transcoder/priority.test.ts": 1,
  "test/node/transcoder/bulk-bound.test.ts": 1,
  "test/node/transcoder/segment-uploader.test.ts": 1,
  "test/node/webvtt.test.ts": 1,
};

/** Every node test file under `dir` (relative to `root`, as Vitest filters take them), sorted. */
export function nodeTestFiles(root: string, dir = "test/node"): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const entry of readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const child = `${rel}/${entry.name}`;
      if (entry.isDirectory()) walk(child);
      else if (entry.name.endsWith(".test.ts")) out.push(child);
    }
  };
  walk(dir);
  return out.sort();
}

export interface Lane {
  name: string;
  /** Vitest filters: whole project folders or single files. */
  filters: string[];
  weightS: number;
}

/**
 * Deals the node files out to `count` lanes, longest first, each to the lane with the least work; lane 1
 * starts with the workers and edge projects. With one lane, everything runs in one process as before.
 */
export function planLanes(nodeFiles: string[], count: number): Lane[] {
  const lanes: Lane[] = Array.from({ length: Math.max(1, count) }, (_, i) => ({
    name: `lane ${i + 1}`,
    filters: i === 0 ? ["test/workers/", "test/edge/"] : [],
    weightS: i === 0 ? WORKER_PROJECTS_WEIGHT_S : 0,
  }));
  const weight = (f: string) => NODE_FILE_WEIGHTS_S[f] ?? DEFAULT_WEIGHT_S;
  const files = [...nodeFiles].sort((a, b) => weight(b) - weight(a) || a.localeCompare(b));
  for (const file of files) {
    const lightest = lanes.reduce((min, lane) => (lane.weightS < min.weightS ? lane : min));
    lightest.filters.push(file);
    lightest.weightS += weight(file);
  }
  return lanes;
}
