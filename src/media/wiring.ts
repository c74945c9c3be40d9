/** Registers the media-deletion sweep: finishes recorded R2 deletions (services/media/pending-deletions.ts). */
import { registerSweep } from "../cron";
import { runPendingDeletions } from "../services/media/pending-deletions";

registerSweep("media.pending_deletions", (env) => runPendingDeletions(env));
