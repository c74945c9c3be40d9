/**
 * API ↔ transcoder messages for simulcast. The API starts one simulcast job per live session
 * (`POST /simulcast`, signed like every API → transcoder call) and stops it (`DELETE /simulcast/{live_stream_id}`);
 * the transcoder reports each target's status to `POST /internal/live/simulcast-status`, signed with the same
 * transcoder key in the other direction (src/lib/transcoder-auth.ts).
 */
import { z } from "zod";

export const SIMULCAST_STATUSES = ["idle", "starting", "broadcasting", "errored"] as const;
export type SimulcastStatus = (typeof SIMULCAST_STATUSES)[number];
export const SIMULCAST_STATUS_PATH = "/internal/live/simulcast-status";

export const SimulcastStartSchema = z
  .object({
    live_stream_id: z.string(),
    session_id: z.string(),
    /** The live media playlist at the edge (with a viewer token when the stream's playback IDs are signed). */
    source_url: z.string().url(),
    /** Where the transcoder reports status (the API's origin + SIMULCAST_STATUS_PATH). */
    status_url: z.string().url(),
    /** Each target's full publish URL (`{url}/{stream_key}`): secret, never logged. */
    targets: z
      .array(z.object({ id: z.string(), publish_url: z.string().min(1) }))
      .min(1)
      .max(10),
  })
  .strict();
export type SimulcastStart = z.infer<typeof SimulcastStartSchema>;

export const SimulcastStatusReportSchema = z
  .object({
    live_stream_id: z.string(),
    session_id: z.string(),
    target_id: z.string(),
    status: z.enum(SIMULCAST_STATUSES),
    error: z.string().max(500).nullable(),
  })
  .strict();
export type SimulcastStatusReport = z.infer<typeof SimulcastStatusReportSchema>;
