/**
 * The body of the scripts that print a secret derived from the API's JOB_TOKEN_SECRET (scripts/edge-secret.ts,
 * scripts/relay-secret.ts): JOB_TOKEN_SECRET from the environment, or from stdin when it is not set; the derived
 * value on stdout; a clear message and exit 1 otherwise.
 */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8").trim();
}

export async function printDerivedSecret(derive: (jobTokenSecret: string) => Promise<string>): Promise<void> {
  const secret = process.env.JOB_TOKEN_SECRET ?? (process.stdin.isTTY ? "" : await readStdin());
  if (!secret) {
    console.error("Set JOB_TOKEN_SECRET (or pipe it on stdin): the same value the API worker has.");
    process.exit(1);
  }
  try {
    process.stdout.write(`${await derive(secret)}\n`);
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
}
