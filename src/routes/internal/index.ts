/**
 * Transcoder callbacks (job-scoped token): source, outputs (whole or multipart, and read back), progress,
 * publish, fail, remote ladder chunks. Plain Hono routes, deliberately not in the public OpenAPI document;
 * errors are the same problem+json.
 */
import type { App } from "../../app";
import { registerAnimated } from "./animated";
import { registerAudioTrackCallbacks } from "./audio-tracks";
import { registerFail } from "./fail";
import { registerLadderChunks } from "./ladder-chunks";
import { registerLiveLadder } from "./live-ladder";
import { registerOutputs } from "./outputs";
import { registerOutputsMultipart } from "./outputs-multipart";
import { registerProgress } from "./progress";
import { registerPublish } from "./publish";
import { registerRelayAuth } from "./relay-auth";
import { registerSimulcastStatus } from "./simulcast-status";
import { registerSource } from "./source";
import { registerThumbnails } from "./thumbnails";

export function registerInternalRoutes(app: App) {
  registerSource(app);
  registerOutputs(app);
  registerOutputsMultipart(app);
  registerProgress(app);
  registerPublish(app);
  registerFail(app);
  registerThumbnails(app);
  registerRelayAuth(app);
  registerSimulcastStatus(app);
  registerAnimated(app);
  registerLiveLadder(app);
  registerAudioTrackCallbacks(app);
  registerLadderChunks(app);
}
