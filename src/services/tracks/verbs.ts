/**
 * Text tracks (subtitles, captions) on an asset: create from inline content (normalised and stored at
 * once: `track.created` + `track.ready` in one batch) or from a URL (a `preparing` row and
 * `track.created` now; the transcode-jobs consumer fetches it, see ./ingest.ts), read, list, delete.
 * A refused inline file is a 400 naming the cue and line, and leaves no row behind.
 */
import { and, eq, isNull, ne } from "drizzle-orm";
import { schema } from "../../db/client";
import type { TextTrackDetails } from "../../db/schema";
import { KeyframeError, NotFoundError, ValidationError } from "../../lib/errors";
import { newId } from "../../lib/ids";
import { nowIso } from "../../lib/time";
import { normalizeSubtitles } from "../../lib/webvtt";
import { loadAssetRow } from "../assets/load";
import type { ServiceContext, Verb } from "../context";
import { commit, type EventInput, type Statement } from "../events/record";
import { withResource } from "../events/snapshot";
import { deleteAudioTrackFiles } from "./audio-files";
import { type CreateAudioTrackInput, type CreateTrackInput, canonicalLanguage, type Track } from "./schemas";
import { serializeTrack, type TrackRow, trackKey } from "./serialize";

/** A language's English name ("en-US" → "English (United States)"), else the tag itself. */
export function languageName(tag: string): string {
  try {
    return new Intl.DisplayNames(["en"], { type: "language" }).of(tag) ?? tag;
  } catch {
    return tag;
  }
}

/**
 * A `track.*` event whose `data` is the track as GET shows it in the state `row` holds: the state the
 * batch writes, or for `track.deleted` the last state before it.
 */
export function trackEvent(type: EventInput["type"], row: TrackRow, extra: Record<string, unknown> = {}): EventInput {
  return {
    type,
    subjectId: row.id,
    assetId: row.assetId,
    correlationId: row.correlationId,
    data: withResource(
      { track_id: row.id, asset_id: row.assetId, type: row.type, text_type: row.textType, ...extra },
      serializeTrack(row),
    ),
  };
}

/** Only one default track per asset and type: HLS allows one DEFAULT=YES per group. */
function clearDefaults(ctx: ServiceContext, assetId: string, exceptId: string, type: TrackRow["type"]): Statement {
  return ctx.db
    .update(schema.assetTracks)
    .set({ isDefault: false, updatedAt: nowIso() })
    .where(
      and(
        eq(schema.assetTracks.assetId, assetId),
        eq(schema.assetTracks.type, type),
        ne(schema.assetTracks.id, exceptId),
      ),
    );
}

/** A new `preparing` track row: what every kind shares, plus the kind's own fields. */
function newTrackRow(
  ctx: ServiceContext,
  asset: Awaited<ReturnType<typeof loadAssetRow>>,
  b: { language_code: string; name?: string; default?: boolean; correlation_id?: string },
  own: Pick<TrackRow, "type" | "textType" | "closedCaptions" | "sourceKind" | "sourceUrl" | "details">,
): TrackRow {
  const language = canonicalLanguage(b.language_code) as string;
  const now = nowIso();
  return {
    id: newId("track"),
    environmentId: ctx.caller.environmentId,
    assetId: asset.id,
    status: "preparing",
    languageCode: language,
    name: b.name ?? languageName(language),
    isDefault: b.default ?? false,
    error: null,
    correlationId: b.correlation_id ?? asset.correlationId,
    createdAt: now,
    updatedAt: now,
    readyAt: null,
    deletedAt: null,
    ...own,
  };
}

export async function createTrack({ ctx, input }: Verb<{ assetId: string; body: CreateTrackInput }>): Promise<Track> {
  const asset = await loadAssetRow(ctx, input.assetId);
  if (asset.status === "errored") {
    throw new KeyframeError("invalid_state", `Asset '${asset.id}' errored; tracks cannot be added to it.`);
  }
  // Awaited here: an already-rejected promise handed up unawaited is reported as unhandled before it is adopted.
  if (input.body.type === "audio") return await createAudioTrack(ctx, asset, input.body);
  const b = input.body;
  if ((b.url === undefined) === (b.content === undefined)) {
    throw new ValidationError("Exactly one of 'url' or 'content' is required.", [
      { location: "json.url", message: "exactly one of 'url' or 'content' is required" },
    ]);
  }
  const row = newTrackRow(ctx, asset, b, {
    type: "text",
    textType: b.text_type,
    closedCaptions: b.closed_captions ?? b.text_type === "captions",
    sourceKind: b.url !== undefined ? "url" : "inline",
    sourceUrl: b.url ?? null,
    details: null,
  });
  const id = row.id;
  const statements: Statement[] = [];
  if (b.content !== undefined) {
    const bytes = new TextEncoder().encode(b.content);
    const result = normalizeSubtitles(bytes);
    if (!result.ok) {
      const where = [result.error.cue && `cue ${result.error.cue}`, result.error.line && `line ${result.error.line}`]
        .filter(Boolean)
        .join(", ");
      throw new ValidationError(`The subtitle file was refused (${result.error.code}): ${result.error.message}`, [
        {
          location: "json.content",
          message: `${result.error.code}${where ? ` (${where})` : ""}: ${result.error.message}`,
        },
      ]);
    }
    await ctx.env.MEDIA.put(trackKey(asset.id, id), result.vtt, {
      httpMetadata: { contentType: "text/vtt; charset=utf-8" },
    });
    Object.assign(row, {
      status: "ready",
      readyAt: row.createdAt,
      details: {
        format: result.parsed.format,
        encoding: result.encoding,
        cue_count: result.parsed.cues.length,
        dropped_cues: result.parsed.dropped,
        bytes: bytes.byteLength,
      },
    });
  }
  // Both events of an inline track carry the state the batch writes (ready).
  const events: EventInput[] = [trackEvent("track.created", row)];
  if (row.status === "ready")
    events.push(trackEvent("track.ready", row, { cue_count: (row.details as TextTrackDetails | null)?.cue_count }));
  if (row.isDefault) statements.push(clearDefaults(ctx, asset.id, id, "text"));
  statements.unshift(ctx.db.insert(schema.assetTracks).values(row));
  await commit(ctx, statements, events, [{ action: "track.create", resourceType: "track", resourceId: id }]);
  if (row.sourceKind === "url") await ctx.env.TRANSCODE_QUEUE.send({ kind: "text_track", track_id: id });
  return serializeTrack(row);
}

/**
 * A dubbed audio track (src/lib/audio-tracks.ts): a `preparing` row and `track.created` now; the
 * transcode-jobs consumer hands it to the transcoder (./audio.ts). Only a ready asset with video and a run
 * to write into takes one: the track is cut to that run's duration.
 */
async function createAudioTrack(
  ctx: ServiceContext,
  asset: Awaited<ReturnType<typeof loadAssetRow>>,
  b: CreateAudioTrackInput,
): Promise<Track> {
  if (asset.status !== "ready" || !asset.currentRunId || !asset.duration) {
    throw new KeyframeError(
      "invalid_state",
      `Asset '${asset.id}' is '${asset.status}'; audio tracks can be added once it is ready.`,
    );
  }
  const hasVideo = Array.isArray(asset.tracks) && asset.tracks.some((t) => (t as { type?: string })?.type === "video");
  if (!hasVideo) {
    throw new KeyframeError("invalid_state", `Asset '${asset.id}' has no video; audio tracks dub a video.`);
  }
  const row = newTrackRow(ctx, asset, b, {
    type: "audio",
    textType: null,
    closedCaptions: false,
    sourceKind: "url",
    sourceUrl: b.url,
    details: { run_id: asset.currentRunId, dispatches: 0 },
  });
  const id = row.id;
  const statements: Statement[] = [ctx.db.insert(schema.assetTracks).values(row)];
  if (row.isDefault) statements.push(clearDefaults(ctx, asset.id, id, "audio"));
  await commit(
    ctx,
    statements,
    [trackEvent("track.created", row)],
    [{ action: "track.create", resourceType: "track", resourceId: id }],
  );
  await ctx.env.TRANSCODE_QUEUE.send({ kind: "audio_track", track_id: id });
  return serializeTrack(row);
}

async function loadTrackRow(ctx: ServiceContext, assetId: string, trackId: string): Promise<TrackRow> {
  const row = await ctx.db.query.assetTracks.findFirst({
    where: and(
      eq(schema.assetTracks.id, trackId),
      eq(schema.assetTracks.assetId, assetId),
      eq(schema.assetTracks.environmentId, ctx.caller.environmentId),
      isNull(schema.assetTracks.deletedAt),
    ),
  });
  if (!row) throw new NotFoundError("track", trackId);
  return row;
}

export async function getTrack({ ctx, input }: Verb<{ assetId: string; trackId: string }>): Promise<Track> {
  const asset = await loadAssetRow(ctx, input.assetId);
  return serializeTrack(await loadTrackRow(ctx, asset.id, input.trackId));
}

export async function deleteTrack({ ctx, input }: Verb<{ assetId: string; trackId: string }>): Promise<void> {
  const asset = await loadAssetRow(ctx, input.assetId);
  const row = await loadTrackRow(ctx, asset.id, input.trackId);
  const now = nowIso();
  await commit(
    ctx,
    [
      ctx.db
        .update(schema.assetTracks)
        .set({ deletedAt: now, updatedAt: now, isDefault: false })
        .where(eq(schema.assetTracks.id, row.id)),
    ],
    [trackEvent("track.deleted", row)],
    [{ action: "track.delete", resourceType: "track", resourceId: row.id }],
  );
  // The edge stops listing it within its state TTL; the file goes now (a fetch in flight re-checks the row).
  if (row.type === "audio") ctx.waitUntil(deleteAudioTrackFiles(ctx.env, row).catch(() => undefined));
  else ctx.waitUntil(ctx.env.MEDIA.delete(trackKey(asset.id, row.id)).catch(() => undefined));
}
