/**
 * Dubbed audio tracks, transcoder side (src/lib/audio-tracks.ts has the flow). `POST /audio-tracks` takes an
 * AudioTrackDispatch and answers 202; tracks render one at a time in the background, at a lower CPU priority
 * than ladders:
 *  1. fetch the URL under the ingest policy: the URL and every redirect through src/lib/guarded-fetch.ts, and
 *     the first host's DNS answers must be public (unless allow_private); a refusal is `audio_url_forbidden`,
 *     a 4xx or a network failure after three tries `audio_fetch_failed`, over AUDIO_TRACK_MAX_BYTES
 *     `audio_too_large`;
 *  2. ffprobe it (demuxer whitelist as for sources): unreadable → `audio_unreadable`, no audio → `audio_no_stream`;
 *  3. encode its first audio stream like a ladder audio rendition (AAC-LC stereo 48 kHz at AUDIO_BITRATE, fMP4
 *     HLS of SEGMENT_SECONDS), starting at t=0 (a late first sample is preceded by silence) and cut or padded
 *     with silence to the asset's duration;
 *  4. PUT the files under `{track_id}/` of the run (playlist last), then report `ready` with what was written.
 * A shutdown lets a running render finish within the grace period, else aborts it without reporting: the API's
 * watchdog dispatches the track again.
 */
import { lookup } from "node:dns/promises";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import {
  AUDIO_TRACK_MAX_BYTES,
  type AudioTrackDispatch,
  AudioTrackDispatchSchema,
  type AudioTrackErrorCode,
  AudioTrackFailureSchema,
  AudioTrackReadySchema,
  audioTrackDir,
} from "../../src/lib/audio-tracks.js";
import { guardedFetch } from "../../src/lib/guarded-fetch.js";
import { checkOutboundUrl, nonPublicReason } from "../../src/lib/url-safety.js";
import { ApiClient } from "./api-client.js";
import { getBinaries } from "./ffmpeg/binaries.js";
import { hlsOutputArgs, INIT_NAME, PLAYLIST_NAME } from "./ffmpeg/hls-output.js";
import { inputPolicyArgs } from "./ffmpeg/input-policy.js";
import { AUDIO_BITRATE } from "./ffmpeg/ladder.js";
import { runFfmpeg, runProcess } from "./ffmpeg/process.js";
import { measurePlaylist } from "./hls/master.js";
import { bodyIssues, json, problem, readJsonBody } from "./http/problem.js";
import type { Handler } from "./http/routes.js";
import type { Logger } from "./log.js";

const FETCH_TIMEOUT_MS = 30_000;
const FETCH_TRIES = 3;
const AAC_LC = "mp4a.40.2";

/** A refusal of the customer's file: reported as the track's error code, never retried. */
export class AudioTrackInputError extends Error {
  constructor(
    readonly code: AudioTrackErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "AudioTrackInputError";
  }
}

async function refusePrivateHost(url: string): Promise<void> {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  let addresses: { address: string }[];
  try {
    addresses = await lookup(host, { all: true });
  } catch {
    throw new AudioTrackInputError("audio_fetch_failed", `the audio host '${host}' does not resolve`);
  }
  for (const { address } of addresses) {
    const why = nonPublicReason(address);
    if (why)
      throw new AudioTrackInputError("audio_url_forbidden", `the audio URL was refused: ${host} resolves to ${why}`);
  }
}

/** Downloads the file to `dest` under the ingest policy; resolves to its size in bytes. */
export async function fetchAudio(
  url: string,
  dest: string,
  options: { allowPrivate: boolean; signal?: AbortSignal; retryDelayMs?: number },
): Promise<number> {
  const verdict = checkOutboundUrl(url, { allowPrivate: options.allowPrivate });
  if (!verdict.ok)
    throw new AudioTrackInputError("audio_url_forbidden", `the audio URL was refused: ${verdict.reason}`);
  if (!options.allowPrivate) await refusePrivateHost(url);
  for (let attempt = 1; ; attempt++) {
    const fetched = await guardedFetch(url, {
      allowPrivate: options.allowPrivate,
      timeoutMs: FETCH_TIMEOUT_MS,
      timeoutCovers: "headers",
    });
    if (!fetched.ok) {
      if (fetched.kind === "forbidden") {
        throw new AudioTrackInputError("audio_url_forbidden", `the audio URL was refused: ${fetched.reason}`);
      }
      if (fetched.kind === "transient" && attempt < FETCH_TRIES) {
        await sleep((options.retryDelayMs ?? 1000) * 2 ** (attempt - 1), undefined, { signal: options.signal });
        continue;
      }
      const why = fetched.kind === "failed" && fetched.status ? `HTTP ${fetched.status}` : fetched.message;
      throw new AudioTrackInputError("audio_fetch_failed", `the audio URL could not be fetched: ${why}`);
    }
    const { res } = fetched;
    const declared = Number(res.headers.get("content-length") ?? Number.NaN);
    if (declared > AUDIO_TRACK_MAX_BYTES || !res.body) {
      await res.body?.cancel();
      throw res.body
        ? new AudioTrackInputError("audio_too_large", `the file is ${declared} bytes, over ${AUDIO_TRACK_MAX_BYTES}`)
        : new AudioTrackInputError("audio_fetch_failed", "the audio URL returned no body");
    }
    let bytes = 0;
    const counted = Readable.fromWeb(res.body as import("node:stream/web").ReadableStream<Uint8Array>).map((chunk) => {
      bytes += (chunk as Uint8Array).byteLength;
      if (bytes > AUDIO_TRACK_MAX_BYTES) {
        throw new AudioTrackInputError("audio_too_large", `the file is over ${AUDIO_TRACK_MAX_BYTES} bytes`);
      }
      return chunk;
    });
    try {
      await pipeline(counted, createWriteStream(dest), { signal: options.signal });
    } catch (err) {
      if (err instanceof AudioTrackInputError || options.signal?.aborted) throw err;
      if (attempt < FETCH_TRIES) continue;
      throw new AudioTrackInputError("audio_fetch_failed", `the download broke off: ${(err as Error).message}`);
    }
    if (bytes === 0) throw new AudioTrackInputError("audio_unreadable", "the audio URL returned an empty file");
    return bytes;
  }
}

interface ProbedAudio {
  streamIndex: number;
  codec: string;
}

/** The first audio stream of the file; a file ffprobe cannot read, or without audio, is refused. */
export async function probeAudio(file: string, options: { ffprobePath: string; signal?: AbortSignal }) {
  let streams: { index?: number; codec_type?: string; codec_name?: string }[];
  try {
    const { stdout } = await runProcess(
      options.ffprobePath,
      ["-v", "error", "-print_format", "json", "-show_streams", ...inputPolicyArgs(file), file],
      { signal: options.signal, collectStdout: true, timeoutMs: 60_000 },
    );
    streams = (JSON.parse(stdout) as { streams?: typeof streams }).streams ?? [];
  } catch (err) {
    if (options.signal?.aborted) throw err;
    throw new AudioTrackInputError("audio_unreadable", "the file is not a media file that can be read");
  }
  const audio = streams.find((s) => s.codec_type === "audio" && typeof s.index === "number");
  if (!audio) {
    throw new AudioTrackInputError(
      "audio_no_stream",
      streams.length ? "the file has no audio stream" : "the file has no streams at all",
    );
  }
  return { streamIndex: audio.index as number, codec: audio.codec_name ?? "unknown" } satisfies ProbedAudio;
}

/** ffmpeg arguments (cwd = the output folder): one audio stream → `{dir}/index.m3u8` + init + segments. */
export function audioTrackArgs(input: string, streamIndex: number, durationSeconds: number, dir: string): string[] {
  return [
    ...inputPolicyArgs(input),
    "-i",
    input,
    "-map",
    `0:${streamIndex}`,
    ...["-vn", "-sn", "-dn"],
    ...["-c:a", "aac", "-profile:a", "aac_low", "-b:a", AUDIO_BITRATE, "-ac", "2", "-ar", "48000"],
    // Starts at t=0 (silence before a late first sample, none of a negative start), padded with silence and cut
    // at the asset's duration, so the track lines up with the video from the first segment to the last.
    ...["-af", "aresample=async=1:first_pts=0,apad", "-t", durationSeconds.toFixed(3)],
    ...hlsOutputArgs(dir),
  ];
}

export interface RenderAudioTrackOptions {
  signal?: AbortSignal;
  log: Logger;
  /** Where the work folder goes (default: the OS temp dir). */
  workRoot?: string;
}

/** Renders, uploads and reports one track; never throws (every outcome is reported, except an abort). */
export async function renderAudioTrack(d: AudioTrackDispatch, options: RenderAudioTrackOptions): Promise<void> {
  const { signal, log } = options;
  const client = new ApiClient({ job_id: d.job_id, attempt: d.attempt, api_url: d.api_url, token: d.token });
  const work = await mkdtemp(path.join(options.workRoot ?? os.tmpdir(), `keyframe-dub-${d.track_id}-`));
  const started = Date.now();
  try {
    const binaries = await getBinaries();
    const source = path.join(work, "source");
    const bytes = await fetchAudio(d.url, source, { allowPrivate: d.allow_private, signal });
    const probed = await probeAudio(source, { ffprobePath: binaries.ffprobe, signal });
    const dir = audioTrackDir(d.track_id);
    const out = path.join(work, "out");
    await mkdir(path.join(out, dir), { recursive: true });
    try {
      await runFfmpeg(audioTrackArgs(source, probed.streamIndex, d.duration, dir), {
        cwd: out,
        signal,
        ffmpegPath: binaries.ffmpeg,
        niceness: 10,
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new AudioTrackInputError("audio_unreadable", `the audio could not be decoded: ${(err as Error).message}`);
    }
    const measured = await measurePlaylist(path.join(out, dir));
    // Init and segments first, the playlist last: once it exists every file it names exists.
    const files = (await readdir(path.join(out, dir))).filter((f) => f !== PLAYLIST_NAME).sort();
    if (!files.includes(INIT_NAME)) throw new Error("ffmpeg wrote no init segment");
    for (const f of [...files, PLAYLIST_NAME])
      await client.putOutput(`${dir}/${f}`, path.join(out, dir, f), { signal });
    await client.trackOutcome(
      d.track_id,
      "ready",
      AudioTrackReadySchema,
      {
        attempt: d.attempt,
        duration: Math.round(measured.totalDuration * 1000) / 1000,
        segments: measured.segments.length,
        codecs: AAC_LC,
        channels: 2,
        bandwidth: measured.peakBandwidth,
        average_bandwidth: measured.averageBandwidth,
        source_codec: probed.codec.slice(0, 50),
      },
      { signal },
    );
    log.info("audio_track.ready", {
      track_id: d.track_id,
      bytes,
      duration: measured.totalDuration,
      segments: measured.segments.length,
      ms: Date.now() - started,
    });
  } catch (err) {
    if (signal?.aborted) {
      log.warn("audio_track.aborted", { track_id: d.track_id });
      return;
    }
    const input = err instanceof AudioTrackInputError;
    const code: AudioTrackErrorCode = input ? err.code : "internal_error";
    const message = input ? err.message : `processing failed: ${(err as Error).message}`;
    log.warn("audio_track.failed", { track_id: d.track_id, code, error: (err as Error).message });
    await client
      .trackOutcome(d.track_id, "fail", AudioTrackFailureSchema, {
        attempt: d.attempt,
        code,
        message: message.slice(0, 2000),
      })
      .catch((e) => log.error("audio_track.report_failed", { track_id: d.track_id, error: e }));
  } finally {
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** One track at a time, in arrival order; a track already queued or rendering is not queued twice. */
export function createAudioTrackService(options: { log: Logger; render?: typeof renderAudioTrack }) {
  const render = options.render ?? renderAudioTrack;
  const pending = new Set<string>();
  const controller = new AbortController();
  let chain: Promise<void> = Promise.resolve();
  return {
    accept(d: AudioTrackDispatch): { duplicate: boolean } {
      if (pending.has(d.track_id)) return { duplicate: true };
      pending.add(d.track_id);
      chain = chain.then(async () => {
        try {
          if (!controller.signal.aborted) await render(d, { signal: controller.signal, log: options.log });
        } catch (err) {
          options.log.error("audio_track.error", { track_id: d.track_id, error: err });
        } finally {
          pending.delete(d.track_id);
        }
      });
      return { duplicate: false };
    },
    /** Stops every render without reporting (the API re-dispatches after its watchdog). */
    abortAll() {
      controller.abort(new Error("transcoder stopping"));
    },
    idle(): Promise<void> {
      return chain;
    },
  };
}

export type AudioTrackService = ReturnType<typeof createAudioTrackService>;

/** `POST /audio-tracks` (signed): validate the dispatch, queue it, answer 202. */
export const acceptAudioTrack =
  (service: AudioTrackService, closing: () => boolean): Handler =>
  async (req, res, { requestId, bodySha256 }) => {
    const body = await readJsonBody(req, res, requestId, bodySha256);
    if (!body) return;
    const parsed = AudioTrackDispatchSchema.safeParse(body.value);
    if (!parsed.success) {
      const errors = bodyIssues(parsed.error.issues);
      return problem(res, requestId, 400, "validation_failed", "the body is not a valid audio track dispatch", errors);
    }
    if (closing()) {
      res.setHeader("retry-after", "5");
      return problem(res, requestId, 503, "service_unavailable", "this transcoder is stopping; dispatch elsewhere");
    }
    const { duplicate } = service.accept(parsed.data);
    return json(res, requestId, 202, { accepted: true, duplicate, track_id: parsed.data.track_id });
  };
