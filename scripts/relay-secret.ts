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
import { printDerivedSecret } from "./lib/derived-secret";

await printDerivedSecret(deriveRelaySecret);
