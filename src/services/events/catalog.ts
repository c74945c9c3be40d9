/**
 * What each event type's `data` holds, for the OpenAPI document's `webhooks` section (and the tests
 * that validate delivered payloads against it): the resource as its `GET` returns it (the same zod
 * schema the `GET` responds with), plus the ids and facts the event carried before it carried the
 * resource (services/events/snapshot.ts). Where such a field has a resource field's name, the
 * resource's value is the one sent.
 */
import { z } from "@hono/zod-openapi";
import { AssetSchema } from "../assets/schemas";
import { LiveStreamSchema } from "../live-streams/schemas";
import { SimulcastTargetSchema } from "../live-streams/simulcast";
import { PlaybackIdSchema } from "../playback-ids/schemas";
import { TrackSchema } from "../tracks/schemas";
import { UploadSchema } from "../uploads/schemas";
import { EventSchema } from "./envelope";
import { EVENT_TYPES, type EventType } from "./record";

type Shape = Record<string, z.ZodType>;

const id = (what: string) => z.string().openapi({ description: `The ${what}'s ID (also \`data.id\`).` });
const jobId = z.string().openapi({ description: "The processing job that made this change." });
const sessionId = z.string().openapi({ description: "The broadcast session." });
const liveStreamId = z.string().openapi({ description: "The live stream that recorded this asset." });

interface Family {
  noun: string;
  resource: z.ZodObject;
  ids: Shape;
  /** What a receiver learns from the type beyond the resource. */
  describe: (verb: string) => string;
}

const FAMILIES: Record<string, Family> = {
  upload: {
    noun: "upload",
    resource: UploadSchema,
    ids: { upload_id: id("upload") },
    describe: (v) =>
      `The upload ${v}. \`data\` is the upload as \`GET /v1/uploads/{upload_id}\` returns it to a key without ` +
      "`uploads:write`: `url` and `tus_url` (bearer credentials) are never sent.",
  },
  asset: {
    noun: "asset",
    resource: AssetSchema,
    ids: { asset_id: id("asset") },
    describe: (v) =>
      `The asset ${v}. \`data\` is the asset as \`GET /v1/assets/{asset_id}\` returns it in the state this event announces.`,
  },
  playback_id: {
    noun: "playback ID",
    resource: PlaybackIdSchema,
    // asset_id / live_stream_id (whichever it belongs to) are the resource's own fields.
    ids: { playback_id: id("playback ID") },
    describe: (v) => `A playback ID was ${v}. \`data\` is the playback ID as its \`GET\` returns it.`,
  },
  track: {
    noun: "track",
    resource: TrackSchema,
    ids: { track_id: id("track") },
    describe: (v) =>
      `A text track ${v}. \`data\` is the track as \`GET /v1/assets/{asset_id}/tracks/{track_id}\` returns it.`,
  },
  live_stream: {
    noun: "live stream",
    resource: LiveStreamSchema,
    ids: { live_stream_id: id("live stream") },
    describe: (v) =>
      `The live stream ${v}. \`data\` is the stream as \`GET /v1/live-streams/{live_stream_id}\` returns it: ` +
      "never with `stream_key` (and `ingest.hls_url` is null), which only create and reset-stream-key return.",
  },
  simulcast_target: {
    noun: "simulcast target",
    resource: SimulcastTargetSchema,
    ids: { simulcast_target_id: id("simulcast target") },
    describe: (v) =>
      `A live stream's simulcast target ${v}. \`data\` is the target as ` +
      "`GET /v1/live-streams/{live_stream_id}/simulcast-targets/{simulcast_target_id}` returns it (never its stream key).",
  },
};

/** Per type: how the event reads, and fields beyond the family's ids. */
const TYPES: Record<EventType, { verb: string; last?: boolean; extra?: Shape }> = {
  "upload.created": { verb: "was created" },
  "upload.completed": { verb: "received its last byte; its asset (`asset_id`) was created" },
  "upload.expired": { verb: "expired before it completed" },
  "upload.cancelled": { verb: "was cancelled" },
  "upload.errored": { verb: "failed" },
  "asset.created": { verb: "was created", extra: { live_stream_id: liveStreamId.optional() } },
  "asset.processing": { verb: "started processing", extra: { job_id: jobId } },
  "asset.ready": {
    verb: "became playable (the fast path, or the whole ladder when there was no fast path)",
    extra: { job_id: jobId.optional(), live_stream_id: liveStreamId.optional() },
  },
  "asset.renditions_ready": { verb: "has its whole rendition ladder", extra: { job_id: jobId } },
  "asset.updated": {
    verb: "was updated (or queued for reprocessing)",
    extra: {
      changed: z.array(z.string()).openapi({ description: "The fields the change set." }),
      reprocess: z.object({ job_id: z.string() }).optional().openapi({ description: "Set by a reprocess." }),
    },
  },
  "asset.errored": {
    verb: "failed",
    extra: { job_id: jobId.nullable().optional(), live_stream_id: liveStreamId.optional() },
  },
  "asset.deleted": { verb: "was deleted; `data` is its last state before the delete", last: true },
  "asset.static_renditions.ready": {
    verb: "has its progressive download (`static_renditions`)",
    extra: {
      job_id: jobId,
      files: z
        .array(z.record(z.string(), z.unknown()))
        .openapi({ description: "The download's files (as in `static_renditions.files`)." }),
    },
  },
  "asset.static_renditions.errored": {
    verb: "could not get its progressive download (`static_renditions.status` is `errored`)",
    extra: {
      job_id: jobId,
      static_renditions_error: z.string().nullable().openapi({ description: "Why the download failed." }),
    },
  },
  "playback_id.created": { verb: "created" },
  "playback_id.deleted": { verb: "deleted; `data` is its last state before the delete", last: true },
  "track.created": { verb: "was created" },
  "track.ready": { verb: "is stored and listed in the asset's playlists" },
  "track.errored": { verb: "could not be fetched or parsed (`error`)" },
  "track.deleted": { verb: "was deleted; `data` is its last state before the delete", last: true },
  "live_stream.created": { verb: "was created" },
  "live_stream.updated": {
    verb: "settings were updated",
    extra: { changed: z.array(z.string()).openapi({ description: "The fields the change set." }) },
  },
  "live_stream.connected": {
    verb: "encoder connected",
    extra: {
      session_id: sessionId,
      reconnect: z.boolean().openapi({ description: "True within the reconnect window." }),
    },
  },
  "live_stream.active": { verb: "started a broadcast session", extra: { session_id: sessionId } },
  "live_stream.disconnected": { verb: "encoder went away", extra: { session_id: sessionId } },
  "live_stream.idle": {
    verb: "session ended",
    extra: { session_id: sessionId, reason: z.string().openapi({ description: "Why the session ended." }) },
  },
  "live_stream.enabled": { verb: "was enabled" },
  "live_stream.disabled": { verb: "was disabled" },
  "live_stream.deleted": { verb: "was deleted; `data` is its last state before the delete", last: true },
  "live_stream.warning": { verb: "reported a warning", extra: { message: z.string() } },
  "live_stream.stream_key_reset": { verb: "got a new stream key (not sent: only the reset's response has it)" },
  "live_stream.simulcast_target.created": { verb: "was added" },
  "live_stream.simulcast_target.deleted": {
    verb: "was removed; `data` is its last state before the delete",
    last: true,
  },
  "live_stream.simulcast_target.starting": { verb: "is connecting to its server" },
  "live_stream.simulcast_target.broadcasting": { verb: "is receiving the broadcast" },
  "live_stream.simulcast_target.errored": { verb: "failed and is being retried with backoff (`error`)" },
  "live_stream.simulcast_target.idle": { verb: "stopped with the broadcast" },
};

function pascal(type: string): string {
  return type
    .split(/[._]/)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join("");
}

export interface EventDoc {
  type: EventType;
  /** `webhooks.<camelCase type>`: the webhook's operationId. */
  operationId: string;
  summary: string;
  description: string;
  /** The envelope with `type` fixed and `data` typed (named `<Type>Event` in components). */
  schema: z.ZodType;
}

export const EVENT_DOCS: EventDoc[] = EVENT_TYPES.map((type) => {
  const family = FAMILIES[type.startsWith("live_stream.simulcast_target.") ? "simulcast_target" : type.split(".")[0]];
  const t = TYPES[type];
  const data = family.resource.extend({ ...family.ids, ...(t.extra ?? {}) });
  const name = pascal(type);
  return {
    type,
    operationId: `webhooks.${name.charAt(0).toLowerCase()}${name.slice(1)}`,
    summary: type,
    description: family.describe(t.verb),
    schema: EventSchema.extend({ type: z.literal(type), data }).openapi(`${name}Event`),
  };
});
