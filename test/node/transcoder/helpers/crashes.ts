/**
 * Runs `run` while recording uncaught exceptions (an 'error' event nobody listened to would end the transcoder),
 * then waits a few turns for a stray one to surface. Returns what `run` settled to and what was caught.
 */
export async function withoutCrashes<T>(
  run: () => Promise<T>,
): Promise<{ crashes: unknown[]; result: PromiseSettledResult<T> }> {
  const crashes: unknown[] = [];
  const onUncaught = (e: unknown) => crashes.push(e);
  process.on("uncaughtException", onUncaught);
  try {
    const [result] = await Promise.allSettled([run()]);
    await new Promise((r) => setTimeout(r, 200));
    return { crashes, result };
  } finally {
    process.off("uncaughtException", onUncaught);
  }
}
