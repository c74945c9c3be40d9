/** The local stack as the benchmarks run it: free ports, quiet, the rest as the caller says. */
import { freePort } from "../scripts/lib/proc";
import { type Stack, type StackOptions, startStack } from "../scripts/lib/stack";

export async function startBenchStack(
  persistTo: string,
  options: Omit<Partial<StackOptions>, "persistTo"> = {},
): Promise<Stack> {
  return startStack({
    apiPort: await freePort(),
    edgePort: await freePort(),
    transcoderPort: await freePort(),
    persistTo,
    quiet: true,
    ...options,
  });
}
