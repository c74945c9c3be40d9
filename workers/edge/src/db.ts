/**
 * Every D1 read the edge makes, through the API's drizzle schema (src/db/schema.ts), so a renamed column is a
 * type error here rather than a playback outage. JSON columns are read as their raw text: the edge parses them
 * defensively (a malformed value must not fail playback), which drizzle's json mode would not.
 */
import { and, asc, eq, isNull, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { AnySQLiteColumn } from "drizzle-orm/sqlite-core";
import { assets, assetTracks, liveStreams, playbackIds, signingKeys } from "../../../src/db/schema";

const raw = (column: AnySQLiteColumn) => sql<string | null>`${column}`;

/** A playback ID with its asset or live stream (same environment), as state.ts turns it into a PlaybackState. */
export async function readPlaybackRow(d1: D1Database, playbackId: string) {
  const p = playbackIds;
  const a = assets;
  const l = liveStreams;
  return drizzle(d1)
    .select({
      id: p.id,
      environment_id: p.environmentId,
      asset_id: p.assetId,
      policy: p.policy,
      allowed_origins: raw(p.allowedOrigins),
      allow_no_referrer: p.allowNoReferrer,
      pb_deleted_at: p.deletedAt,
      status: a.status,
      current_run_id: a.currentRunId,
      renditions_status: a.renditionsStatus,
      has_poster: a.hasPoster,
      has_storyboard: a.hasStoryboard,
      asset_deleted_at: a.deletedAt,
      title: a.title,
      mp4_support: a.mp4Support,
      static_renditions: raw(a.staticRenditions),
      live_stream_id: p.liveStreamId,
      live_deleted_at: l.deletedAt,
    })
    .from(p)
    .leftJoin(a, and(eq(a.id, p.assetId), eq(a.environmentId, p.environmentId)))
    .leftJoin(l, and(eq(l.id, p.liveStreamId), eq(l.environmentId, p.environmentId)))
    .where(eq(p.id, playbackId))
    .get();
}
export type PlaybackRow = NonNullable<Awaited<ReturnType<typeof readPlaybackRow>>>;

/** A signing key's public half and whether it is revoked (the token verifier caches it). */
export async function readSigningKey(d1: D1Database, kid: string) {
  const k = signingKeys;
  return drizzle(d1)
    .select({ id: k.id, environment_id: k.environmentId, public_jwk: raw(k.publicJwk), revoked_at: k.revokedAt })
    .from(k)
    .where(eq(k.id, kid))
    .get();
}

/** An asset's ready, undeleted text tracks, oldest first. */
export async function readReadyTextTracks(d1: D1Database, assetId: string) {
  const t = assetTracks;
  const rows = await drizzle(d1)
    .select({
      id: t.id,
      textType: t.textType,
      languageCode: t.languageCode,
      name: t.name,
      closedCaptions: t.closedCaptions,
      isDefault: t.isDefault,
    })
    .from(t)
    .where(and(eq(t.assetId, assetId), eq(t.type, "text"), eq(t.status, "ready"), isNull(t.deletedAt)))
    .orderBy(asc(t.id));
  return rows.map((r) => ({ ...r, textType: r.textType ?? "subtitles" }));
}

/** Ready dubbed audio tracks of an asset (./audio-tracks.ts), with the run their files live in. */
export async function readReadyAudioTracks(d1: D1Database, assetId: string) {
  const t = assetTracks;
  const rows = await drizzle(d1)
    .select({ id: t.id, languageCode: t.languageCode, name: t.name, isDefault: t.isDefault, details: t.details })
    .from(t)
    .where(and(eq(t.assetId, assetId), eq(t.type, "audio"), eq(t.status, "ready"), isNull(t.deletedAt)))
    .orderBy(asc(t.id));
  return rows.map(({ details, ...r }) => ({ ...r, runId: (details as { run_id?: string } | null)?.run_id ?? null }));
}

/** The duration and tracks of an asset's run, if that run is still its current one. */
export async function readRunFacts(d1: D1Database, assetId: string, runId: string) {
  return drizzle(d1)
    .select({ duration_ms: assets.duration, tracks: raw(assets.tracks) })
    .from(assets)
    .where(and(eq(assets.id, assetId), eq(assets.currentRunId, runId)))
    .get();
}
