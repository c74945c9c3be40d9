/**
 * The whole local system as child processes: the API worker and the edge worker (two `wrangler dev`
 * processes sharing one `--persist-to` folder, hence one D1 and one R2), and the Node transcoder.
 * Used by `npm start`, the end-to-end tests and the benchmarks.
 *
 * Why two wrangler processes rather than `wrangler dev -c api -c edge`: with several configs only the
 * first worker gets a port, and the edge must answer on its own address like it does in production.
 * The edge's `API` service binding (on-demand thumbnails) reaches the API's session through wrangler's
 * dev registry, kept per state folder (WRANGLER_REGISTRY_PATH) so two stacks on one machine (npm start
 * and an e2e run) never bind to each other's API.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { deriveEdgeApiSecret } from "../../src/lib/edge-auth";
import { deriveTranscoderSecret } from "../../src/lib/transcoder-auth";
import { devApiVars, devEdgeVars } from "./dev-vars";
import { freePort, type Service, startService, waitForHttp } from "./proc";
import { relayPublishUrl, startRelayService } from "./relay";
import { API_CONFIG, applyMigrations, EDGE_CONFIG, ROOT, wranglerBin } from "./wrangler";

export interface StackOptions {
  apiPort: number;
  edgePort: number;
  transcoderPort: number;
  /** Local state folder shared by both workers (D1, R2, queues, DOs). */
  persistTo: string;
  /** Extra/overriding vars for the API worker, e.g. { ALLOW_PRIVATE_INGEST_URLS: "true" }. */
  vars?: Record<string, string>;
  /** Extra vars for the edge worker. */
  edgeVars?: Record<string, string>;
  /** Extra environment for the transcoder process. */
  transcoderEnv?: Record<string, string>;
  /** Keep child output to ourselves (shown only when a start fails). */
  quiet?: boolean;
  /** Start the transcoder (default true; skipped with a warning when its entry file is missing). */
  transcoder?: boolean;
  /**
   * Restart the transcoder when it dies (log line, backoff 1 s doubling to 30 s, reset after a minute up).
   * The jobs it held are retried: it journals accepted jobs under persistTo and fails them as retryable on
   * its next start. Default false (tests that kill it on purpose opt in; npm start does).
   */
  superviseTranscoder?: boolean;
  /** Fire the cron handler every minute, as Cloudflare would (wrangler dev does not). Default true. */
  cron?: boolean;
  /** Start the RTMP relay on this port (and show it as ingest.rtmp_url). Default: no relay. */
  relayPort?: number;
  /** How long to wait for everything to answer. */
  readyTimeoutMs?: number;
  /**
   * Apply the D1 migrations before starting (default true). End-to-end tests start from a copy of a state
   * already migrated (test/node/support/state-template.ts) and skip the wrangler call.
   */
  migrate?: boolean;
  /**
   * Runs after the migrations and before any worker starts, while nothing else holds the state's SQLite
   * lock (npm start creates its admin key here: `d1 execute` beside two starting workers can come back empty).
   */
  beforeServices?: () => Promise<void>;
}

export interface Stack {
  apiUrl: string;
  edgeUrl: string;
  /** null when the transcoder was not started. */
  transcoderUrl: string | null;
  /** `rtmp://127.0.0.1:port/live`, or null when no relay was started. */
  relayUrl: string | null;
  persistTo: string;
  services: Service[];
  stop(): Promise<void>;
}

const TRANSCODER_ENTRY = path.join(ROOT, "transcoder", "src", "server.ts");
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");

/**
 * Local secrets, generated once per state folder and kept beside it, so upload URLs and job tokens
 * minted before a restart still verify after it. Never committed (.wrangler/ is gitignored).
 */
export function localSecrets(persistTo: string): { JOB_TOKEN_SECRET: string } {
  const file = path.join(persistTo, "keyframe-secrets.json");
  if (existsSync(file)) {
    const parsed = JSON.parse(readFileSync(file, "utf8"));
    if (typeof parsed.JOB_TOKEN_SECRET === "string" && parsed.JOB_TOKEN_SECRET.length >= 32) return parsed;
  }
  mkdirSync(persistTo, { recursive: true });
  const secrets = { JOB_TOKEN_SECRET: randomBytes(32).toString("base64url") };
  writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  return secrets;
}

function varArgs(vars: Record<string, string>): string[] {
  return Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]);
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const persistTo = path.resolve(opts.persistTo);
  const host = "127.0.0.1";
  const apiUrl = `http://${host}:${opts.apiPort}`;
  const edgeUrl = `http://${host}:${opts.edgePort}`;
  const wantTranscoder = opts.transcoder ?? true;
  const hasTranscoder = wantTranscoder && existsSync(TRANSCODER_ENTRY);
  if (wantTranscoder && !hasTranscoder) {
    console.warn(`[stack] ${path.relative(ROOT, TRANSCODER_ENTRY)} not found: starting without the transcoder`);
  }
  const transcoderUrl = hasTranscoder ? `http://${host}:${opts.transcoderPort}` : null;

  if (opts.migrate !== false) await applyMigrations({ persistTo, config: API_CONFIG });
  const secrets = localSecrets(persistTo);
  await opts.beforeServices?.();
  const wrangler = wranglerBin();
  // No Request.cf lookup: local runs need no network (and CI machines may have none).
  const childEnv = {
    WRANGLER_SEND_METRICS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    NO_COLOR: opts.quiet ? "1" : (process.env.NO_COLOR ?? ""),
    WRANGLER_REGISTRY_PATH: path.join(persistTo, "dev-registry"),
  };
  const devArgs = async (config: string, port: number) => [
    "dev",
    "-c",
    config,
    "--ip",
    host,
    "--port",
    String(port),
    "--persist-to",
    persistTo,
    "--inspector-port",
    String(await freePort()),
    "--show-interactive-dev-session=false",
  ];

  const services: Service[] = [];
  let ticker: NodeJS.Timeout | undefined;
  let stopped = false;
  const stop = async () => {
    stopped = true;
    if (ticker) clearInterval(ticker);
    await Promise.all(services.map((s) => s.stop()));
  };

  try {
    const timeoutMs = opts.readyTimeoutMs ?? 120_000;
    /**
     * Starts a service and waits for its health URL. Both workers open the same SQLite files under
     * persistTo, and workerd dies at startup when the other process holds the lock ("database is
     * locked: SQLITE_BUSY"; seen in CI): such a start is retried, up to three times.
     */
    const startUp = async (
      name: string,
      cmd: string,
      args: () => Promise<string[]>,
      env: Record<string, string>,
      url: string,
      accept?: (r: Response) => boolean,
    ) => {
      for (let attempt = 1; ; attempt++) {
        const service = startService(name, cmd, await args(), { cwd: ROOT, env, quiet: opts.quiet });
        services.push(service);
        try {
          await waitForHttp(url, service, { timeoutMs, accept });
          return service;
        } catch (err) {
          const locked = /SQLITE_BUSY|database is locked/.test(service.tail());
          await service.stop();
          services.splice(services.indexOf(service), 1);
          if (!locked || attempt >= 3) throw err;
          console.warn(
            `[stack] ${name} died on the shared SQLite lock while starting; starting it again (${attempt}/3)`,
          );
        }
      }
    };

    // wrangler.toml holds production values: every development value is passed here (scripts/lib/dev-vars.ts).
    const apiVars = {
      ...devApiVars({ apiUrl, edgeUrl, transcoderUrl: transcoderUrl ?? `http://${host}:${opts.transcoderPort}` }),
      ...secrets,
      ...(opts.relayPort !== undefined ? { RTMP_RELAY_URL: relayPublishUrl(host, opts.relayPort) } : {}),
      ...opts.vars,
    };
    // The edge's only secret: the HMAC key of its calls to the API, derived from JOB_TOKEN_SECRET.
    const edgeVars = {
      ...devEdgeVars({ apiUrl, edgeUrl }),
      EDGE_API_SECRET: await deriveEdgeApiSecret(secrets.JOB_TOKEN_SECRET),
      ...opts.edgeVars,
    };
    const transcoderAuthSecret = await deriveTranscoderSecret(secrets.JOB_TOKEN_SECRET);
    const startTranscoder =
      hasTranscoder && transcoderUrl
        ? () =>
            startUp(
              "transcoder",
              TSX,
              async () => [TRANSCODER_ENTRY],
              {
                KEYFRAME_TRANSCODER_PORT: String(opts.transcoderPort),
                KEYFRAME_TRANSCODER_HOST: host,
                KEYFRAME_TRANSCODER_JOURNAL_DIR: path.join(persistTo, "transcoder-jobs"),
                // The key the API signs its requests with (src/lib/transcoder-auth.ts), derived like the edge's.
                TRANSCODER_AUTH_SECRET: transcoderAuthSecret,
                ...opts.transcoderEnv,
              },
              `${transcoderUrl}/health`,
              () => true,
            )
        : undefined;
    /** Keeps the transcoder up: each time it exits (unless the stack is stopping), start it again. */
    const supervise = async (first: Service) => {
      let current = first;
      let startedAt = Date.now();
      let restarts = 0;
      for (;;) {
        const code = await current.exited;
        if (stopped || !startTranscoder) return;
        services.splice(services.indexOf(current), 1);
        if (Date.now() - startedAt > 60_000) restarts = 0;
        for (;;) {
          const delayMs = Math.min(30_000, 1000 * 2 ** restarts++);
          console.warn(
            `[stack] transcoder exited (code ${code}); restarting it in ${delayMs / 1000} s (restart ${restarts})`,
          );
          await new Promise((r) => setTimeout(r, delayMs));
          if (stopped) return;
          try {
            current = await startTranscoder();
            startedAt = Date.now();
            console.warn(`[stack] transcoder restarted (pid ${current.child.pid}); its unfinished jobs are retried`);
            break;
          } catch (err) {
            if (stopped) return;
            console.error(`[stack] transcoder restart failed: ${(err as Error).message.split("\n")[0]}`);
          }
        }
      }
    };
    await Promise.all([
      startUp(
        "api",
        wrangler,
        async () => [...(await devArgs(API_CONFIG, opts.apiPort)), ...varArgs(apiVars)],
        childEnv,
        `${apiUrl}/v1/health`,
      ),
      // The edge's /health; any HTTP answer at all means the worker is up.
      startUp(
        "edge",
        wrangler,
        async () => [...(await devArgs(EDGE_CONFIG, opts.edgePort)), ...varArgs(edgeVars)],
        childEnv,
        `${edgeUrl}/health`,
        () => true,
      ),
      startTranscoder?.().then((first) => {
        if (opts.superviseTranscoder) void supervise(first);
      }),
      opts.relayPort !== undefined &&
        startRelayService({
          apiUrl,
          jobTokenSecret: secrets.JOB_TOKEN_SECRET,
          host,
          port: opts.relayPort,
          quiet: opts.quiet,
        }).then((r) => services.push(r.service)),
    ]);

    if (opts.cron ?? true) {
      ticker = setInterval(() => {
        fetch(`${apiUrl}/cdn-cgi/handler/scheduled?cron=*+*+*+*+*`)
          .then((r) => r.arrayBuffer())
          .catch(() => undefined);
      }, 60_000);
      ticker.unref();
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const relayUrl = opts.relayPort !== undefined ? relayPublishUrl(host, opts.relayPort) : null;
  return { apiUrl, edgeUrl, transcoderUrl, relayUrl, persistTo, services, stop };
}
