/** Registers upload expiry sweeps. */
export {};
