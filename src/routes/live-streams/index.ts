import type { App } from "../../app";
import { registerCompleteLiveStream } from "./complete";
import { registerCreateLiveStream } from "./create";
import { registerDeleteLiveStream } from "./delete";
import { registerDisableLiveStream } from "./disable";
import { registerEnableLiveStream } from "./enable";
import { registerGetLiveStream } from "./get";
import { registerLiveStreamHealth } from "./health";
import { registerListLiveStreams } from "./list";
import { registerCreateLivePlaybackId } from "./playback-id-create";
import { registerDeleteLivePlaybackId } from "./playback-id-delete";
import { registerGetLivePlaybackId } from "./playback-id-get";
import { registerListLivePlaybackIds } from "./playback-id-list";
import { registerResetStreamKey } from "./reset-stream-key";
import { registerLiveStreamTimeline } from "./timeline";
import { registerUpdateLiveStream } from "./update";

export function registerLiveStreamRoutes(app: App) {
  registerCreateLiveStream(app);
  registerListLiveStreams(app);
  registerGetLiveStream(app);
  registerUpdateLiveStream(app);
  registerDeleteLiveStream(app);
  registerResetStreamKey(app);
  registerDisableLiveStream(app);
  registerEnableLiveStream(app);
  registerCompleteLiveStream(app);
  registerLiveStreamHealth(app);
  registerLiveStreamTimeline(app);
  registerCreateLivePlaybackId(app);
  registerListLivePlaybackIds(app);
  registerGetLivePlaybackId(app);
  registerDeleteLivePlaybackId(app);
}
