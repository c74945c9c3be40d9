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
import { printDerivedSecret } from "./lib/derived-secret";

await printDerivedSecret(deriveEdgeApiSecret);
