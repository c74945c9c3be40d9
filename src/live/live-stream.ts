/**
 * One LiveStream Durable Object per live stream: the only writer of its runtime state. It takes every
 * segment, init segment and playlist the encoder PUTs (after the Worker checked the stream key's hash
 * exists), assigns session, connection and sequence numbers of its own (a restarted ffmpeg starts
 * again at index0), writes each segment to R2 before recording it, publishes the live window to R2
 * for the edge, and runs the session's timers with its one alarm. D1 sees milestones only
 * (src/services/live-streams/session.ts).
 *
 * Sessions and connections. A session is one broadcast: it starts with its first segment and ends
 * when the encoder sends an ENDLIST playlist, on POST …/complete, on disable/delete, at
 * max_continuous_duration, or when the encoder stayed away longer than reconnect_window. A
 * connection is one encoder run. A segment continues the current connection when its index is the
 * next one; any other index (a restart at index0, a new init segment) opens a new connection, and its
 * first listed segment gets EXT-X-DISCONTINUITY in the same recording.
 *
 * Two encoders on one key: an out-of-sequence segment is only a reconnect when the current connection
 * has been quiet for at least one target duration (a restarted encoder cannot deliver its first
 * segment sooner). If the current encoder sent a segment more recently, the newcomer is refused with
 * 409 and the current one is unharmed.
 *
 * Sequence numbers are given when the encoder's playlist lists a segment (with its duration), so the
 * numbers of listed segments are contiguous even when a received segment is never listed (dropped).
 * A segment is listed only after its R2 write succeeded.
 */
import { DurableObject } from "cloudflare:workers";
import type { ErrorCode } from "../lib/errors";
import { type LiveRendition, renditionSegmentName } from "../lib/live-ladder-protocol";
import { log } from "../lib/log";
import { nowIso } from "../lib/time";
import type { LiveHealth } from "../services/live-streams/schemas";
import { TARGET_DURATION_S } from "../services/live-streams/schemas";
import {
  endSession,
  type IngestConfig,
  loadIngestConfig,
  markDisconnected,
  markReconnected,
  startSession,
  warnLiveStream,
} from "../services/live-streams/session";
import { type MediaInfo, mediaInfoFromInit, mediaInfoFromTs } from "./codecs";
import {
  type LiveSegment,
  liveStateKey,
  masterPlaylist,
  mediaPlaylist,
  type PublishedLiveState,
  parseEncoderPlaylist,
  STREAM_DIR,
  segmentIndex,
  sniffMedia,
  tsStartsWithKeyframe,
  type VariantFacts,
} from "./hls";
import {
  belowSource,
  forgetLadder,
  LADDER_TABLE_SQL,
  publishedRenditions,
  recordingLadder,
  recordRenditionSegment,
} from "./ladder-store";
import { ingestCmaf } from "./ll-hls/ingest";
import { LlParts } from "./ll-hls/state";
import type { RecordedMedia } from "./recording-clip";
import { type RecordingSourceResult, recordingSourcePlan } from "./recording-source";

export const MAX_SEGMENT_BYTES = 16 * 1024 * 1024;
export const MAX_PLAYLIST_BYTES = 256 * 1024;
const MAX_INIT_BYTES = 1024 * 1024;
/** Settings are re-read from D1 at least this often even if a `refresh` call was lost. */
const CONFIG_TTL_MS = 30_000;

export type IngestResult =
  | { ok: true; status: 201 | 204; seq?: number; connection?: number }
  | { ok: false; code: ErrorCode; message: string };

interface Session {
  id: string;
  no: number;
  startedAt: number;
  assetId: string | null;
  prefix: string;
}

interface Connection {
  no: number;
  lastIndex: number;
  lastSegmentAt: number;
  startedAt: number;
  container: "mpegts" | "fmp4";
  /** File name of the connection's init segment under `stream/` (fMP4), else null. */
  init: string | null;
  keyframeAligned: boolean;
  /** Codecs and video size read from the connection's init segment (fMP4) or first segments (MPEG-TS). */
  media?: MediaInfo | null;
}

interface Meta {
  streamId: string;
  session: Session | null;
  sessionNo: number;
  connNo: number;
  nextSeq: number;
  conn: Connection | null;
  connected: boolean;
  disconnectedAt: number | null;
  counters: { reconnects: number; dropped: number; late: number; refused: number };
  /** When the last `live_stream.warning` went out: a refused second encoder warns once a minute, not per PUT. */
  lastWarnAt?: number;
  /**
   * The connection a session was ended under (complete, max duration, or the encoder's own ENDLIST) while
   * its encoder may still be pushing: its next segments, within two target durations, are refused rather
   * than starting a new session.
   */
  closed?: { lastIndex: number; lastSegmentAt: number } | null;
  /** The session's connections' media, by connection number: CODECS/RESOLUTION of the window and the recording. */
  media?: Record<string, MediaInfo>;
  /** Sizes of the session's stored init segments, by file name (the recording's source plan needs them). */
  inits?: Record<string, number>;
  /** The live ladder's renditions' media, by rendition name (read from their first segment). */
  renditionMedia?: Record<string, MediaInfo>;
}

const fail = (code: ErrorCode, message: string): IngestResult => ({ ok: false, code, message });

function emptyMeta(streamId: string): Meta {
  return {
    streamId,
    session: null,
    sessionNo: 0,
    connNo: 0,
    nextSeq: 0,
    conn: null,
    connected: false,
    disconnectedAt: null,
    counters: { reconnects: 0, dropped: 0, late: 0, refused: 0 },
  };
}

export class LiveStream extends DurableObject<Env> {
  private cfg: IngestConfig | null = null;
  private cfgLoadedAt = 0;
  /** LL-HLS parts of the CMAF push in progress (./ll-hls/state.ts). */
  private ll = new LlParts();
  /** Every state change runs one at a time: R2 and D1 awaits would otherwise let requests interleave. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS segments (
      session TEXT NOT NULL, conn INTEGER NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL,
      bytes INTEGER NOT NULL, init TEXT, received_at INTEGER NOT NULL,
      seq INTEGER, duration REAL, disc INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (session, conn, idx))`);
    ctx.storage.sql.exec("CREATE INDEX IF NOT EXISTS segments_seq ON segments (session, seq)");
    ctx.storage.sql.exec(LADDER_TABLE_SQL);
  }

  /** Whether the current session holds segment `idx` of connection `conn` with exactly `length` bytes. */
  private sameAsStored(m: Meta, conn: number, idx: number, length: number): boolean {
    if (!m.session) return false;
    const row = this.ctx.storage.sql
      .exec<{ bytes: number }>(
        "SELECT bytes FROM segments WHERE session = ? AND conn = ? AND idx = ?",
        m.session.id,
        conn,
        idx,
      )
      .toArray()[0];
    return row?.bytes === length;
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.catch(() => {});
    return run;
  }

  private async meta(streamId?: string): Promise<Meta> {
    const m = await this.ctx.storage.get<Meta>("meta");
    if (m) return m;
    if (!streamId) throw new Error("live stream DO used before it knew its stream");
    return emptyMeta(streamId);
  }

  private async save(m: Meta) {
    await this.ctx.storage.put("meta", m);
  }

  private async config(streamId: string, force = false): Promise<IngestConfig | null> {
    if (force || !this.cfg || Date.now() - this.cfgLoadedAt > CONFIG_TTL_MS) {
      this.cfg = await loadIngestConfig(this.env, streamId);
      this.cfgLoadedAt = Date.now();
    }
    return this.cfg;
  }

  private targetMs(cfg: IngestConfig): number {
    return TARGET_DURATION_S[cfg.latencyMode] * 1000;
  }

  private wait = (p: Promise<unknown>) => this.ctx.waitUntil(p);

  /** Refusals shared by every ingest call: unknown/deleted stream, wrong (rotated) key, disabled. */
  private async gate(streamId: string, keyHash: string): Promise<{ cfg: IngestConfig } | IngestResult> {
    const cfg = await this.config(streamId);
    if (!cfg || cfg.deletedAt) return fail("unauthenticated", "Unknown stream key.");
    const a = new TextEncoder().encode(cfg.streamKeyHash);
    const b = new TextEncoder().encode(keyHash);
    if (a.byteLength !== b.byteLength || !crypto.subtle.timingSafeEqual(a, b)) {
      return fail("unauthenticated", "Unknown stream key (it may have been reset).");
    }
    if (cfg.status === "disabled") return fail("forbidden", "This live stream is disabled.");
    return { cfg };
  }

  private async refuse(m: Meta, result: IngestResult): Promise<IngestResult> {
    m.counters.refused++;
    await this.save(m);
    return result;
  }

  // ------------------------------------------------------------ ingest RPC

  /** An fMP4 init segment: kept until the next connection starts (it belongs to that connection). */
  async acceptInit(input: { streamId: string; keyHash: string; body: ArrayBuffer }): Promise<IngestResult> {
    return this.locked(async () => {
      const g = await this.gate(input.streamId, input.keyHash);
      if (!("cfg" in g)) return g;
      const m = await this.meta(input.streamId);
      const bytes = new Uint8Array(input.body);
      if (bytes.byteLength > MAX_INIT_BYTES)
        return this.refuse(m, fail("payload_too_large", "Init segment over 1 MiB."));
      if (sniffMedia(bytes) !== "fmp4-init") {
        return this.refuse(m, fail("unsupported_media_type", "The init segment is not an fMP4 (ftyp) file."));
      }
      await this.ctx.storage.put("pendingInit", input.body);
      await this.save(m);
      return { ok: true, status: 201 };
    });
  }

  async acceptSegment(input: {
    streamId: string;
    keyHash: string;
    name: string;
    body: ArrayBuffer;
  }): Promise<IngestResult> {
    return this.locked(async () => {
      const g = await this.gate(input.streamId, input.keyHash);
      if (!("cfg" in g)) return g;
      const cfg = g.cfg;
      const m = await this.meta(input.streamId);
      const bytes = new Uint8Array(input.body);
      if (bytes.byteLength > MAX_SEGMENT_BYTES) {
        return this.refuse(m, fail("payload_too_large", `Segments are limited to ${MAX_SEGMENT_BYTES} bytes.`));
      }
      const kind = sniffMedia(bytes);
      if (kind !== "mpegts" && kind !== "fmp4") {
        return this.refuse(m, fail("unsupported_media_type", "The body is neither an MPEG-TS nor an fMP4 segment."));
      }
      const idx = segmentIndex(input.name);
      if (idx === null) return this.refuse(m, fail("bad_request", `'${input.name}' is not a numbered segment name.`));

      const now = Date.now();
      const target = this.targetMs(cfg);
      if (!m.session && m.closed && idx === m.closed.lastIndex + 1 && now - m.closed.lastSegmentAt < 2 * target) {
        m.closed = { lastIndex: idx, lastSegmentAt: now };
        return this.refuse(
          m,
          fail(
            "conflict",
            "This broadcast was ended (complete or max duration); restart the encoder to go live again.",
          ),
        );
      }
      const pendingInit = await this.ctx.storage.get<ArrayBuffer>("pendingInit");
      // The session's current connection, even if the alarm marked it disconnected: an encoder that stalled
      // and resumes with the next index is the same connection (same init segment), not a reconnect.
      const c = m.session ? m.conn : null;
      const quietMs = c ? now - c.lastSegmentAt : Number.POSITIVE_INFINITY;
      let newConn: boolean;
      if (!c) newConn = true;
      else if (idx === c.lastIndex && quietMs < target && this.sameAsStored(m, c.no, idx, bytes.byteLength)) {
        // A retransmission of the segment just taken (same name, same length): already stored, nothing changes.
        // A different body under the same index is another encoder (e.g. a second CMAF push at its segment 0).
        return { ok: true, status: 201, connection: c.no };
      } else if (idx === c.lastIndex + 1 && !(pendingInit && idx === 0)) newConn = false;
      else if (quietMs < target) {
        if (now - (m.lastWarnAt ?? 0) > 60_000) {
          await warnLiveStream(this.env, this.wait, cfg, "A second encoder tried to push to this stream key; refused.");
          m.lastWarnAt = now;
        }
        return this.refuse(
          m,
          fail(
            "conflict",
            `Another encoder is pushing to this stream key (segment ${idx} while the current encoder is at ` +
              `${c.lastIndex}, ${(quietMs / 1000).toFixed(1)} s ago). Stop the other encoder or wait.`,
          ),
        );
      } else newConn = true;
      if (kind === "fmp4" && (newConn ? !pendingInit : !c?.init)) {
        return this.refuse(m, fail("bad_request", "An fMP4 segment arrived before its init segment (init.mp4)."));
      }

      // A new session starts with its first segment; with recording on, that creates the asset.
      let session = m.session;
      if (!session) {
        const no = m.sessionNo + 1;
        const id = `s${no}-${crypto.randomUUID().slice(0, 8)}`;
        const assetId = await startSession(this.env, this.wait, cfg, {
          id,
          recording: cfg.recording.mode === "automatic",
        });
        session = {
          id,
          no,
          startedAt: now,
          assetId,
          prefix: assetId ? `assets/${assetId}/runs/${id}/` : `live/${cfg.id}/${id}/`,
        };
        m.session = session;
        m.sessionNo = no;
        // Health describes this broadcast: its reconnects, drops and late arrivals start from zero.
        m.counters = { ...m.counters, reconnects: 0, dropped: 0, late: 0 };
        m.media = {};
        m.inits = {};
        m.renditionMedia = {};
        m.connected = true;
        m.disconnectedAt = null;
        m.conn = null;
        await this.save(m);
      } else if (!m.connected) {
        await markReconnected(this.env, this.wait, cfg, session.id);
      } else if (newConn) {
        // A new connection replaced one that never said goodbye (a relay or encoder that died and came back)
        // before the alarm noticed its silence: the old one is gone all the same. The same two events as a
        // reconnect after a noticed silence, instead of none when the restart beat the alarm (2 target durations).
        await markDisconnected(this.env, this.wait, cfg, session.id);
        await markReconnected(this.env, this.wait, cfg, session.id);
      }

      const connNo = newConn ? m.connNo + 1 : (c as Connection).no;
      let init = newConn ? null : (c as Connection).init;
      if (newConn && kind === "fmp4" && pendingInit) {
        init = `init-c${connNo}.mp4`;
        await this.env.MEDIA.put(`${session.prefix}${STREAM_DIR}/${init}`, pendingInit, {
          httpMetadata: { contentType: "video/mp4" },
        });
        m.inits = { ...(m.inits ?? {}), [init]: pendingInit.byteLength };
      }
      const name = `c${connNo}-${idx}.${kind === "mpegts" ? "ts" : "m4s"}`;
      // R2 first: a segment is recorded (and can be listed) only once it is durably stored.
      await this.env.MEDIA.put(`${session.prefix}${STREAM_DIR}/${name}`, input.body, {
        httpMetadata: { contentType: kind === "mpegts" ? "video/mp2t" : "video/iso.segment" },
      });
      this.ctx.storage.sql.exec(
        `INSERT OR REPLACE INTO segments (session, conn, idx, name, bytes, init, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
        session.id,
        connNo,
        idx,
        name,
        bytes.byteLength,
        init,
        now,
      );
      const aligned = kind === "mpegts" ? tsStartsWithKeyframe(bytes) : true;
      // What the connection carries: from its init segment, or from MPEG-TS segments until one tells.
      const known = newConn ? null : ((m.conn as Connection).media ?? null);
      const media =
        known?.codecs != null
          ? known
          : kind === "fmp4"
            ? newConn && pendingInit
              ? mediaInfoFromInit(new Uint8Array(pendingInit))
              : known
            : mediaInfoFromTs(bytes);
      if (media) m.media = { ...(m.media ?? {}), [connNo]: media };
      if (newConn) {
        if (m.conn) m.counters.reconnects++;
        m.connNo = connNo;
        m.conn = {
          no: connNo,
          lastIndex: idx,
          lastSegmentAt: now,
          startedAt: now,
          container: kind,
          init,
          keyframeAligned: aligned,
          media,
        };
        if (pendingInit) await this.ctx.storage.delete("pendingInit");
      } else {
        const cur = m.conn as Connection;
        if (now - cur.lastSegmentAt > 1.5 * target) m.counters.late++;
        cur.lastIndex = idx;
        cur.lastSegmentAt = now;
        cur.keyframeAligned &&= aligned;
        cur.media = media;
      }
      m.connected = true;
      m.disconnectedAt = null;
      await this.save(m);
      await this.schedule(m, cfg);
      return { ok: true, status: 201, connection: connNo };
    });
  }

  /**
   * The encoder's playlist: lists (and gives durations to) segments already stored, and may end the
   * session (ENDLIST). Naming a segment this connection never delivered is refused, nothing changes.
   */
  async acceptPlaylist(input: { streamId: string; keyHash: string; text: string }): Promise<IngestResult> {
    const pl = parseEncoderPlaylist(input.text);
    if (pl) await this.awaitListedSegments(input, pl);
    return this.locked(async () => {
      const g = await this.gate(input.streamId, input.keyHash);
      if (!("cfg" in g)) return g;
      const cfg = g.cfg;
      const m = await this.meta(input.streamId);
      if (!pl) return this.refuse(m, fail("bad_request", "The body is not an HLS media playlist."));
      const session = m.session;
      const conn = m.conn;
      if (!session || !conn) {
        if (pl.entries.length === 0) return { ok: true, status: 201 };
        return this.refuse(m, fail("bad_request", "The playlist names segments that were never received."));
      }
      const rows: { idx: number; duration: number; seq: number | null }[] = [];
      const missing: string[] = [];
      for (const e of pl.entries) {
        const idx = segmentIndex(e.uri);
        const row =
          idx === null
            ? undefined
            : this.ctx.storage.sql
                .exec<{ seq: number | null }>(
                  "SELECT seq FROM segments WHERE session = ? AND conn = ? AND idx = ?",
                  session.id,
                  conn.no,
                  idx,
                )
                .toArray()[0];
        if (!row || idx === null) missing.push(e.uri);
        else rows.push({ idx, duration: e.duration, seq: row.seq });
      }
      if (missing.length > 0) {
        return this.refuse(
          m,
          fail(
            "bad_request",
            `The playlist names segments that were never received: ${missing.slice(0, 5).join(", ")}.`,
          ),
        );
      }
      let changed = false;
      for (const r of rows) {
        if (r.seq !== null) continue;
        const prev = this.ctx.storage.sql
          .exec<{ conn: number }>(
            "SELECT conn FROM segments WHERE session = ? AND seq IS NOT NULL ORDER BY seq DESC LIMIT 1",
            session.id,
          )
          .toArray()[0];
        this.ctx.storage.sql.exec(
          "UPDATE segments SET seq = ?, duration = ?, disc = ? WHERE session = ? AND conn = ? AND idx = ?",
          m.nextSeq,
          r.duration,
          prev && prev.conn !== conn.no ? 1 : 0,
          session.id,
          conn.no,
          r.idx,
        );
        m.nextSeq++;
        changed = true;
      }
      if (changed) {
        await this.save(m);
        await this.publish(m, cfg);
      }
      if (pl.ended) await this.finish(m, cfg, "encoder_ended");
      return { ok: true, status: 201 };
    });
  }

  /**
   * ffmpeg sends a playlist as soon as its segment is written, without waiting for the segment's PUT to be
   * answered (measured with 4.1 and 5.1): the playlist can reach us while the route is still reading the
   * segment's body. Before refusing a playlist that names a segment we do not hold, wait (outside the lock,
   * so the segment can land) until every listed segment is stored, for at most one target duration.
   */
  private async awaitListedSegments(
    input: { streamId: string; keyHash: string },
    pl: NonNullable<ReturnType<typeof parseEncoderPlaylist>>,
  ): Promise<void> {
    if (pl.entries.length === 0) return;
    const g = await this.gate(input.streamId, input.keyHash);
    if (!("cfg" in g)) return;
    const deadline = Date.now() + this.targetMs(g.cfg);
    for (;;) {
      const m = await this.ctx.storage.get<Meta>("meta");
      const session = m?.session;
      const conn = m?.conn;
      const held = (idx: number | null) =>
        session &&
        conn &&
        idx !== null &&
        this.ctx.storage.sql
          .exec("SELECT 1 FROM segments WHERE session = ? AND conn = ? AND idx = ?", session.id, conn.no, idx)
          .toArray().length > 0;
      if (pl.entries.every((e) => held(segmentIndex(e.uri))) || Date.now() >= deadline) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * A CMAF chunked push (./ll-hls/ingest.ts): read as it arrives, stored and listed through the same verbs
   * as an HLS push; with latency_mode low each part is written to R2 and published as it completes.
   */
  async acceptCmaf(input: {
    streamId: string;
    keyHash: string;
    body: ReadableStream<Uint8Array>;
  }): Promise<IngestResult> {
    const g = await this.gate(input.streamId, input.keyHash);
    if (!("cfg" in g)) {
      await input.body.cancel().catch(() => {});
      return g;
    }
    const common = { streamId: input.streamId, keyHash: input.keyHash };
    return ingestCmaf(input.body, {
      init: (bytes) => this.acceptInit({ ...common, body: bytes.slice().buffer }),
      segment: async (idx, bytes, duration, ended) => {
        const name = `index${idx}.m4s`;
        const stored = await this.acceptSegment({ ...common, name, body: bytes.slice().buffer });
        if (!stored.ok || stored.connection === undefined) return stored;
        const m = await this.meta(input.streamId);
        this.ll.listed(stored.connection, idx, m.nextSeq);
        const text = `#EXTM3U\n#EXTINF:${duration.toFixed(6)},\n${name}\n${ended ? "#EXT-X-ENDLIST\n" : ""}`;
        const listed = await this.acceptPlaylist({ ...common, text });
        return listed.ok ? stored : listed;
      },
      part: (conn, idx, k, part) => this.acceptPart(input.streamId, conn, idx, k, part),
      closed: (conn) => this.ll.close(conn),
    });
  }

  /** One LL-HLS part: to R2 first, then published. Only for low latency and the current connection. */
  private async acceptPart(
    streamId: string,
    conn: number | null,
    idx: number,
    k: number,
    part: { bytes: Uint8Array; duration: number; independent: boolean },
  ) {
    await this.locked(async () => {
      const cfg = await this.config(streamId);
      const m = await this.meta(streamId);
      if (cfg?.latencyMode !== "low" || conn === null || !m.session || m.conn?.no !== conn) return;
      const name = LlParts.partName(conn, idx, k);
      await this.env.MEDIA.put(`${m.session.prefix}${STREAM_DIR}/${name}`, part.bytes, {
        httpMetadata: { contentType: "video/iso.segment" },
      });
      this.ll.add(conn, idx, k, { duration: part.duration, independent: part.independent });
      await this.publish(m, cfg);
    });
  }

  /**
   * A live ladder rendition's segment for source sequence number `seq`, from the transcoder (signed; the
   * route checked it). Only for the current session, a rendition the stream asks for and below the
   * source's size, and a sequence number the source has listed: the rendition inherits its duration and
   * discontinuity, so it lines up with the source segment for segment.
   */
  async acceptRendition(input: {
    streamId: string;
    sessionId: string;
    rendition: LiveRendition;
    seq: number;
    body: ArrayBuffer;
  }): Promise<IngestResult> {
    const bytes = new Uint8Array(input.body);
    if (sniffMedia(bytes) !== "mpegts") return fail("unsupported_media_type", "A rendition segment must be MPEG-TS.");
    // The bytes go to R2 before the lock: the source's segments queue behind the lock, never behind a
    // rendition's upload. Checked again under the lock; a segment refused there is an unlisted file of the session.
    const early = await this.ctx.storage.get<Meta>("meta");
    if (!early?.session || early.session.id !== input.sessionId) {
      return fail("conflict", `Session ${input.sessionId} is not on air (it ended or never started).`);
    }
    const name = renditionSegmentName(input.rendition, input.seq);
    const ladder = (await this.config(input.streamId))?.renditions ?? [];
    if (ladder.includes(input.rendition)) {
      await this.env.MEDIA.put(`${early.session.prefix}${STREAM_DIR}/${name}`, input.body, {
        httpMetadata: { contentType: "video/mp2t" },
      });
    }
    return this.locked(async () => {
      const cfg = await this.config(input.streamId);
      if (!cfg || cfg.deletedAt) return fail("not_found", "Unknown live stream.");
      if (!(cfg.renditions ?? []).includes(input.rendition) || !ladder.includes(input.rendition)) {
        return fail("conflict", `This live stream's ladder has no ${input.rendition} rendition.`);
      }
      const m = await this.meta(input.streamId);
      const session = m.session;
      if (!session || session.id !== input.sessionId) {
        return fail("conflict", `Session ${input.sessionId} is not on air (it ended or never started).`);
      }
      const source = this.ctx.storage.sql
        .exec<{ conn: number }>("SELECT conn FROM segments WHERE session = ? AND seq = ?", session.id, input.seq)
        .toArray()[0];
      if (!source) return fail("conflict", `The source has no segment ${input.seq} in this session.`);
      const src = m.media?.[source.conn];
      const short = src?.width && src.height ? Math.min(src.width, src.height) : null;
      if (!belowSource(input.rendition, short)) {
        return fail("conflict", `${input.rendition} is not below the source (${src?.width}x${src?.height}).`);
      }
      recordRenditionSegment(this.ctx.storage.sql, {
        session: session.id,
        rendition: input.rendition,
        seq: input.seq,
        bytes: bytes.byteLength,
        at: Date.now(),
      });
      if (!m.renditionMedia?.[input.rendition]?.codecs) {
        m.renditionMedia = { ...(m.renditionMedia ?? {}), [input.rendition]: mediaInfoFromTs(bytes) };
        await this.save(m);
      }
      await this.publish(m, cfg, { renditionOnly: true });
      return { ok: true, status: 201 };
    });
  }

  // ------------------------------------------------------------ control RPC

  /** Re-reads the settings after the API changed them; a disabled or deleted stream ends its session. */
  async refresh(streamId: string): Promise<void> {
    await this.locked(async () => {
      const cfg = await this.config(streamId, true);
      const m = await this.meta(streamId);
      if (!cfg) return;
      if (m.session && (cfg.deletedAt || cfg.status === "disabled")) {
        await this.finish(m, cfg, cfg.deletedAt ? "deleted" : "disabled");
      } else {
        await this.save(m);
        await this.publish(m, cfg);
        await this.schedule(m, cfg);
      }
    });
  }

  /** POST …/complete: the broadcast is over now, not after the reconnect window. */
  async complete(streamId: string): Promise<void> {
    await this.locked(async () => {
      const cfg = await this.config(streamId, true);
      if (cfg) await this.finish(await this.meta(streamId), cfg, "completed");
    });
  }

  async health(streamId: string): Promise<LiveHealth> {
    const cfg = await this.config(streamId);
    const m = await this.meta(streamId);
    const recent = m.session
      ? this.ctx.storage.sql
          .exec<{ bytes: number; duration: number }>(
            "SELECT bytes, duration FROM segments WHERE session = ? AND seq IS NOT NULL ORDER BY seq DESC LIMIT 10",
            m.session.id,
          )
          .toArray()
      : [];
    const total = recent.reduce((s, r) => s + r.duration, 0);
    const count = m.session
      ? (this.ctx.storage.sql
          .exec<{ n: number }>("SELECT count(*) AS n FROM segments WHERE session = ? AND seq IS NOT NULL", m.session.id)
          .one().n as number)
      : 0;
    const arrivals =
      m.session && m.conn
        ? this.ctx.storage.sql
            .exec<{ at: number }>(
              "SELECT received_at AS at FROM segments WHERE session = ? AND conn = ? ORDER BY idx DESC LIMIT 11",
              m.session.id,
              m.conn.no,
            )
            .toArray()
            .map((r) => r.at)
        : [];
    const interval = arrivals.length > 1 ? (arrivals[0] - arrivals[arrivals.length - 1]) / (arrivals.length - 1) : null;
    const iso = (ms: number | null | undefined) => (ms ? new Date(ms).toISOString() : null);
    const media = m.conn?.media ?? null;
    return {
      status: cfg?.status === "disabled" ? "disabled" : m.session ? "active" : "idle",
      connection: m.connected ? "connected" : "disconnected",
      session_id: m.session?.id ?? null,
      connected_since: m.connected ? iso(m.conn?.startedAt) : null,
      last_segment_at: iso(m.conn?.lastSegmentAt),
      target_segment_duration: cfg ? TARGET_DURATION_S[cfg.latencyMode] : 0,
      average_segment_duration: recent.length ? total / recent.length : null,
      ingest_bitrate: total > 0 ? Math.round((recent.reduce((s, r) => s + r.bytes, 0) * 8) / total) : null,
      average_segment_interval: interval === null ? null : Math.round(interval) / 1000,
      container: m.conn?.container ?? null,
      codecs: media?.codecs ?? null,
      video_width: media?.width ?? null,
      video_height: media?.height ?? null,
      keyframe_aligned: m.conn ? m.conn.keyframeAligned : null,
      segments: count,
      reconnects: m.counters.reconnects,
      dropped_segments: m.counters.dropped + (m.session ? this.skipped(m.session.id) : 0),
      late_segments: m.counters.late,
      refused_requests: m.counters.refused,
    };
  }

  /**
   * What session `sessionId` has recorded so far (listed segments only: each is stored in R2), for a clip
   * of the recording while it runs (./recording-clip.ts); null once the session is over (its VOD playlist
   * in R2 says the same from then on).
   */
  async recordedSegments(sessionId: string): Promise<RecordedMedia | null> {
    const m = await this.ctx.storage.get<Meta>("meta");
    if (!m?.session || m.session.id !== sessionId) return null;
    const segments = this.listed(sessionId).map((s) => ({
      uri: s.uri,
      duration: s.duration,
      map: s.map,
      bytes: s.bytes,
    }));
    return { dir: `${m.session.prefix}${STREAM_DIR}/`, segments, inits: m.inits ?? {}, live: true };
  }

  /**
   * Segments of the session the encoder's playlist passed over: never listed while a later one of the
   * same connection, or any of a later connection, was. (Finished sessions fold them into the counter.)
   */
  private skipped(sessionId: string): number {
    return this.ctx.storage.sql
      .exec<{ n: number }>(
        `SELECT count(*) AS n FROM segments s WHERE s.session = ?1 AND s.seq IS NULL AND EXISTS (
           SELECT 1 FROM segments l WHERE l.session = ?1 AND l.seq IS NOT NULL
             AND (l.conn > s.conn OR (l.conn = s.conn AND l.idx > s.idx)))`,
        sessionId,
      )
      .one().n as number;
  }

  // ------------------------------------------------------------ timers

  /**
   * The one alarm: disconnected after 2× the target duration without a segment; the session ends
   * when the reconnect window has passed since then, or at max_continuous_duration. Every branch
   * re-checks the stored state, so a repeated or late alarm does nothing twice.
   */
  async alarm(): Promise<void> {
    await this.locked(async () => {
      const m = await this.ctx.storage.get<Meta>("meta");
      if (!m?.session) return;
      const cfg = await this.config(m.streamId, true);
      if (!cfg) return;
      const now = Date.now();
      if (m.connected && m.conn && now - m.conn.lastSegmentAt >= 2 * this.targetMs(cfg)) {
        await markDisconnected(this.env, this.wait, cfg, m.session.id);
        m.connected = false;
        m.disconnectedAt = now;
        await this.save(m);
      }
      if (!m.connected && now - (m.disconnectedAt ?? now) >= cfg.reconnectWindow * 1000) {
        await this.finish(m, cfg, "reconnect_window_elapsed");
      } else if (now - m.session.startedAt >= cfg.maxContinuousDuration * 1000) {
        await this.finish(m, cfg, "max_continuous_duration");
      } else await this.schedule(m, cfg);
    });
  }

  private async schedule(m: Meta, cfg: IngestConfig) {
    if (!m.session) {
      await this.ctx.storage.deleteAlarm();
      return;
    }
    const deadlines = [m.session.startedAt + cfg.maxContinuousDuration * 1000];
    if (m.connected && m.conn) deadlines.push(m.conn.lastSegmentAt + 2 * this.targetMs(cfg));
    else deadlines.push((m.disconnectedAt ?? Date.now()) + cfg.reconnectWindow * 1000);
    await this.ctx.storage.setAlarm(Math.min(...deadlines));
  }

  // ------------------------------------------------------------ session end and publishing

  private listed(sessionId: string): Listed[] {
    return this.ctx.storage.sql
      .exec<{
        seq: number;
        duration: number;
        name: string;
        disc: number;
        init: string | null;
        bytes: number;
        conn: number;
      }>(
        "SELECT seq, duration, name, disc, init, bytes, conn FROM segments WHERE session = ? AND seq IS NOT NULL ORDER BY seq",
        sessionId,
      )
      .toArray()
      .map((r) => ({
        seq: r.seq,
        duration: r.duration,
        uri: r.name,
        disc: r.disc === 1,
        map: r.init,
        bytes: r.bytes,
        conn: r.conn,
      }));
  }

  /**
   * Ends the session (idempotent: no session, nothing to do). The recording gets its VOD playlist
   * (ENDLIST, discontinuities kept) and master next to the segments, then D1 marks it `ready`.
   */
  private async finish(m: Meta, cfg: IngestConfig, reason: string) {
    const session = m.session;
    if (!session) return;
    const segments = this.listed(session.id);
    const unlisted = this.ctx.storage.sql
      .exec<{ n: number }>("SELECT count(*) AS n FROM segments WHERE session = ? AND seq IS NULL", session.id)
      .one().n as number;
    let durationMs: number | null = null;
    if (segments.length > 0) {
      durationMs = Math.round(segments.reduce((s, x) => s + x.duration, 0) * 1000);
      if (session.assetId) {
        const vod = mediaPlaylist(
          {
            targetDuration: TARGET_DURATION_S[cfg.latencyMode],
            mediaSequence: 0,
            discontinuitySequence: 0,
            segments,
          },
          (n) => n,
          true,
        );
        await this.env.MEDIA.put(`${session.prefix}${STREAM_DIR}/index.m3u8`, vod, {
          httpMetadata: { contentType: "application/vnd.apple.mpegurl" },
        });
        const sourceFacts = variantFacts(segments, m.media);
        // With a live ladder the recording keeps it: each rendition's VOD playlist, and a master listing them.
        const ladder = recordingLadder(this.ctx.storage.sql, {
          session: session.id,
          ladder: cfg.renditions ?? [],
          segments,
          targetDuration: TARGET_DURATION_S[cfg.latencyMode],
          media: m.renditionMedia,
          sourceFacts,
          facts: variantFacts,
        });
        for (const f of ladder?.files ?? []) {
          await this.env.MEDIA.put(`${session.prefix}${STREAM_DIR}/${f.name}`, f.body, {
            httpMetadata: { contentType: "application/vnd.apple.mpegurl" },
          });
        }
        await this.env.MEDIA.put(
          `${session.prefix}master.m3u8`,
          ladder?.master ?? masterPlaylist(`${STREAM_DIR}/index.m3u8`, sourceFacts),
          { httpMetadata: { contentType: "application/vnd.apple.mpegurl" } },
        );
      }
    }
    const { recordingKept } = await endSession(this.env, this.wait, cfg, {
      sessionId: session.id,
      assetId: session.assetId,
      durationMs,
      wasConnected: m.connected,
      reason,
      // From what the DO recorded, not from R2: ending a session stays a few storage writes.
      source: session.assetId && segments.length > 0 ? sourcePlan(session, segments, m.inits) : undefined,
    });
    log.info("live_session_ended", {
      live_stream_id: cfg.id,
      session_id: session.id,
      reason,
      segments: segments.length,
    });
    m.counters.dropped += unlisted;
    // The encoder's own ENDLIST counts too: the RTMP relay PUTs it once its ffmpeg has exited, and that ffmpeg's
    // last segment PUT may still be on its way (under load it landed after the ENDLIST and opened a new session
    // that then waited out the whole reconnect window).
    m.closed =
      m.connected &&
      m.conn &&
      (reason === "completed" || reason === "max_continuous_duration" || reason === "encoder_ended")
        ? { lastIndex: m.conn.lastIndex, lastSegmentAt: m.conn.lastSegmentAt }
        : null;
    m.session = null;
    m.conn = null;
    m.connected = false;
    m.disconnectedAt = null;
    await this.save(m);
    this.ctx.storage.sql.exec("DELETE FROM segments WHERE session = ?", session.id);
    forgetLadder(this.ctx.storage.sql, session.id);
    await this.ctx.storage.delete("pendingInit");
    await this.ctx.storage.deleteAlarm();
    await this.publish(m, cfg);
    // Without a recording (none, or deleted while the session ran: its media deletion has already run and
    // the segments written since would be orphans) nothing refers to the segments once the edge stops listing them.
    if (!recordingKept) this.ctx.waitUntil(deletePrefix(this.env.MEDIA, session.prefix));
  }

  /**
   * When the source window last changed. A publish for a ladder rendition keeps it as `updated_at`: the edge
   * times its next read of the state from it (the source's next segment is due a segment duration later), and
   * a rendition landing mid-segment must not push that read later and delay the source.
   */
  private sourcePublishedAt: string | null = null;

  /** Writes the live window the edge serves: listed (stored) segments only. */
  private async publish(m: Meta, cfg: IngestConfig, opts: { renditionOnly?: boolean } = {}) {
    const updatedAt = opts.renditionOnly && this.sourcePublishedAt ? this.sourcePublishedAt : nowIso();
    if (!opts.renditionOnly) this.sourcePublishedAt = updatedAt;
    const target = TARGET_DURATION_S[cfg.latencyMode];
    let window: Listed[] = [];
    let discSeq = 0;
    if (m.session) {
      const all = this.listed(m.session.id);
      const span = cfg.dvrWindow > 0 ? cfg.dvrWindow : 5 * target;
      let sum = 0;
      let first = all.length;
      while (first > 0 && (sum < span || all.length - first < 3)) {
        first--;
        sum += all[first].duration;
      }
      window = all.slice(first);
      discSeq = all.slice(0, first).filter((s) => s.disc).length;
    }
    const state: PublishedLiveState = {
      v: 1,
      stream_id: cfg.id,
      status: cfg.status === "disabled" ? "disabled" : m.session && window.length > 0 ? "active" : "idle",
      session_id: m.session?.id ?? null,
      prefix: m.session?.prefix ?? null,
      target_duration: target,
      media_sequence: window[0]?.seq ?? 0,
      discontinuity_sequence: discSeq,
      ...publishedFacts(variantFacts(window, m.media)),
      ...(m.session && (cfg.renditions ?? []).length > 0
        ? {
            renditions: publishedRenditions(
              this.ctx.storage.sql,
              m.session.id,
              cfg.renditions,
              window,
              m.renditionMedia,
              variantFacts,
            ),
          }
        : {}),
      segments: window.map(({ bytes: _b, conn: _c, ...s }) => s),
      updated_at: updatedAt,
      ll:
        cfg.latencyMode === "low" && m.session && window.length > 0
          ? this.ll.published(m.conn?.no ?? null, window.at(-1 - 2)?.seq ?? window[0].seq, m.nextSeq)
          : null,
    };
    await this.env.MEDIA.put(liveStateKey(cfg.id), JSON.stringify(state), {
      httpMetadata: { contentType: "application/json" },
    });
  }
}

type Listed = LiveSegment & { bytes: number; conn: number };

/** The recording as one pipeline source (src/live/recording-source.ts), from the listed segments. */
function sourcePlan(session: Session, segments: Listed[], inits: Record<string, number> | undefined) {
  const names: { name: string; size: number | undefined }[] = [];
  let map: string | null = null;
  for (const s of segments) {
    if (s.map && s.map !== map) names.push({ name: s.map, size: inits?.[s.map] });
    map = s.map;
    names.push({ name: s.uri, size: s.bytes });
  }
  return recordingSourcePlan(`${session.prefix}${STREAM_DIR}/`, names) as RecordingSourceResult;
}

/**
 * The variant's attributes, measured over `segments`: peak and mean bits/s (BANDWIDTH, AVERAGE-BANDWIDTH),
 * the codecs when every connection in the span was read and all agree (a CODECS naming too little makes
 * players refuse the stream; none at all is safe), and the largest video size.
 */
function variantFacts(segments: Listed[], media: Record<string, MediaInfo> | undefined): VariantFacts {
  let peak = 0;
  let bytes = 0;
  let seconds = 0;
  for (const s of segments) {
    if (s.duration <= 0) continue;
    peak = Math.max(peak, (s.bytes * 8) / s.duration);
    bytes += s.bytes;
    seconds += s.duration;
  }
  const infos = [...new Set(segments.map((s) => s.conn))].map((c) => media?.[c]);
  const codecs = new Set(infos.map((i) => i?.codecs ?? null));
  let resolution: VariantFacts["resolution"] = null;
  for (const i of infos) {
    if (i?.width && i.height && (!resolution || i.width * i.height > resolution.width * resolution.height)) {
      resolution = { width: i.width, height: i.height };
    }
  }
  return {
    bandwidth: peak > 0 ? Math.round(peak) : null,
    averageBandwidth: seconds > 0 ? Math.round((bytes * 8) / seconds) : null,
    codecs: codecs.size === 1 ? [...codecs][0] : null,
    resolution,
  };
}

function publishedFacts(v: VariantFacts) {
  return {
    bandwidth: v.bandwidth,
    average_bandwidth: v.averageBandwidth ?? null,
    codecs: v.codecs ?? null,
    resolution: v.resolution ?? null,
  };
}

async function deletePrefix(bucket: R2Bucket, prefix: string) {
  try {
    let cursor: string | undefined;
    do {
      const page = await bucket.list({ prefix, cursor, limit: 1000 });
      const keys = page.objects.map((o) => o.key);
      if (keys.length > 0) await bucket.delete(keys);
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
  } catch (err) {
    log.warn("live_segments_gc_failed", { prefix, error: (err as Error).message });
  }
}
