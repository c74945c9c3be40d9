/** Registers the VOD pipeline's queue consumers and cron sweeps. */
export {};
