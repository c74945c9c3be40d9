/**
 * The RTMP relay (`npm run relay`, entry main.ts). Cloudflare accepts only HTTP, so RTMP (OBS, Streamlabs, hardware encoders)
 * ends here: a Node process the operator runs on a container or VM near broadcasters. Each publish to
 * `rtmp://host:1935/live/<stream_key>` is checked against the API before it is answered (session.ts) and then
 * stream-copied into the stream's HTTP HLS ingest (hls-push.ts) — the same path ffmpeg pushes to directly.
 *
 * Environment:
 *   KEYFRAME_API_URL          the API's origin (required)
 *   RELAY_API_SECRET          the relay's key (required; `npx tsx scripts/relay-secret.ts` derives it)
 *   KEYFRAME_RELAY_HOST       listen address (default 127.0.0.1; 0.0.0.0 on a relay host)
 *   KEYFRAME_RELAY_PORT       RTMP port (default 1935)
 *   KEYFRAME_RELAY_APP        the application name in the URL (default "live")
 *   KEYFRAME_RELAY_HEALTH_PORT  optional HTTP port answering GET /health with the relay's counters
 *   FFMPEG_PATH               ffmpeg with an HLS muxer that knows `-method` (system ffmpeg ≥ 4 does)
 */
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer, type Server } from "node:net";
import type { Logger } from "../log.js";
import { relayApi } from "./api.js";
import { RelaySession, type SessionDeps } from "./session.js";

export interface RelayOptions {
  apiUrl: string;
  secret: string;
  host: string;
  port: number;
  app: string;
  healthPort?: number;
  ffmpeg: string;
  httpPersistent: boolean;
  log: Logger;
}

export interface Relay {
  port: number;
  healthPort?: number;
  close(): Promise<void>;
}

export async function startRelay(opts: RelayOptions): Promise<Relay> {
  const sessions = new Set<RelaySession>();
  const deps: SessionDeps = {
    app: opts.app,
    api: relayApi({ apiUrl: opts.apiUrl, secret: opts.secret }),
    ffmpeg: opts.ffmpeg,
    httpPersistent: opts.httpPersistent,
    log: opts.log,
    onAir: new Set(),
    stats: { accepted: 0, refused: 0 },
  };
  const server: Server = createServer((socket) => {
    const s = new RelaySession(socket, deps);
    sessions.add(s);
    void s.closed.then(() => sessions.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;

  let health: HttpServer | undefined;
  if (opts.healthPort !== undefined) {
    health = createHttpServer((req, res) => {
      if (req.method !== "GET" || req.url !== "/health") {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ status: "ok", connections: sessions.size, on_air: deps.onAir.size, ...deps.stats }));
    });
    await new Promise<void>((resolve) => health?.listen(opts.healthPort, opts.host, () => resolve()));
  }
  const healthPort = health ? (health.address() as { port: number }).port : undefined;
  opts.log.info("relay.listening", { url: `rtmp://${opts.host}:${port}/${opts.app}`, health_port: healthPort });
  return {
    port,
    healthPort,
    async close() {
      server.close();
      health?.close();
      await Promise.all([...sessions].map((s) => s.shutdown()));
    },
  };
}
