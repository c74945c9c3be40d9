/**
 * `npm run relay` entry: configuration from the environment (see server.ts), SIGINT/SIGTERM stop it after
 * every converter has flushed.
 */
import { RELAY_API_SECRET_ENV } from "../../../src/lib/relay-auth.js";
import { ffmpegVersion, findFfmpeg } from "../ffmpeg/binaries.js";
import { createLogger } from "../log.js";
import { hlsPersistentHttpInOrder } from "./hls-push.js";
import { startRelay } from "./server.js";

function envPort(name: string, fallback: number | undefined): number | undefined {
  const raw = process.env[name];
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name}=${raw} is not a port number`);
  return n;
}

async function main() {
  const log = createLogger({ service: "rtmp-relay" });
  const apiUrl = process.env.KEYFRAME_API_URL;
  const secret = process.env[RELAY_API_SECRET_ENV];
  if (!apiUrl || !secret) {
    console.error(`KEYFRAME_API_URL and ${RELAY_API_SECRET_ENV} are required (see transcoder/src/relay/server.ts).`);
    process.exit(2);
  }
  const ffmpeg = await findFfmpeg();
  const version = await ffmpegVersion(ffmpeg.path);
  log.info("relay.ffmpeg", { path: ffmpeg.path, source: ffmpeg.source, version: version.raw });
  const relay = await startRelay({
    apiUrl,
    secret,
    host: process.env.KEYFRAME_RELAY_HOST ?? "127.0.0.1",
    port: envPort("KEYFRAME_RELAY_PORT", 1935) as number,
    app: process.env.KEYFRAME_RELAY_APP ?? "live",
    healthPort: envPort("KEYFRAME_RELAY_HEALTH_PORT", undefined),
    ffmpeg: ffmpeg.path,
    httpPersistent: hlsPersistentHttpInOrder(version),
    log,
  });
  const stop = async () => {
    log.info("relay.stopping", {});
    await relay.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
}

main().catch((err) => {
  console.error(`relay failed to start: ${(err as Error).message}`);
  process.exit(1);
});
