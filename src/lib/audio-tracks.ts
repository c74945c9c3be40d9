/**
 * Dubbed audio tracks (issue 16): the contract between the API and the transcoder, imported by both.
 *
 * Flow: `POST /v1/assets/{id}/tracks {type: "audio", url}` writes a `preparing` row and queues
 * `{kind: "audio_track"}`; the transcode-jobs consumer checks the URL against the outbound policy and POSTs an
 * AudioTrackDispatch to the transcoder's `/audio-tracks` (202 at once). The transcoder fetches the URL under
 * the same policy (every redirect, and the host's DNS answers), encodes the first audio stream like a ladder
 * audio rendition (AAC-LC stereo 48 kHz at AUDIO_BITRATE, fMP4 HLS of SEGMENT_SECONDS) from t=0, cut or padded
 * with silence to the asset's duration, and writes it under the asset's current run prefix as
 * `{track_id}/index.m3u8`, `{track_id}/init.mp4`, `{track_id}/seg_NNNNN.m4s` through the run job's output
 * callback, with a job token scoped to that one track (`trk` claim: outputs under `{track_id}/` only, and the
 * two track callbacks; never progress/publish/fail of the job). It then reports:
 *
 *   POST /internal/jobs/{job_id}/tracks/{track_id}/ready   AudioTrackReady
 *   POST /internal/jobs/{job_id}/tracks/{track_id}/fail    AudioTrackFailure
 *
 * The files live in the run, so deleting the asset (or a sweep of its runs) removes them with the rest.
 */
import { z } from "zod";

export const AUDIO_TRACK_ERROR_CODES = [
  /** The URL, or a redirect's target, or the address its host resolves to, is refused by the ingest policy. */
  "audio_url_forbidden",
  /** The URL could not be fetched (DNS, connection, 4xx, 5xx after retries). */
  "audio_fetch_failed",
  /** Larger than AUDIO_TRACK_MAX_BYTES. */
  "audio_too_large",
  /** A readable media file without an audio stream. */
  "audio_no_stream",
  /** Not a media file ffprobe/ffmpeg can read. */
  "audio_unreadable",
  /** Our side failed (encode, upload) after its retries. */
  "internal_error",
] as const;
export const AudioTrackErrorCodeSchema = z.enum(AUDIO_TRACK_ERROR_CODES);
export type AudioTrackErrorCode = z.infer<typeof AudioTrackErrorCodeSchema>;

/** Largest audio file the transcoder downloads. */
export const AUDIO_TRACK_MAX_BYTES = 2 * 1024 * 1024 * 1024;

/** Deliveries of the `audio_track` message (dispatch retries, then crash re-dispatches) before it errors. */
export const AUDIO_TRACK_ATTEMPTS = 4;

/**
 * After a dispatch, the consumer looks at the track again this many seconds later: still `preparing` then
 * means the transcoder lost it (crash, restart), so it is dispatched again (the outputs are overwritten).
 */
export const AUDIO_TRACK_WATCHDOG_SECONDS = 15 * 60;

export const AudioTrackDispatchSchema = z.object({
  track_id: z.string().regex(/^tr_[0-9a-z]{26}$/),
  /** The asset's current run: the outputs land under its prefix. */
  job_id: z.string().startsWith("job_"),
  asset_id: z.string().startsWith("as_"),
  /** The run job's attempt the token names. */
  attempt: z.number().int().positive(),
  api_url: z.string().url(),
  token: z.string().min(20),
  url: z.string().url().max(2048),
  /** Development only (ALLOW_PRIVATE_INGEST_URLS): private and loopback hosts may be fetched. */
  allow_private: z.boolean(),
  /** The asset's duration in seconds: the track is cut or padded to it. */
  duration: z.number().positive(),
  correlation_id: z.string().nullable().optional(),
});
export type AudioTrackDispatch = z.infer<typeof AudioTrackDispatchSchema>;

export const AudioTrackReadySchema = z.object({
  attempt: z.number().int().positive(),
  /** Seconds of the written playlist (sum of EXTINF). */
  duration: z.number().nonnegative(),
  segments: z.number().int().positive(),
  codecs: z.string().max(100),
  channels: z.number().int().positive(),
  /** Peak and average segment bitrate, bits/s. */
  bandwidth: z.number().int().positive(),
  average_bandwidth: z.number().int().positive(),
  /** What the source file was, for the record. */
  source_codec: z.string().max(50).optional(),
});
export type AudioTrackReady = z.infer<typeof AudioTrackReadySchema>;

export const AudioTrackFailureSchema = z.object({
  attempt: z.number().int().positive(),
  code: AudioTrackErrorCodeSchema,
  message: z.string().max(2000),
});
export type AudioTrackFailure = z.infer<typeof AudioTrackFailureSchema>;

/** The folder of a track's HLS files under the run prefix (a track ID fits the protocol's folder pattern). */
export function audioTrackDir(trackId: string): string {
  return trackId;
}
