/**
 * URL text tracks, off the request path (`{kind: "text_track"}` on transcode-jobs): fetch the file under
 * the outbound URL policy (checkOutboundUrl on the URL and on every redirect hop, followed by hand),
 * normalise it, store it, and flip the row to `ready` or `errored` with its event in one batch. Network
 * errors and 5xx are retried a few deliveries; a refused URL, a 4xx or a bad file fail at once. The flip
 * is conditional on `status = 'preparing'`, so a redelivered message never announces twice.
 */
import { and, eq, isNull } from "drizzle-orm";
import { createDb, schema } from "../../db/client";
import type { TextTrackDetails } from "../../db/schema";
import { guardedFetch } from "../../lib/guarded-fetch";
import { log } from "../../lib/log";
import { readBodyUpTo } from "../../lib/signed-requests";
import { nowIso } from "../../lib/time";
import { normalizeSubtitles, SUBTITLE_LIMITS, type SubtitleError } from "../../lib/webvtt";
import type { ServiceContext } from "../context";
import { commit } from "../events/record";
import type { ConsumerOutcome } from "../jobs/start";
import { backoffSeconds, systemContext } from "../jobs/system";
import { type TrackRow, trackKey } from "./serialize";
import { trackEvent } from "./verbs";

export const TRACK_FETCH_ATTEMPTS = 3;
const FETCH_TIMEOUT_MS = 30_000;

type TrackError = Pick<SubtitleError, "code" | "message" | "line" | "cue"> | { code: string; message: string };

async function findTrack(db: ReturnType<typeof createDb>, trackId: string) {
  return db.query.assetTracks.findFirst({
    where: and(eq(schema.assetTracks.id, trackId), isNull(schema.assetTracks.deletedAt)),
  });
}

/** preparing → errored, with `track.errored`; a no-op when the row already moved on. */
export async function errorTrack(ctx: ServiceContext, row: TrackRow, error: TrackError) {
  const now = nowIso();
  const updated = { ...row, status: "errored" as const, error, updatedAt: now };
  await commit(
    ctx,
    [
      ctx.db
        .update(schema.assetTracks)
        .set({ status: "errored", error, updatedAt: now })
        .where(and(eq(schema.assetTracks.id, row.id), eq(schema.assetTracks.status, "preparing"))),
    ],
    [trackEvent("track.errored", updated, { error })],
  );
}

export async function ingestTextTrack(
  env: Env,
  trackId: string,
  opts: { waitUntil: (p: Promise<unknown>) => void; deliveryAttempt: number },
): Promise<ConsumerOutcome> {
  const row = await findTrack(createDb(env.DB), trackId);
  if (row?.status !== "preparing" || !row.sourceUrl) {
    return { action: "ack", reason: `nothing to fetch (${row?.status ?? "missing"})` };
  }
  const ctx = systemContext(env, row.environmentId, opts.waitUntil);
  const fail = async (error: TrackError): Promise<ConsumerOutcome> => {
    await errorTrack(ctx, row, error);
    return { action: "ack", reason: error.code };
  };
  const transient = (message: string): Promise<ConsumerOutcome> | ConsumerOutcome => {
    if (opts.deliveryAttempt >= TRACK_FETCH_ATTEMPTS) {
      return fail({ code: "text_fetch_failed", message: `The track URL could not be fetched: ${message}.` });
    }
    return { action: "retry", delaySeconds: backoffSeconds(opts.deliveryAttempt), reason: message };
  };

  const fetched = await guardedFetch(row.sourceUrl, {
    allowPrivate: env.ALLOW_PRIVATE_INGEST_URLS === "true",
    timeoutMs: FETCH_TIMEOUT_MS,
    timeoutCovers: "whole",
  });
  if (!fetched.ok) {
    if (fetched.kind === "forbidden") {
      return fail({ code: "text_url_forbidden", message: `The track URL was refused: ${fetched.reason}.` });
    }
    if (fetched.kind === "transient") return transient(fetched.message);
    const message = fetched.status ? `The track URL answered HTTP ${fetched.status}.` : fetched.message;
    return fail({ code: "text_fetch_failed", message });
  }
  const res = fetched.res;
  const declared = Number(res.headers.get("content-length") ?? "NaN");
  const tooLarge = {
    code: "text_too_large",
    message: `The file is larger than the ${SUBTITLE_LIMITS.maxBytes} byte limit.`,
  };
  if (declared > SUBTITLE_LIMITS.maxBytes) {
    await res.body?.cancel();
    return fail(tooLarge);
  }
  let bytes: Uint8Array | null;
  try {
    bytes = res.body ? await readBodyUpTo(res.body, SUBTITLE_LIMITS.maxBytes) : new Uint8Array();
  } catch (err) {
    return transient(`download interrupted: ${(err as Error).message}`);
  }
  if (!bytes) return fail(tooLarge);
  const result = normalizeSubtitles(bytes);
  if (!result.ok) return fail(result.error);

  // Deleted while we fetched: store nothing.
  const current = await findTrack(ctx.db, row.id);
  if (current?.status !== "preparing")
    return { action: "ack", reason: `track moved on (${current?.status ?? "deleted"})` };
  const details = await storeTextTrack(ctx, row, result, bytes.byteLength);
  log.info("text_track_ready", { track_id: row.id, cues: details.cue_count });
  return { action: "ack", reason: "ready" };
}

/** Stores a normalised file as the track's WebVTT and flips the row to `ready` with `track.ready`, once. */
export async function storeTextTrack(
  ctx: ServiceContext,
  row: TrackRow,
  result: Extract<ReturnType<typeof normalizeSubtitles>, { ok: true }>,
  bytes: number,
): Promise<TextTrackDetails> {
  await ctx.env.MEDIA.put(trackKey(row.assetId, row.id), result.vtt, {
    httpMetadata: { contentType: "text/vtt; charset=utf-8" },
  });
  const now = nowIso();
  const details: TextTrackDetails = {
    format: result.parsed.format,
    encoding: result.encoding,
    cue_count: result.parsed.cues.length,
    dropped_cues: result.parsed.dropped,
    bytes,
  };
  await commit(
    ctx,
    [
      ctx.db
        .update(schema.assetTracks)
        .set({ status: "ready", details, readyAt: now, updatedAt: now })
        .where(and(eq(schema.assetTracks.id, row.id), eq(schema.assetTracks.status, "preparing"))),
    ],
    [
      trackEvent(
        "track.ready",
        { ...row, status: "ready", details, readyAt: now, updatedAt: now },
        { cue_count: details.cue_count },
      ),
    ],
  );
  return details;
}

/** Dead letter: the queue gave up; tell the truth on the track. */
export async function deadLetterTextTrack(env: Env, trackId: string, waitUntil: (p: Promise<unknown>) => void) {
  const row = await findTrack(createDb(env.DB), trackId);
  if (row?.status !== "preparing") return;
  await errorTrack(systemContext(env, row.environmentId, waitUntil), row, {
    code: "text_fetch_failed",
    message: "The track URL could not be fetched: retries exhausted.",
  });
}
