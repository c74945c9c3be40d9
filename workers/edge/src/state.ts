/**
 * Playback-ID resolution for the edge: one D1 read per playback ID per isolate per TTL, never one per
 * segment. Ready answers are trusted for STATE_TTL_MS (≤ 60 s, which bounds how long a deleted playback
 * ID or asset keeps playing); absent and not-yet-ready answers for a much shorter time so a fresh
 * upload becomes playable quickly (and a download still being prepared becomes downloadable quickly).
 */
import type { SigningKeyRecord } from "../../../src/lib/playback-token";
import { type PlaybackRow, readPlaybackRow, readSigningKey } from "./db";
import type { EdgeBindings } from "./worker-configuration";

/** The edge's bindings, as `wrangler types` reads them from workers/edge/wrangler.toml (npm run cf-typegen:edge). */
export type EdgeEnv = EdgeBindings;

export const STATE_TTL_MS = 30_000;
export const SHORT_TTL_MS = 5_000;
/**
 * An asset on its first run (queued or processing, awaitingFirstRun) is re-read this often: a player that asked before `ready`
 * (a page opened on a fresh upload) must not keep getting 404s for seconds after it. Measured on the bench
 * clip: with the short TTL the first segment was servable 3.7 s after `ready`.
 */
export const PENDING_TTL_MS = 100;
const MAX_ENTRIES = 50_000;

export interface PlaybackState {
  playbackId: string;
  environmentId: string;
  assetId: string | null;
  policy: "public" | "signed";
  allowedOrigins: string[];
  allowNoReferrer: boolean;
  playbackDeleted: boolean;
  assetStatus: string | null;
  assetDeleted: boolean;
  currentRunId: string | null;
  renditionsStatus: "preparing" | "complete" | null;
  hasPoster: boolean;
  hasStoryboard: boolean;
  /** The asset's title, for download file names. */
  title: string | null;
  /** Static renditions: `disabled` (mp4_support none) or the stored status with its file names. */
  downloads: { status: "disabled" | "preparing" | "ready" | "errored"; files: string[] };
  /** Set for a live stream's playback ID (then there is no asset); `liveDeleted` when the stream was deleted. */
  liveStreamId: string | null;
  liveDeleted: boolean;
}

type Row = PlaybackRow;

function parseOrigins(raw: string | null): string[] {
  if (!raw) return [];
  try {
    const v = JSON.parse(raw);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string").map((x) => x.toLowerCase()) : [];
  } catch {
    return [];
  }
}

function parseDownloads(r: Row): PlaybackState["downloads"] {
  if (r.mp4_support !== "standard") return { status: "disabled", files: [] };
  try {
    const v = JSON.parse(r.static_renditions ?? "null") as { status?: unknown; files?: { name?: unknown }[] } | null;
    const status = v?.status === "ready" || v?.status === "errored" ? v.status : "preparing";
    const files = Array.isArray(v?.files)
      ? v.files.map((f) => f?.name).filter((n): n is string => typeof n === "string")
      : [];
    return { status: status === "preparing" && r.status === "errored" ? "errored" : status, files };
  } catch {
    return { status: "errored", files: [] };
  }
}

function toState(r: Row): PlaybackState {
  return {
    playbackId: r.id,
    environmentId: r.environment_id,
    assetId: r.asset_id,
    policy: r.policy,
    allowedOrigins: parseOrigins(r.allowed_origins),
    allowNoReferrer: Boolean(r.allow_no_referrer),
    playbackDeleted: r.pb_deleted_at !== null,
    assetStatus: r.status,
    assetDeleted: r.status === "deleted" || r.asset_deleted_at !== null,
    currentRunId: r.current_run_id,
    renditionsStatus: r.renditions_status,
    hasPoster: Boolean(r.has_poster),
    hasStoryboard: Boolean(r.has_storyboard),
    title: r.title,
    downloads: parseDownloads(r),
    liveStreamId: r.live_stream_id,
    liveDeleted: r.live_stream_id !== null && r.live_deleted_at !== null,
  };
}

export function isPlayable(s: PlaybackState): boolean {
  // A live playback ID is playable while its stream exists; whether it is on air is decided per request.
  if (s.liveStreamId) return !s.playbackDeleted && !s.liveDeleted;
  return !s.playbackDeleted && !s.assetDeleted && s.assetStatus === "ready" && s.currentRunId !== null;
}

/** Asset statuses (the D1 column's) of an upload being processed for the first time: `ready` is seconds away. */
const FIRST_RUN_STATUSES = new Set(["queued", "processing"]);

/** An asset that exists and may become playable any moment (its first run under way). */
function awaitingFirstRun(s: PlaybackState | null): boolean {
  return (
    s !== null &&
    !s.liveStreamId &&
    !s.playbackDeleted &&
    !s.assetDeleted &&
    FIRST_RUN_STATUSES.has(s.assetStatus ?? "")
  );
}

/** Playback IDs are `pb_…` or an opaque random id; anything else cannot exist, so skip D1. */
export const PLAYBACK_ID_RE = /^[A-Za-z0-9_-]{8,64}$/;

class TtlCache<V> {
  private readonly map = new Map<string, { value: V; expiresAt: number }>();
  get(key: string, now: number): { value: V } | undefined {
    const hit = this.map.get(key);
    if (!hit) return undefined;
    if (hit.expiresAt <= now) {
      this.map.delete(key);
      return undefined;
    }
    return { value: hit.value };
  }
  set(key: string, value: V, expiresAt: number) {
    if (this.map.size >= MAX_ENTRIES) {
      const oldest = this.map.keys().next().value;
      if (oldest !== undefined) this.map.delete(oldest);
    }
    this.map.set(key, { value, expiresAt });
  }
  clear() {
    this.map.clear();
  }
}

const stateCache = new TtlCache<PlaybackState | null>();
/** Concurrent misses for one playback ID share a single D1 read. */
const inflight = new Map<string, Promise<PlaybackState | null>>();

export async function resolvePlayback(env: Pick<EdgeEnv, "DB">, playbackId: string): Promise<PlaybackState | null> {
  if (!PLAYBACK_ID_RE.test(playbackId)) return null;
  const now = Date.now();
  const hit = stateCache.get(playbackId, now);
  if (hit) return hit.value;
  const pending = inflight.get(playbackId);
  if (pending) return pending;
  const p = (async () => {
    try {
      const row = await readPlaybackRow(env.DB, playbackId);
      const state = row ? toState(row) : null;
      // A download or a ladder still being prepared lands within minutes of `ready` (a new run, a poster):
      // re-check it sooner.
      const settled = state && isPlayable(state) && state.downloads.status !== "preparing";
      const ttl =
        settled && state.renditionsStatus !== "preparing"
          ? STATE_TTL_MS
          : awaitingFirstRun(state)
            ? PENDING_TTL_MS
            : SHORT_TTL_MS;
      stateCache.set(playbackId, state, Date.now() + ttl);
      return state;
    } finally {
      inflight.delete(playbackId);
    }
  })();
  inflight.set(playbackId, p);
  return p;
}

/** Loads a signing key's public part for the token verifier (which caches it per isolate). */
export async function loadSigningKey(env: Pick<EdgeEnv, "DB">, kid: string): Promise<SigningKeyRecord | null> {
  const row = await readSigningKey(env.DB, kid);
  if (!row) return null;
  let jwk: SigningKeyRecord["publicJwk"];
  try {
    jwk = JSON.parse(row.public_jwk ?? "");
  } catch {
    return null;
  }
  // Only the public half is ever used here, even if a row carried more.
  const { kty, crv, x, y } = jwk as Record<string, string>;
  return {
    id: row.id,
    environmentId: row.environment_id,
    publicJwk: { kty, crv, x, y },
    revoked: row.revoked_at !== null,
  };
}

export function clearStateCache() {
  stateCache.clear();
}
