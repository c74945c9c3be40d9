/**
 * Registers queue consumers and cron sweeps. Each feature owns its wiring module; this file only
 * lists them, so adding a consumer never means editing the entry point.
 */
import "./media/wiring";
import "./pipeline/wiring";
import "./uploads/wiring";
import "./webhooks/wiring";
