/** Registers webhook delivery consumers and outbox/GC sweeps. */
export {};
