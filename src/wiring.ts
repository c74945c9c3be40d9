/**
 * Registers queue consumers and cron sweeps. Each feature owns its handler module; this file only
 * lists them, so adding a consumer never means editing the entry point.
 */
