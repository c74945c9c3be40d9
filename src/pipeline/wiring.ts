/** Registers the VOD pipeline's queue consumers and cron sweeps. */
import { registerSweep } from "../cron";
import { registerQueueHandler } from "../queues";
import { reapJobs } from "./reaper";
import { transcodeConsumer, transcodeDlqConsumer } from "./transcode-consumer";

registerQueueHandler("transcode-jobs", transcodeConsumer());
registerQueueHandler("transcode-jobs-dlq", transcodeDlqConsumer);
registerSweep("pipeline-reaper", (env, ctx) => reapJobs(env, (p) => ctx.waitUntil(p)));
