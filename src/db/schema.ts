/**
 * The D1 schema: business and media state. The API worker is its only writer; the edge worker reads
 * playback IDs and assets. Timestamps are ISO-8601 UTC strings (they sort lexically); JSON columns
 * hold values validated by zod at the boundary.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { WatermarkSpec } from "../lib/watermark";

const now = sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`;
const json = <T>(name: string) => text(name, { mode: "json" }).$type<T>();

export const environments = sqliteTable("environments", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  createdAt: text("created_at").notNull().default(now),
});

export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    environmentId: text("environment_id")
      .notNull()
      .references(() => environments.id),
    name: text("name").notNull(),
    /** First characters of the secret, shown in listings so people can tell keys apart. */
    secretPrefix: text("secret_prefix").notNull(),
    /** SHA-256 of the whole secret; the secret itself is never stored. */
    secretHash: text("secret_hash").notNull(),
    scopes: json<string[]>("scopes").notNull(),
    createdByKeyId: text("created_by_key_id"),
    createdAt: text("created_at").notNull().default(now),
    lastUsedAt: text("last_used_at"),
    revokedAt: text("revoked_at"),
  },
  (t) => [uniqueIndex("api_keys_secret_hash").on(t.secretHash), index("api_keys_env").on(t.environmentId)],
);

export const assets = sqliteTable(
  "assets",
  {
    id: text("id").primaryKey(),
    environmentId: text("environment_id").notNull(),
    status: text("status", { enum: ["waiting", "queued", "processing", "ready", "errored", "deleted"] }).notNull(),
    title: text("title"),
    description: text("description"),
    tags: json<string[]>("tags").notNull().default(sql`'[]'`),
    externalId: text("external_id"),
    metadata: json<Record<string, string>>("metadata").notNull().default(sql`'{}'`),
    passthrough: text("passthrough"),
    correlationId: text("correlation_id"),
    playbackPolicy: text("playback_policy", { enum: ["public", "signed"] }),
    maxResolution: text("max_resolution").notNull().default("1080p"),
    uploadId: text("upload_id"),
    inputUrl: text("input_url"),
    /** R2 key of the original source. */
    sourceKey: text("source_key"),
    duration: integer("duration_ms"),
    aspectRatio: text("aspect_ratio"),
    resolution: text("resolution"),
    maxFrameRate: text("max_frame_rate"),
    tracks: json<unknown[]>("tracks"),
    renditions: json<unknown[]>("renditions"),
    renditionsStatus: text("renditions_status", { enum: ["preparing", "complete"] }),
    source: json<Record<string, unknown>>("source"),
    progress: json<{ stage: string; percent: number }>("progress"),
    error: json<{ code: string; message: string }>("error"),
    /** The job run whose outputs are live: playback reads `assets/{id}/runs/{current_run_id}/`. */
    currentRunId: text("current_run_id"),
    hasPoster: integer("has_poster", { mode: "boolean" }).notNull().default(false),
    hasStoryboard: integer("has_storyboard", { mode: "boolean" }).notNull().default(false),
    /** `none` | `standard`: whether the pipeline writes a progressive download (static rendition). */
    mp4Support: text("mp4_support", { enum: ["none", "standard"] })
      .notNull()
      .default("none"),
    /**
     * The download's state for `standard` assets: `{ status: preparing | ready | errored, files, error? }`;
     * null for `none`. Files live at `downloads/{name}` under the current run prefix.
     */
    staticRenditions: json<{
      status: "preparing" | "ready" | "errored";
      files: Record<string, unknown>[];
      error?: string;
    }>("static_renditions"),
    /** A clip asset: the asset it was cut from (migration 0003) and the range, in seconds of that asset. */
    sourceAssetId: text("source_asset_id"),
    clip: json<{ start_time: number; end_time: number; original_start_time: number }>("clip"),
    /** Chapter markers `{ start_time, title }`, sorted by start_time; served as WebVTT at the edge. */
    chapters: json<{ start_time: number; title: string }[]>("chapters"),
    /** An image burned into every rendition (src/lib/watermark.ts, migration 0006_media_watermark). */
    watermark: json<WatermarkSpec>("watermark"),
    createdAt: text("created_at").notNull().default(now),
    updatedAt: text("updated_at").notNull().default(now),
    readyAt: text("ready_at"),
    deletedAt: text("deleted_at"),
  },
  (t) => [
    index("assets_env_id").on(t.environmentId, t.id),
    index("assets_env_status").on(t.environmentId, t.status),
    uniqueIndex("assets_upload").on(t.uploadId),
    index("assets_source_asset").on(t.sourceAssetId),
  ],
);

/**
 * Tracks added to an asset after intake (today: subtitles and captions). Independent of processing runs:
 * the normalised WebVTT lives at `assets/{asset}/tracks/{track}.vtt` and survives re-processing.
 * `preparing` while a URL is being fetched; `ready` once the file is stored; `errored` with `error`.
 */
export const assetTracks = sqliteTable(
  "asset_tracks",
  {
    id: text("id").primaryKey(),
    environmentId: text("environment_id").notNull(),
    assetId: text("asset_id").notNull(),
    type: text("type", { enum: ["text", "audio"] }).notNull(),
    /** Text tracks only (null for `audio`, migration 0007). */
    textType: text("text_type", { enum: ["subtitles", "captions"] }),
    status: text("status", { enum: ["preparing", "ready", "errored"] }).notNull(),
    /** Canonical BCP 47 tag. */
    languageCode: text("language_code").notNull(),
    name: text("name").notNull(),
    closedCaptions: integer("closed_captions", { mode: "boolean" }).notNull().default(false),
    isDefault: integer("is_default", { mode: "boolean" }).notNull().default(false),
    /**
     * `url` (fetched by the API), `inline` (sent in the request body) or `generated` (speech-to-text, asked
     * for with the asset's `generated_subtitles`; src/services/tracks/generated.ts).
     */
    sourceKind: text("source_kind", { enum: ["url", "inline", "generated"] }).notNull(),
    sourceUrl: text("source_url"),
    /** What the file was: `srt` or `webvtt`, its encoding, and how many cues were kept / dropped. */
    details: json<TextTrackDetails | AudioTrackDetails>("details"),
    error: json<{ code: string; message: string; line?: number; cue?: number }>("error"),
    correlationId: text("correlation_id"),
    createdAt: text("created_at").notNull().default(now),
    updatedAt: text("updated_at").notNull().default(now),
    readyAt: text("ready_at"),
    deletedAt: text("deleted_at"),
  },
  (t) => [index("asset_tracks_asset").on(t.assetId, t.id), index("asset_tracks_env").on(t.environmentId, t.id)],
);

export interface TextTrackDetails {
  format: string;
  encoding: string;
  cue_count: number;
  dropped_cues: number;
  bytes: number;
}

/** A dubbed audio track: the run its files live in (`{run}/{track_id}/…`) and what was written. */
export interface AudioTrackDetails {
  run_id: string;
  duration?: number;
  segments?: number;
  codecs?: string;
  channels?: number;
  bandwidth?: number;
  average_bandwidth?: number;
  source_codec?: string;
  /** Dispatches so far (the crash watchdog re-dispatches). */
  dispatches?: number;
}

export const uploads = sqliteTable(
  "uploads",
  {
    id: text("id").primaryKey(),
    environmentId: text("environment_id").notNull(),
    status: text("status", {
      enum: ["waiting", "uploading", "completed", "expired", "cancelled", "errored"],
    }).notNull(),
    assetId: text("asset_id"),
    newAssetSettings: json<Record<string, unknown>>("new_asset_settings").notNull().default(sql`'{}'`),
    corsOrigin: text("cors_origin"),
    maxSizeBytes: integer("max_size_bytes"),
    maxDurationSeconds: integer("max_duration_seconds"),
    allowedContentTypes: json<string[]>("allowed_content_types"),
    size: integer("size"),
    bytesReceived: integer("bytes_received").notNull().default(0),
    /**
     * Which byte path holds the upload while it is `uploading`: the one-shot PUT or tus. Each path claims
     * it only when it is unclaimed or its own, so neither can complete (or clean up) over the other.
     */
    claimedBy: text("claimed_by", { enum: ["put", "tus"] }),
    contentType: text("content_type"),
    sourceKey: text("source_key"),
    correlationId: text("correlation_id"),
    error: json<{ code: string; message: string }>("error"),
    expiresAt: text("expires_at").notNull(),
    createdAt: text("created_at").notNull().default(now),
    updatedAt: text("updated_at").notNull().default(now),
    completedAt: text("completed_at"),
  },
  (t) => [index("uploads_env_id").on(t.environmentId, t.id), index("uploads_status_expires").on(t.status, t.expiresAt)],
);

export const playbackIds = sqliteTable(
  "playback_ids",
  {
    id: text("id").primaryKey(),
    environmentId: text("environment_id").notNull(),
    assetId: text("asset_id"),
    liveStreamId: text("live_stream_id"),
    policy: text("policy", { enum: ["public", "signed"] }).notNull(),
    /** Allowed embedding origins: exact hosts or `*.example.com`. Empty means any. */
    allowedOrigins: json<string[]>("allowed_origins").notNull().default(sql`'[]'`),
    allowNoReferrer: integer("allow_no_referrer", { mode: "boolean" }).notNull().default(true),
    createdAt: text("created_at").notNull().default(now),
    deletedAt: text("deleted_at"),
  },
  (t) => [
    index("playback_ids_asset").on(t.assetId),
    index("playback_ids_env").on(t.environmentId, t.id),
    index("playback_ids_live_stream").on(t.liveStreamId),
  ],
);

export const jobs = sqliteTable(
  "jobs",
  {
    id: text("id").primaryKey(),
    environmentId: text("environment_id").notNull(),
    assetId: text("asset_id").notNull(),
    kind: text("kind", { enum: ["vod"] })
      .notNull()
      .default("vod"),
    status: text("status", { enum: ["queued", "running", "succeeded", "failed", "cancelled"] }).notNull(),
    attempt: integer("attempt").notNull().default(0),
    maxAttempts: integer("max_attempts").notNull().default(5),
    settings: json<Record<string, unknown>>("settings").notNull(),
    stage: text("stage"),
    percent: integer("percent"),
    error: json<{ code: string; message: string; retryable?: boolean }>("error"),
    correlationId: text("correlation_id"),
    lastHeartbeatAt: text("last_heartbeat_at"),
    dispatchedAt: text("dispatched_at"),
    startedAt: text("started_at"),
    finishedAt: text("finished_at"),
    createdAt: text("created_at").notNull().default(now),
    updatedAt: text("updated_at").notNull().default(now),
  },
  (t) => [index("jobs_asset").on(t.assetId), index("jobs_status_heartbeat").on(t.status, t.lastHeartbeatAt)],
);

export const events = sqliteTable(
  "events",
  {
    id: text("id").primaryKey(),
    environmentId: text("environment_id").notNull(),
    type: text("type").notNull(),
    /** The object the event is about (`as_…`, `up_…`, `pb_…`), for per-object timelines. */
    subjectId: text("subject_id").notNull(),
    assetId: text("asset_id"),
    uploadId: text("upload_id"),
    correlationId: text("correlation_id"),
    apiVersion: text("api_version").notNull().default("2026-11-01"),
    data: json<Record<string, unknown>>("data").notNull(),
    createdAt: text("created_at").notNull().default(now),
    /** Outbox mark: null until the fan-out to webhook deliveries has been enqueued. */
    dispatchedAt: text("dispatched_at"),
  },
  (t) => [
    index("events_env_id").on(t.environmentId, t.id),
    // SQLite index entries end with the rowid: this one serves "environment, rowid > cursor" polling.
    index("events_env_seq").on(t.environmentId),
    index("events_subject").on(t.subjectId, t.id),
    index("events_asset").on(t.assetId, t.id),
    index("events_undispatched").on(t.dispatchedAt, t.id),
  ],
);

export const webhookEndpoints = sqliteTable(
  "webhook_endpoints",
  {
    id: text("id").primaryKey(),
    environmentId: text("environment_id").notNull(),
    url: text("url").notNull(),
    description: text("description"),
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
    disabledReason: text("disabled_reason"),
    /** Event types to deliver; empty means all. */
    eventTypes: json<string[]>("event_types").notNull().default(sql`'[]'`),
    /**
     * The signing secret sealed with AES-GCM (`v1.…`, see services/webhooks/secret-wrap.ts). Rows written
     * before sealing hold the plaintext `whsec_…`; they are sealed in place the first time they are read.
     */
    secret: text("secret").notNull(),
    previousSecret: text("previous_secret"),
    previousSecretExpiresAt: text("previous_secret_expires_at"),
    createdAt: text("created_at").notNull().default(now),
    updatedAt: text("updated_at").notNull().default(now),
    deletedAt: text("deleted_at"),
  },
  (t) => [index("webhook_endpoints_env").on(t.environmentId, t.id)],
);

export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    environmentId: text("environment_id").notNull(),
    endpointId: text("endpoint_id").notNull(),
    eventId: text("event_id").notNull(),
    eventType: text("event_type").notNull(),
    status: text("status", { enum: ["pending", "succeeded", "retrying", "failed"] }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    /** `attempts` when the current retry chain began (a manual retry starts a fresh schedule). */
    attemptBase: integer("attempt_base").notNull().default(0),
    nextAttemptAt: text("next_attempt_at"),
    lastStatusCode: integer("last_status_code"),
    lastError: text("last_error"),
    createdAt: text("created_at").notNull().default(now),
    updatedAt: text("updated_at").notNull().default(now),
    succeededAt: text("succeeded_at"),
  },
  (t) => [
    uniqueIndex("webhook_deliveries_endpoint_event").on(t.endpointId, t.eventId),
    index("webhook_deliveries_env_status").on(t.environmentId, t.status, t.id),
    index("webhook_deliveries_event").on(t.eventId),
    index("webhook_deliveries_next_attempt").on(t.status, t.nextAttemptAt),
  ],
);

export const webhookAttempts = sqliteTable(
  "webhook_attempts",
  {
    id: text("id").primaryKey(),
    deliveryId: text("delivery_id").notNull(),
    attempt: integer("attempt").notNull(),
    statusCode: integer("status_code"),
    latencyMs: integer("latency_ms"),
    responseExcerpt: text("response_excerpt"),
    error: text("error"),
    createdAt: text("created_at").notNull().default(now),
  },
  (t) => [index("webhook_attempts_delivery").on(t.deliveryId, t.attempt)],
);

export const idempotencyRecords = sqliteTable(
  "idempotency_records",
  {
    environmentId: text("environment_id").notNull(),
    /** Records belong to the API key that made them: another key never replays them. */
    apiKeyId: text("api_key_id").notNull(),
    key: text("key").notNull(),
    method: text("method").notNull(),
    path: text("path").notNull(),
    bodyHash: text("body_hash").notNull(),
    status: text("status", { enum: ["in_progress", "completed"] }).notNull(),
    responseStatus: integer("response_status"),
    responseBody: text("response_body"),
    createdAt: text("created_at").notNull().default(now),
    expiresAt: text("expires_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.environmentId, t.apiKeyId, t.key] }), index("idempotency_expires").on(t.expiresAt)],
);

export const auditLog = sqliteTable(
  "audit_log",
  {
    id: text("id").primaryKey(),
    environmentId: text("environment_id").notNull(),
    keyId: text("key_id"),
    action: text("action").notNull(),
    resourceType: text("resource_type").notNull(),
    resourceId: text("resource_id").notNull(),
    /** Always server-generated, so one request_id names one request. */
    requestId: text("request_id"),
    /** The caller's own `X-Request-Id`, if it sent one: kept for correlation, never trusted as ours. */
    clientRequestId: text("client_request_id"),
    details: json<Record<string, unknown>>("details"),
    createdAt: text("created_at").notNull().default(now),
  },
  (t) => [
    index("audit_env_id").on(t.environmentId, t.id),
    index("audit_env_resource").on(t.environmentId, t.resourceId, t.id),
  ],
);

export const signingKeys = sqliteTable(
  "signing_keys",
  {
    id: text("id").primaryKey(),
    environmentId: text("environment_id").notNull(),
    publicJwk: json<Record<string, unknown>>("public_jwk").notNull(),
    /** `user`: created through the API, private half returned once. `system`: the API's own minting key. */
    kind: text("kind", { enum: ["user", "system"] })
      .notNull()
      .default("user"),
    /** System keys only: the private JWK sealed with AES-GCM under a key derived from JOB_TOKEN_SECRET. */
    privateJwkEnc: text("private_jwk_enc"),
    createdAt: text("created_at").notNull().default(now),
    revokedAt: text("revoked_at"),
  },
  (t) => [
    index("signing_keys_env").on(t.environmentId, t.id),
    index("signing_keys_env_kind").on(t.environmentId, t.kind),
  ],
);

/**
 * R2 prefixes (or single keys) that must be deleted: asset media after a delete, the bytes of expired and
 * cancelled uploads. Recorded in the same batch as the state change, removed only once R2 holds nothing
 * under the prefix, so a failed or interrupted deletion is finished by the next cron run.
 */
export const pendingDeletions = sqliteTable(
  "pending_deletions",
  {
    id: text("id").primaryKey(),
    environmentId: text("environment_id").notNull(),
    /** `asset` | `upload`: what the bytes belonged to. */
    resourceType: text("resource_type").notNull(),
    resourceId: text("resource_id").notNull(),
    /** An R2 key prefix ending in `/`, or one exact key. */
    prefix: text("prefix").notNull(),
    attempts: integer("attempts").notNull().default(0),
    lastError: text("last_error"),
    createdAt: text("created_at").notNull().default(now),
    nextAttemptAt: text("next_attempt_at").notNull().default(now),
  },
  (t) => [uniqueIndex("pending_deletions_prefix").on(t.prefix), index("pending_deletions_next").on(t.nextAttemptAt)],
);

/**
 * Live streams: the channel's settings and its coarse state (status, connection, recordings). The
 * stream's `LiveStream` Durable Object owns the fine-grained runtime state (sessions, segments,
 * sequence numbers) and projects milestones here (connected, active, disconnected, idle).
 */
export const liveStreams = sqliteTable(
  "live_streams",
  {
    id: text("id").primaryKey(),
    environmentId: text("environment_id").notNull(),
    status: text("status", { enum: ["idle", "active", "disabled"] }).notNull(),
    connection: text("connection", { enum: ["connected", "disconnected"] })
      .notNull()
      .default("disconnected"),
    /** SHA-256 of the stream key: ingest looks the key up by its hash (no secret comparison in SQL). */
    streamKeyHash: text("stream_key_hash").notNull(),
    latencyMode: text("latency_mode", { enum: ["standard", "low"] }).notNull(),
    reconnectWindow: integer("reconnect_window_s").notNull(),
    maxContinuousDuration: integer("max_continuous_duration_s").notNull(),
    dvrWindow: integer("dvr_window_s").notNull().default(0),
    /** The live ladder (migration 0005_ladder_live_renditions): lower renditions encoded while on air. */
    renditions: json<string[]>("renditions").notNull().default(sql`'[]'`),
    recording: json<{ mode: "automatic" | "off"; new_asset_settings: Record<string, unknown> }>("recording").notNull(),
    passthrough: text("passthrough"),
    correlationId: text("correlation_id"),
    activeAssetId: text("active_asset_id"),
    /** Newest first, at most 10. */
    recentAssetIds: json<string[]>("recent_asset_ids").notNull().default(sql`'[]'`),
    connectedAt: text("connected_at"),
    createdAt: text("created_at").notNull().default(now),
    updatedAt: text("updated_at").notNull().default(now),
    deletedAt: text("deleted_at"),
  },
  (t) => [
    index("live_streams_env_id").on(t.environmentId, t.id),
    uniqueIndex("live_streams_key_hash").on(t.streamKeyHash),
  ],
);

/** Where a live stream is restreamed while it is on air (migration 0003_relay_simulcast_targets). */
export const liveSimulcastTargets = sqliteTable(
  "live_simulcast_targets",
  {
    id: text("id").primaryKey(),
    environmentId: text("environment_id").notNull(),
    liveStreamId: text("live_stream_id").notNull(),
    /** rtmp:// or rtmps:// server URL, without the key (`rtmp://a.rtmp.youtube.com/live2`). */
    url: text("url").notNull(),
    /** The target's stream key, sealed (purpose `simulcast-key`, the row's ID as additional data). */
    streamKeySealed: text("stream_key_sealed").notNull(),
    passthrough: text("passthrough"),
    status: text("status", { enum: ["idle", "starting", "broadcasting", "errored"] })
      .notNull()
      .default("idle"),
    error: text("error"),
    createdAt: text("created_at").notNull().default(now),
    updatedAt: text("updated_at").notNull().default(now),
  },
  (t) => [index("live_simulcast_targets_stream").on(t.liveStreamId, t.id)],
);
