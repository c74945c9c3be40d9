/**
 * The LiveStream DO's record of the live ladder: one row per rendition segment in the DO's SQLite
 * (`rendition_segments`), keyed by the source segment's sequence number. It feeds the published window
 * (each rendition's facts and the sequence numbers it has) and, when the session ends, the recording's
 * rendition playlists and its ladder master. Called only from the DO, inside its lock.
 */
import { type LiveRendition, renditionHeight, sortRenditions } from "../lib/live-ladder-protocol";
import type { MediaInfo } from "./codecs";
import { type LiveSegment, mediaPlaylist, STREAM_DIR, type VariantFacts } from "./hls";
import { ladderMasterPlaylist, type PublishedRendition, renditionSegments } from "./ladder";

export const LADDER_TABLE_SQL = `CREATE TABLE IF NOT EXISTS rendition_segments (
  session TEXT NOT NULL, rendition TEXT NOT NULL, seq INTEGER NOT NULL, bytes INTEGER NOT NULL,
  received_at INTEGER NOT NULL, PRIMARY KEY (session, rendition, seq))`;

interface Row {
  rendition: string;
  seq: number;
  bytes: number;
}

type Facts = (
  segments: (LiveSegment & { bytes: number; conn: number })[],
  media: Record<string, MediaInfo>,
) => VariantFacts;

export function recordRenditionSegment(
  sql: SqlStorage,
  input: { session: string; rendition: string; seq: number; bytes: number; at: number },
) {
  sql.exec(
    "INSERT OR REPLACE INTO rendition_segments (session, rendition, seq, bytes, received_at) VALUES (?, ?, ?, ?, ?)",
    input.session,
    input.rendition,
    input.seq,
    input.bytes,
    input.at,
  );
}

function rows(sql: SqlStorage, session: string): Row[] {
  return sql
    .exec<{ rendition: string; seq: number; bytes: number }>(
      "SELECT rendition, seq, bytes FROM rendition_segments WHERE session = ? ORDER BY seq",
      session,
    )
    .toArray();
}

function byRendition(sql: SqlStorage, session: string, ladder: readonly string[]) {
  const out = new Map<string, Map<number, number>>();
  for (const r of rows(sql, session)) {
    if (!ladder.includes(r.rendition)) continue;
    const m = out.get(r.rendition) ?? new Map<number, number>();
    m.set(r.seq, r.bytes);
    out.set(r.rendition, m);
  }
  return sortRenditions([...out.keys()] as LiveRendition[]).map((name) => ({
    name,
    bytes: out.get(name) as Map<number, number>,
  }));
}

/** Each rendition over the published window: facts measured over the segments it has there. */
export function publishedRenditions(
  sql: SqlStorage,
  session: string,
  ladder: readonly string[],
  window: readonly LiveSegment[],
  media: Record<string, MediaInfo> | undefined,
  facts: Facts,
): PublishedRendition[] {
  return byRendition(sql, session, ladder).map(({ name, bytes }) => {
    const mine = window
      .filter((s) => bytes.has(s.seq))
      .map((s) => ({ ...s, bytes: bytes.get(s.seq) as number, conn: 0 }));
    const f = facts(mine, media?.[name] ? { 0: media[name] } : {});
    return {
      name,
      bandwidth: f.bandwidth,
      average_bandwidth: f.averageBandwidth ?? null,
      codecs: f.codecs ?? null,
      resolution: f.resolution ?? null,
      last_seq: Math.max(...bytes.keys()),
      seqs: mine.map((s) => s.seq),
    };
  });
}

/**
 * The recording's ladder, for the session's listed segments: one VOD playlist per rendition
 * (`stream/{rendition}.m3u8`, gaps where it missed a segment) and the master listing the source then the
 * renditions. Null without any rendition segment (the DO writes its one-variant master then).
 */
export function recordingLadder(
  sql: SqlStorage,
  input: {
    session: string;
    ladder: readonly string[];
    segments: readonly (LiveSegment & { bytes: number; conn: number })[];
    targetDuration: number;
    media: Record<string, MediaInfo> | undefined;
    sourceFacts: VariantFacts;
    facts: Facts;
  },
): { files: { name: string; body: string }[]; master: string } | null {
  const renditions = byRendition(sql, input.session, input.ladder);
  if (renditions.length === 0) return null;
  const files: { name: string; body: string }[] = [];
  const variants = [{ uri: `${STREAM_DIR}/index.m3u8`, facts: input.sourceFacts }];
  for (const { name, bytes } of renditions) {
    const segments = renditionSegments(input.segments, name, new Set(bytes.keys()));
    files.push({
      name: `${name}.m3u8`,
      body: mediaPlaylist(
        { targetDuration: input.targetDuration, mediaSequence: 0, discontinuitySequence: 0, segments },
        (n) => n,
        true,
      ),
    });
    const mine = input.segments
      .filter((s) => bytes.has(s.seq))
      .map((s) => ({ ...s, bytes: bytes.get(s.seq) as number, conn: 0 }));
    const f = input.facts(mine, input.media?.[name] ? { 0: input.media[name] } : {});
    variants.push({ uri: `${STREAM_DIR}/${name}.m3u8`, facts: f });
  }
  return { files, master: ladderMasterPlaylist(variants) };
}

export function forgetLadder(sql: SqlStorage, session: string) {
  sql.exec("DELETE FROM rendition_segments WHERE session = ?", session);
}

/** A rendition whose height is not below the source's adds nothing: the DO refuses it. */
export function belowSource(rendition: LiveRendition, sourceHeight: number | null | undefined): boolean {
  return !sourceHeight || renditionHeight(rendition) < sourceHeight;
}
