/**
 * Prints the edge worker's EDGE_API_SECRET: the HMAC key of its calls to the API (on-demand
 * thumbnails), derived from the API's JOB_TOKEN_SECRET (src/lib/edge-auth.ts). Reads JOB_TOKEN_SECRET
 * from the environment, or from stdin when it is not set:
 *
 *   JOB_TOKEN_SECRET=… npx tsx scripts/edge-secret.ts | npx wrangler secret put EDGE_API_SECRET -c workers/edge/wrangler.toml
 *
 * Rotating JOB_TOKEN_SECRET means setting this again.
 */
import { deriveEdgeApiSecret } from "../src/lib/edge-auth";

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
  process.stdout.write(`${await deriveEdgeApiSecret(secret)}\n`);
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
