/**
 * A live recording as a pipeline source. A recording has no uploaded file: its media are the session's
 * segments under `assets/{asset}/runs/{session}/stream/`, in the order of the VOD playlist the DO wrote
 * when the session ended. The transcoder reads a source as one byte stream (GET …/source, Range to
 * resume), so this serves the segments back to back without copying them:
 *
 * - MPEG-TS: segments concatenate into one valid transport stream. A reconnect restarts the encoder's
 *   timestamps; ffmpeg treats MPEG-TS timestamp jumps as discontinuities (AVFMT_TS_DISCONT) and keeps
 *   its output continuous, so the ladder, poster, storyboard and MP4 cover the whole recording.
 * - fMP4 from one connection: the init segment then the media segments are one fragmented MP4.
 * - fMP4 over several connections (several init segments) cannot be one file ffmpeg reads whole (it
 *   skips a second `moov` and the restarted timestamps): `plan` says so, and the recording keeps its
 *   recorded HLS without derived files (README, "Recording → VOD").
 *
 * The session's segments stay as the recording's source after the ladder replaces them for playback,
 * exactly as an upload's source file does (src/services/jobs/callbacks.ts keeps the run).
 */
import { KeyframeError } from "../lib/errors";
import { parseRange, serveSource } from "../services/jobs/callbacks/source";
import { STREAM_DIR } from "./hls";

export interface RecordingSourcePlan {
  container: "mpegts" | "fmp4";
  parts: { key: string; size: number }[];
  size: number;
}

export type RecordingSourceResult = { ok: true; plan: RecordingSourcePlan } | { ok: false; reason: string };

export function recordingPrefix(assetId: string, sessionId: string): string {
  return `assets/${assetId}/runs/${sessionId}/`;
}

/** Finished recordings never change: a plan is kept per isolate while a job reads the source in ranges. */
const plans = new Map<string, RecordingSourcePlan>();

export async function planRecordingSource(
  bucket: R2Bucket,
  assetId: string,
  sessionId: string,
): Promise<RecordingSourceResult> {
  const cacheKey = `${assetId}/${sessionId}`;
  const hit = plans.get(cacheKey);
  if (hit) return { ok: true, plan: hit };
  const dir = `${recordingPrefix(assetId, sessionId)}${STREAM_DIR}/`;
  const playlist = await bucket.get(`${dir}index.m3u8`);
  if (!playlist) return { ok: false, reason: "the recording has no VOD playlist" };
  const names: string[] = [];
  const maps = new Set<string>();
  for (const raw of (await playlist.text()).split("\n")) {
    const line = raw.trim();
    const map = /^#EXT-X-MAP:URI="([^"]+)"/.exec(line);
    if (map) {
      if (!maps.has(map[1])) names.push(map[1]);
      maps.add(map[1]);
    } else if (line && !line.startsWith("#")) names.push(line);
  }
  const sizes = new Map<string, number>();
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix: dir, cursor, limit: 1000 });
    for (const o of page.objects) sizes.set(o.key, o.size);
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  const planned = recordingSourcePlan(
    dir,
    names.map((name) => ({ name, size: sizes.get(`${dir}${name}`) })),
  );
  if (planned.ok) {
    if (plans.size > 1000) plans.clear();
    plans.set(cacheKey, planned.plan);
  }
  return planned;
}

/**
 * The plan for files `names` (in playback order, each init segment before its first media segment) under
 * `dir`: refused for an fMP4 recording with several init segments, or a file whose size is unknown.
 */
export function recordingSourcePlan(
  dir: string,
  names: { name: string; size: number | undefined }[],
): RecordingSourceResult {
  const inits = names.filter((n) => n.name.endsWith(".mp4")).length;
  if (inits > 1) {
    return {
      ok: false,
      reason: `the fMP4 recording spans ${inits} encoder connections (init segments); it is kept as recorded`,
    };
  }
  if (names.length === 0) return { ok: false, reason: "the recording lists no segments" };
  const parts: RecordingSourcePlan["parts"] = [];
  for (const { name, size } of names) {
    if (size === undefined) return { ok: false, reason: `the recording's ${name} is missing from storage` };
    parts.push({ key: `${dir}${name}`, size });
  }
  return {
    ok: true,
    plan: { container: inits === 1 ? "fmp4" : "mpegts", parts, size: parts.reduce((s, p) => s + p.size, 0) },
  };
}

/** The recording's segments as one byte stream, whole or one range (206/416), like an uploaded source. */
export async function serveRecordingSource(
  bucket: R2Bucket,
  assetId: string,
  sessionId: string,
  rangeHeader: string | undefined,
): Promise<Response> {
  const planned = await planRecordingSource(bucket, assetId, sessionId);
  if (!planned.ok) throw new KeyframeError("not_found", `The recording cannot be read as a source: ${planned.reason}.`);
  const { plan } = planned;
  const range = parseRange(rangeHeader, plan.size);
  if (range === null) {
    throw new KeyframeError(
      "range_not_satisfiable",
      `The range is not satisfiable; the source is ${plan.size} bytes.`,
      [],
      { "content-range": `bytes */${plan.size}` },
    );
  }
  const start = range?.offset ?? 0;
  const length = range?.length ?? plan.size;
  const { readable, writable } = new FixedLengthStream(length);
  const copy = async () => {
    let at = 0;
    for (const part of plan.parts) {
      const from = Math.max(start, at);
      const to = Math.min(start + length, at + part.size);
      at += part.size;
      if (to <= from) continue;
      const offset = from - (at - part.size);
      const obj = await bucket.get(part.key, { range: { offset, length: to - from } });
      if (!obj) throw new Error(`${part.key} vanished while the source was read`);
      await obj.body.pipeTo(writable, { preventClose: true });
    }
    await writable.close();
  };
  copy().catch((err) => writable.abort(err).catch(() => {}));
  const headers = new Headers({
    "content-type": plan.container === "mpegts" ? "video/mp2t" : "video/mp4",
    "accept-ranges": "bytes",
    "content-length": String(length),
  });
  if (!range) return new Response(readable, { status: 200, headers });
  headers.set("content-range", `bytes ${start}-${start + length - 1}/${plan.size}`);
  return new Response(readable, { status: 206, headers });
}

/** The session a recording asset was recorded in, or null for any other asset. */
export function recordingSessionOf(asset: { source: Record<string, unknown> | null }): string | null {
  const s = asset.source;
  return s?.type === "live" && typeof s.session_id === "string" ? s.session_id : null;
}

/** An asset's source for the pipeline and thumbnail renders: the uploaded file, or the recorded segments. */
export function serveAssetSource(
  env: Env,
  asset: { id: string; sourceKey: string | null; source: Record<string, unknown> | null },
  rangeHeader: string | undefined,
): Promise<Response> {
  const session = recordingSessionOf(asset);
  return session
    ? serveRecordingSource(env.MEDIA, asset.id, session, rangeHeader)
    : serveSource(env, asset.sourceKey, rangeHeader);
}
