/**
 * The RTMP relay as a local child process (transcoder/src/relay): used by the local stack (`npm start`) and
 * by tests that kill and restart it. Its key is derived from the state folder's JOB_TOKEN_SECRET, as the
 * edge's and the transcoder's are.
 */
import path from "node:path";
import { deriveRelaySecret, RELAY_API_SECRET_ENV } from "../../src/lib/relay-auth";
import { freePort, type Service, startService, waitForHttp } from "./proc";
import { ROOT } from "./wrangler";

const RELAY_ENTRY = path.join(ROOT, "transcoder", "src", "relay", "main.ts");
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");

/** `rtmp://host:port/live`: what the API shows as ingest.rtmp_url (OBS's "Server"). */
export function relayPublishUrl(host: string, port: number): string {
  return `rtmp://${host}:${port}/live`;
}

export async function startRelayService(opts: {
  apiUrl: string;
  jobTokenSecret: string;
  host: string;
  port: number;
  quiet?: boolean;
  timeoutMs?: number;
}): Promise<{ service: Service; healthUrl: string }> {
  const healthPort = await freePort(opts.host);
  const service = startService("relay", TSX, [RELAY_ENTRY], {
    cwd: ROOT,
    quiet: opts.quiet,
    env: {
      KEYFRAME_API_URL: opts.apiUrl,
      [RELAY_API_SECRET_ENV]: await deriveRelaySecret(opts.jobTokenSecret),
      KEYFRAME_RELAY_HOST: opts.host,
      KEYFRAME_RELAY_PORT: String(opts.port),
      KEYFRAME_RELAY_HEALTH_PORT: String(healthPort),
    },
  });
  const healthUrl = `http://${opts.host}:${healthPort}/health`;
  try {
    await waitForHttp(healthUrl, service, { timeoutMs: opts.timeoutMs ?? 60_000 });
  } catch (err) {
    await service.stop();
    throw err;
  }
  return { service, healthUrl };
}
