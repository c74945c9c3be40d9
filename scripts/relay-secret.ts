/**
 * Prints the RTMP relay's RELAY_API_SECRET: the HMAC key of its stream-key checks against the API, derived
 * from the API's JOB_TOKEN_SECRET (src/lib/relay-auth.ts). Reads JOB_TOKEN_SECRET from the environment, or
 * from stdin when it is not set; give the output to the relay host as RELAY_API_SECRET:
 *
 *   JOB_TOKEN_SECRET=… npx tsx scripts/relay-secret.ts
 *
 * Rotating JOB_TOKEN_SECRET means setting this again.
 */
import { deriveRelaySecret } from "../src/lib/relay-auth";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8").trim();
}

const secret = process.env.JOB_TOKEN_SECRET ?? (process.stdin.isTTY ? "" : await readStdin());
if (!secret) {
  console.error("Set JOB_TOKEN_SECRET (or pipe it on stdin): the same value the API worker has.");
  process.exit(1);
}
try {
  process.stdout.write(`${await deriveRelaySecret(secret)}\n`);
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
