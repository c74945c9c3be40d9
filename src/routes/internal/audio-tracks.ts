/**
 * The transcoder's callbacks for a dubbed audio track (src/lib/audio-tracks.ts), with the track-scoped job token:
 *   POST /internal/jobs/{job_id}/tracks/{track_id}/ready   AudioTrackReady
 *   POST /internal/jobs/{job_id}/tracks/{track_id}/fail    AudioTrackFailure
 */
import type { App } from "../../app";
import { AudioTrackFailureSchema, AudioTrackReadySchema } from "../../lib/audio-tracks";
import { audioTrackFailed, audioTrackReady } from "../../services/tracks/audio";
import { authorize, readJson } from "./shared";

export function registerAudioTrackCallbacks(app: App) {
  app.post("/internal/jobs/:job_id/tracks/:track_id/ready", async (c) => {
    const call = await authorize(c, { allowTrack: true });
    const body = await readJson(c, AudioTrackReadySchema);
    return c.json(await audioTrackReady(call, c.req.param("track_id"), body), 200);
  });
  app.post("/internal/jobs/:job_id/tracks/:track_id/fail", async (c) => {
    const call = await authorize(c, { allowTrack: true });
    const body = await readJson(c, AudioTrackFailureSchema);
    return c.json(await audioTrackFailed(call, c.req.param("track_id"), body), 200);
  });
}
