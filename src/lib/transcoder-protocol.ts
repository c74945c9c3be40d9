/**
 * The contract between the API worker and the transcoder (transcoder/). Both sides import these
 * zod schemas, so a change here is a change to both ends of the wire.
 *
 * Flow: the dispatcher POSTs a `JobDispatch` to `${TRANSCODER_URL}/jobs` and expects 202. The
 * transcoder then talks back to `api_url` with `Authorization: Bearer <token>` (a short-lived token
 * that names one job and one attempt) on these internal endpoints only:
 *
 *   GET  /internal/jobs/{job_id}/source                 source bytes (Range supported)
 *   PUT  /internal/jobs/{job_id}/outputs/{path}         one output file, Content-Length required
 *   POST /internal/jobs/{job_id}/progress               JobProgress -> ProgressReply (heartbeat)
 *   POST /internal/jobs/{job_id}/publish                JobPublish  (phase fast | complete)
 *   POST /internal/jobs/{job_id}/fail                   JobFailure
 *   …/outputs-multipart/{path}                          large outputs in parts (see the end of this file)
 *
 * Output paths are relative to the run prefix `assets/{asset_id}/runs/{job_id}/`. Layout:
 *   master.m3u8                        written by our code, never by ffmpeg
 *   fast/index.m3u8, fast/init.mp4, fast/seg_00000.m4s   remux of a standard source
 *   v1080/…, v720/…, v480/…, v360/…, v240/…             video-only ladder renditions
 *   audio/index.m3u8 …                 the AAC audio rendition group
 *   poster.jpg, storyboard.jpg, storyboard.vtt
 *   downloads/highest.mp4 | downloads/audio.m4a    progressive download (settings.mp4_support)
 * Variant playlists are written once and never rewritten; master.m3u8 is rewritten when the ladder
 * lands so a player holding the first master keeps playing.
 */

import { z } from "zod";
import { WatermarkSettingsSchema } from "./watermark";

export const MAX_RESOLUTIONS = ["240p", "360p", "480p", "720p", "1080p", "1440p", "2160p"] as const;
export const MaxResolutionSchema = z.enum(MAX_RESOLUTIONS);
export type MaxResolution = z.infer<typeof MaxResolutionSchema>;

/** Height in pixels for each `max_resolution` value (applied to the short side for portrait). */
export const RESOLUTION_HEIGHT: Record<MaxResolution, number> = {
  "240p": 240,
  "360p": 360,
  "480p": 480,
  "720p": 720,
  "1080p": 1080,
  "1440p": 1440,
  "2160p": 2160,
};

/** Asset error codes. Input errors are permanent; `internal_error` and `source_unavailable` may retry. */
export const ASSET_ERROR_CODES = [
  "input_unreadable",
  "input_no_media",
  "input_too_long",
  "input_too_large",
  "input_unsupported",
  "input_fetch_failed",
  "input_url_forbidden",
  "watermark_url_forbidden",
  "watermark_fetch_failed",
  "watermark_invalid",
  "source_unavailable",
  "internal_error",
] as const;
export const AssetErrorCodeSchema = z.enum(ASSET_ERROR_CODES);
export type AssetErrorCode = z.infer<typeof AssetErrorCodeSchema>;

/** `standard`: also write one progressive download (static rendition). Absent means `none`. */
export const MP4_SUPPORT = ["none", "standard"] as const;
export const Mp4SupportSchema = z.enum(MP4_SUPPORT);
export type Mp4Support = z.infer<typeof Mp4SupportSchema>;

/** Folder of the static renditions under the run prefix. */
export const DOWNLOADS_DIR = "downloads";
/** `highest.mp4`: top ladder rung + audio, stream-copied. `audio.m4a`: audio-only assets. */
export const STATIC_RENDITION_NAMES = ["highest.mp4", "audio.m4a"] as const;
export const StaticRenditionNameSchema = z.enum(STATIC_RENDITION_NAMES);
export type StaticRenditionName = z.infer<typeof StaticRenditionNameSchema>;

export const JobSettingsSchema = z.object({
  max_resolution: MaxResolutionSchema.default("1080p"),
  /** Refuse sources longer than this (asset error `input_too_long`). */
  max_duration_seconds: z.number().positive().optional(),
  /** Refuse sources larger than this (asset error `input_too_large`). */
  max_size_bytes: z.number().int().positive().optional(),
  /** Try the remux fast path for standard sources. */
  fast_path: z.boolean().default(true),
  /** Size of the source object in bytes, as stored in R2. */
  source_size_bytes: z.number().int().nonnegative(),
  source_content_type: z.string().optional(),
  /** Produce a progressive download under `downloads/` after the ladder. Optional: absent = "none". */
  mp4_support: Mp4SupportSchema.optional(),
  /**
   * A clip asset (issue 16): the source is the original of the asset it was cut from; the transcoder first
   * re-encodes this range of it (seconds) into the job's input, then runs the usual pipeline on that.
   */
  clip: z.object({ start_time: z.number().nonnegative(), end_time: z.number().positive() }).optional(),
  /**
   * Burn this image into every rendition (issue 16, src/lib/watermark.ts). The transcoder fetches it under the
   * same outbound policy as ingest URLs and never takes the fast path for such an asset.
   */
  watermark: WatermarkSettingsSchema.optional(),
});
export type JobSettings = z.infer<typeof JobSettingsSchema>;

export const JobDispatchSchema = z.object({
  job_id: z.string().startsWith("job_"),
  asset_id: z.string().startsWith("as_"),
  attempt: z.number().int().positive(),
  settings: JobSettingsSchema,
  api_url: z.string().url(),
  token: z.string().min(20),
  correlation_id: z.string().nullable().optional(),
});
export type JobDispatch = z.infer<typeof JobDispatchSchema>;

export const JOB_STAGES = ["downloading", "probing", "remuxing", "transcoding", "uploading", "finalizing"] as const;
export const JobStageSchema = z.enum(JOB_STAGES);
export type JobStage = z.infer<typeof JobStageSchema>;

export const JobProgressSchema = z.object({
  attempt: z.number().int().positive(),
  stage: JobStageSchema,
  percent: z.number().min(0).max(100),
});
export type JobProgress = z.infer<typeof JobProgressSchema>;

/** Reply to a progress report: `cancel` tells the transcoder to stop (asset deleted, job superseded). */
export const ProgressReplySchema = z.object({ cancel: z.boolean() });
export type ProgressReply = z.infer<typeof ProgressReplySchema>;

export const TrackSchema = z.object({
  type: z.enum(["video", "audio"]),
  codec: z.string(),
  width: z.number().int().optional(),
  height: z.number().int().optional(),
  frame_rate: z.number().optional(),
  channels: z.number().int().optional(),
  sample_rate: z.number().int().optional(),
  bitrate: z.number().int().optional(),
  duration: z.number().optional(),
  /** Audio tracks (issue 16): the HLS audio group's NAME and LANGUAGE, and whether it is the DEFAULT one. */
  name: z.string().max(100).optional(),
  language_code: z.string().max(35).optional(),
  primary: z.boolean().optional(),
  /** Video tracks: CEA-608/708 captions ride in it (declared in the master as CLOSED-CAPTIONS, INSTREAM-ID CC1). */
  closed_captions: z.boolean().optional(),
});
export type Track = z.infer<typeof TrackSchema>;

export const RenditionSchema = z.object({
  /** Directory name under the run prefix, e.g. `v720`, `audio`, `fast`. */
  name: z.string().regex(/^[a-z0-9_-]{1,32}$/),
  type: z.enum(["video", "audio", "muxed"]),
  playlist: z.string(),
  codecs: z.string(),
  width: z.number().int().optional(),
  height: z.number().int().optional(),
  frame_rate: z.number().optional(),
  /** Peak segment bitrate in bits/s, measured from the written segments. */
  bandwidth: z.number().int().positive(),
  average_bandwidth: z.number().int().positive(),
  segments: z.number().int().nonnegative(),
});
export type Rendition = z.infer<typeof RenditionSchema>;

export const SourceFactsSchema = z.object({
  container: z.string(),
  size_bytes: z.number().int().nonnegative(),
  duration: z.number().nonnegative(),
  bitrate: z.number().int().optional(),
  video_codec: z.string().optional(),
  audio_codec: z.string().optional(),
  width: z.number().int().optional(),
  height: z.number().int().optional(),
  frame_rate: z.number().optional(),
  variable_frame_rate: z.boolean().optional(),
  /** True when the fast (remux) path was taken. */
  remuxed: z.boolean(),
});
export type SourceFacts = z.infer<typeof SourceFactsSchema>;

/** One static rendition file, written at `downloads/{name}` under the run prefix. */
export const StaticRenditionFileSchema = z.object({
  name: StaticRenditionNameSchema,
  ext: z.enum(["mp4", "m4a"]),
  width: z.number().int().positive().optional(),
  height: z.number().int().positive().optional(),
  /** Average bitrate of the whole file in bits/s. */
  bitrate: z.number().int().positive(),
  /** Bytes. */
  filesize: z.number().int().positive(),
});
export type StaticRenditionFile = z.infer<typeof StaticRenditionFileSchema>;

/**
 * The download outcome, sent with the `complete` publish when the job asked for mp4_support. A
 * failed download never fails the job: it is reported here as `errored` and playback goes on.
 */
export const StaticRenditionsReportSchema = z.object({
  status: z.enum(["ready", "errored"]),
  files: z.array(StaticRenditionFileSchema).max(4),
  error: z.string().max(2000).optional(),
});
export type StaticRenditionsReport = z.infer<typeof StaticRenditionsReportSchema>;

export const JobPublishSchema = z.object({
  attempt: z.number().int().positive(),
  /** `fast`: playable now, ladder still coming. `complete`: every rendition and derived file written. */
  phase: z.enum(["fast", "complete"]),
  master: z.literal("master.m3u8"),
  duration: z.number().nonnegative(),
  /** e.g. "16:9"; null for audio-only. */
  aspect_ratio: z.string().nullable(),
  /** Highest rendition height label, e.g. "1080p"; null for audio-only. */
  resolution: z.string().nullable(),
  max_frame_rate: z.number().nullable(),
  tracks: z.array(TrackSchema),
  renditions: z.array(RenditionSchema).min(1),
  source: SourceFactsSchema,
  poster: z.string().nullable().optional(),
  storyboard: z.object({ vtt: z.string(), image: z.string() }).nullable().optional(),
  /** `complete` only, and only when settings.mp4_support was "standard". */
  static_renditions: StaticRenditionsReportSchema.optional(),
});
export type JobPublish = z.infer<typeof JobPublishSchema>;

export const JobFailureSchema = z.object({
  attempt: z.number().int().positive(),
  code: AssetErrorCodeSchema,
  message: z.string().max(2000),
  /** Input errors are permanent (false); infrastructure failures may be retried (true). */
  retryable: z.boolean(),
});
export type JobFailure = z.infer<typeof JobFailureSchema>;

/** Paths the transcoder may write under its run prefix: no traversal, no absolute paths. */
export const OUTPUT_PATH_RE = /^(?:[a-z0-9_-]{1,32}\/)?[A-Za-z0-9_.-]{1,64}$/;

// ---------------------------------------------------------------- multipart outputs
//
// A Worker request body is capped (~100 MB in production), so large outputs (the MP4 download) go
// through an R2 multipart upload, one part per request:
//
//   POST   /internal/jobs/{job_id}/outputs-multipart/{path}                 MultipartCreate -> MultipartCreated
//   PUT    /internal/jobs/{job_id}/outputs-multipart/{path}?upload_id=&part=N   one part, Content-Length
//                                                                            required -> MultipartPartReply
//   POST   /internal/jobs/{job_id}/outputs-multipart/{path}/complete        MultipartComplete -> 201 MultipartCompleted
//   DELETE /internal/jobs/{job_id}/outputs-multipart/{path}?upload_id=      abort -> 204
//
// The API fixes the part size and the part count at create time (from `size`); part N must be exactly
// `part_size` bytes except the last, which carries the remainder. `upload_id` is opaque.

/** R2's minimum size of every part but the last. */
export const MULTIPART_MIN_PART_BYTES = 5 * 1024 * 1024;
/** Largest part the API accepts: well under a Worker's request body limit. */
export const MULTIPART_MAX_PART_BYTES = 64 * 1024 * 1024;
export const MULTIPART_DEFAULT_PART_BYTES = 32 * 1024 * 1024;
/** Largest file written through a multipart upload. */
export const MAX_MULTIPART_OUTPUT_BYTES = 50 * 1024 * 1024 * 1024;
/** R2 (like S3) numbers parts 1..10000. */
export const MULTIPART_MAX_PARTS = 10_000;

export const MultipartCreateSchema = z.object({
  attempt: z.number().int().positive(),
  /** Total bytes of the file; above MAX_MULTIPART_OUTPUT_BYTES the API answers 413. */
  size: z.number().int().positive(),
  /** Preferred part size; the API may honour it within its bounds. Absent = the API's default. */
  part_size: z.number().int().min(MULTIPART_MIN_PART_BYTES).max(MULTIPART_MAX_PART_BYTES).optional(),
});
export type MultipartCreate = z.infer<typeof MultipartCreateSchema>;

export const MultipartCreatedSchema = z.object({
  upload_id: z.string().min(1),
  key: z.string(),
  part_size: z.number().int().positive(),
  part_count: z.number().int().positive(),
});
export type MultipartCreated = z.infer<typeof MultipartCreatedSchema>;

export const MultipartPartReplySchema = z.object({
  part: z.number().int().positive(),
  etag: z.string().min(1),
  size: z.number().int().nonnegative(),
});
export type MultipartPartReply = z.infer<typeof MultipartPartReplySchema>;

export const MultipartCompleteSchema = z.object({
  attempt: z.number().int().positive(),
  upload_id: z.string().min(1).max(4096),
  parts: z
    .array(z.object({ part: z.number().int().positive().max(MULTIPART_MAX_PARTS), etag: z.string().min(1).max(200) }))
    .min(1)
    .max(MULTIPART_MAX_PARTS),
});
export type MultipartComplete = z.infer<typeof MultipartCompleteSchema>;

export const MultipartCompletedSchema = z.object({
  key: z.string(),
  size: z.number().int().nonnegative(),
  content_type: z.string(),
});
export type MultipartCompleted = z.infer<typeof MultipartCompletedSchema>;
