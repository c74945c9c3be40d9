/**
 * `npm start`: the whole of Keyframe on this machine. Applies local migrations, makes sure a local admin
 * key exists (before any worker starts), starts the API worker, the edge worker and the transcoder
 * (restarted if it dies), prints the URLs, the key and a first session to try. State lives in
 * .wrangler/state (KEYFRAME_STATE_DIR) and survives restarts; Ctrl-C stops everything.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { KEY_SECRET_RE } from "../src/lib/auth";
import { readDevVarsFile } from "./lib/dev-vars";
import { createKeyInD1, keyIsLive } from "./lib/keys";
import { type Stack, startStack } from "./lib/stack";
import { ROOT } from "./lib/wrangler";

// KEYFRAME_STATE_DIR moves the whole local state (tests start a fresh one); the admin key file sits beside it.
const PERSIST_TO = path.resolve(process.env.KEYFRAME_STATE_DIR ?? path.join(ROOT, ".wrangler", "state"));
const KEY_FILE = path.join(path.dirname(PERSIST_TO), "keyframe-admin-key");
/** The API worker's local overrides (dotenv syntax); they win over npm start's development defaults. */
const DEV_VARS_FILE = path.join(ROOT, ".dev.vars");

function port(name: string, fallback: number): number {
  const raw = process.env[name];
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${name}=${raw} is not a port number`);
  return n;
}

/**
 * The RTMP relay's port (KEYFRAME_RTMP_PORT, default 1935; "off" starts no relay). A port already taken (another
 * RTMP server, a second npm start) starts Keyframe without the relay rather than not at all.
 */
async function relayPort(): Promise<number | undefined> {
  if (process.env.KEYFRAME_RTMP_PORT === "off") return undefined;
  const p = port("KEYFRAME_RTMP_PORT", 1935);
  const free = await new Promise<boolean>((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(p, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
  if (free) return p;
  console.warn(
    `[start] port ${p} is taken: starting without the RTMP relay (KEYFRAME_RTMP_PORT=1936 npm start picks another)`,
  );
  return undefined;
}

/**
 * Reuses the stored key while the database still knows it; otherwise (fresh or wiped state) makes one.
 * Runs before the workers start (startStack's beforeServices): then nothing else holds the state's SQLite
 * lock, which two starting `wrangler dev` processes do (a `d1 execute` beside them came back empty).
 */
async function ensureAdminKey(): Promise<{ secret: string; created: boolean }> {
  if (existsSync(KEY_FILE)) {
    const secret = readFileSync(KEY_FILE, "utf8").trim();
    if (KEY_SECRET_RE.test(secret) && (await keyIsLive({ persistTo: PERSIST_TO }, secret))) {
      return { secret, created: false };
    }
  }
  const key = await createKeyInD1({ persistTo: PERSIST_TO, scopes: ["*"], name: "local admin (npm start)" });
  mkdirSync(path.dirname(KEY_FILE), { recursive: true });
  writeFileSync(KEY_FILE, `${key.secret}\n`, { mode: 0o600 });
  chmodSync(KEY_FILE, 0o600);
  return { secret: key.secret, created: true };
}

function banner(stack: Stack, key: { secret: string; created: boolean }, vars: Record<string, string>) {
  const api = stack.apiUrl;
  const edge = stack.edgeUrl;
  console.log(`
────────────────────────────────────────────────────────────────────────────
 Keyframe is running
   API         ${api}/v1        docs: ${api}/docs
   dashboard   ${api}/dashboard  (sign in with the admin key below)
   edge        ${edge}
   transcoder  ${stack.transcoderUrl ?? "(not started: transcoder/src/server.ts is missing)"}
   RTMP relay  ${
     stack.relayUrl
       ? `${stack.relayUrl}  (OBS: Server = this URL, Stream Key = a live stream's stream_key)`
       : "(not started: KEYFRAME_RTMP_PORT=off or the port is taken)"
   }
   state       ${path.relative(ROOT, PERSIST_TO)} (kept across restarts)
   KEYFRAME_ENV=development; webhook URLs on localhost/127.0.0.1 are ${
     vars.ALLOW_PRIVATE_WEBHOOK_URLS === "false"
       ? "refused (.dev.vars)"
       : "accepted (ALLOW_PRIVATE_WEBHOOK_URLS=false in .dev.vars refuses them)"
   }
   ingest URLs (input.url) on private addresses are ${
     vars.ALLOW_PRIVATE_INGEST_URLS === "true"
       ? "accepted (.dev.vars)"
       : "refused (ALLOW_PRIVATE_INGEST_URLS=true in .dev.vars allows them)"
   }

 Admin API key (${key.created ? "new" : "same as last time"}, also in ${path.relative(ROOT, KEY_FILE)}):
   export KEYFRAME_KEY=${key.secret}

 Try it:
   # 1. create a direct upload (public playback, so no token is needed to watch)
   curl -s -X POST ${api}/v1/uploads -H "Authorization: Bearer $KEYFRAME_KEY" \\
     -H 'content-type: application/json' -d '{"new_asset_settings":{"playback_policy":"public"}}'
   # 2. PUT a file to the "url" it returned (no API key: the URL is the credential).
   #    No video at hand? Make one with the ffmpeg npm install brought:
   #    $(node -p "require('@ffmpeg-installer/ffmpeg').path") -f lavfi -i testsrc2=d=10:s=1280x720:r=30 \\
   #      -f lavfi -i sine=d=10 -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest sample.mp4
   curl -X PUT --data-binary @sample.mp4 "<url from step 1>"
   # 3. the upload now names its asset; GET the asset until status is "ready"
   curl -s ${api}/v1/uploads/<upload id> -H "Authorization: Bearer $KEYFRAME_KEY"
   curl -s ${api}/v1/assets/<asset id> -H "Authorization: Bearer $KEYFRAME_KEY"
   # 4. play it: open ${edge}/embed/<playback id> in a browser, or give any HLS player
   #    ${edge}/<playback id>.m3u8

 Ctrl-C stops everything.
────────────────────────────────────────────────────────────────────────────
`);
}

async function main() {
  let key: { secret: string; created: boolean } | undefined;
  // Ctrl-C while starting: the services are detached process groups, so dying now would orphan them.
  // Note it, let the start finish (or fail, which stops what it started), then stop everything.
  let interrupted = false;
  const early = () => {
    interrupted = true;
    console.log("\nStopping Keyframe as soon as it has started…");
  };
  process.on("SIGINT", early);
  process.on("SIGTERM", early);
  const vars = readDevVarsFile(DEV_VARS_FILE);
  const stack = await startStack({
    vars,
    apiPort: port("KEYFRAME_API_PORT", 8787),
    edgePort: port("KEYFRAME_EDGE_PORT", 8788),
    transcoderPort: port("KEYFRAME_TRANSCODER_PORT", 8790),
    relayPort: await relayPort(),
    persistTo: PERSIST_TO,
    superviseTranscoder: true,
    beforeServices: async () => {
      try {
        key = await ensureAdminKey();
      } catch (err) {
        throw new Error(`could not set up the local admin key: ${(err as Error).message}`);
      }
    },
  });
  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log("\nStopping Keyframe…");
    await stack.stop();
    process.exit(code);
  };
  process.off("SIGINT", early);
  process.off("SIGTERM", early);
  process.on("SIGINT", () => void shutdown(0));
  process.on("SIGTERM", () => void shutdown(0));
  if (interrupted) return shutdown(0);
  for (const s of stack.services) {
    // The transcoder is restarted by startStack (superviseTranscoder); a worker exiting stops everything.
    if (s.name === "transcoder") continue;
    if (s.name === "relay") {
      s.exited.then((code) => {
        if (!stopping) console.error(`\nThe RTMP relay exited (code ${code}); HTTP ingest and the rest keep running.`);
      });
      continue;
    }
    s.exited.then((code) => {
      if (stopping) return;
      console.error(`\n${s.name} exited (code ${code}); stopping the rest.`);
      void shutdown(1);
    });
  }
  banner(stack, key as { secret: string; created: boolean }, vars);
}

main().catch((err) => {
  console.error(`npm start failed: ${(err as Error).message}`);
  process.exit(1);
});
