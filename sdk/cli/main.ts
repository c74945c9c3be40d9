/**
 * `keyframe` — the Keyframe CLI, built on @keyframe/sdk only (the public API, no back doors).
 * Every command takes --json (machine-readable stdout); errors go to stderr with a non-zero exit code:
 * 1 for a failed call (with the API's code and request_id), 2 for bad usage or missing login.
 */
import { openAsBlob, statSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import cliProgress from "cli-progress";
import { Keyframe, KeyframeApiError, OPERATIONS, uploadFile } from "../src/index";
import { configFile, FileUrlStorage, readConfig, writeConfig } from "./config";

// What the CLI passes through from its flags; the API refuses a value outside these with a precise problem.
type KeyScopes = Parameters<Keyframe["keys"]["create"]>[0]["scopes"];
type ListStatus = NonNullable<Parameters<Keyframe["assets"]["list"]>[0]>["status"];

class UsageError extends Error {}

const USAGE = `Usage: keyframe <command> [options]

  login [--base-url URL] [--api-key KEY]   store the API URL and key (also read from KEYFRAME_API_KEY)
  upload FILE [--public] [--no-wait]       upload with tus (resumable), wait for ready, print the playback URL
  assets ls [--limit N] [--status S] [--all] | assets get ID | assets rm ID
  events tail [--type T] [--from-start] [--once]   follow the event feed
  webhooks replay ENDPOINT_ID --since ISO_TIME     re-send failed deliveries since a time
  keys create --name NAME --scopes a,b             create an API key (the secret is shown once)
  live create [--name N] | live ls                 live streams (when the API has them)

Global: --json, --base-url URL, --api-key KEY (override the stored login; env KEYFRAME_BASE_URL, KEYFRAME_API_KEY)`;

const { values: opts, positionals } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        json: { type: "boolean" },
        "base-url": { type: "string" },
        "api-key": { type: "string" },
        public: { type: "boolean" },
        "no-wait": { type: "boolean" },
        limit: { type: "string" },
        status: { type: "string" },
        all: { type: "boolean" },
        type: { type: "string" },
        "from-start": { type: "boolean" },
        once: { type: "boolean" },
        since: { type: "string" },
        name: { type: "string" },
        scopes: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    console.error(`keyframe: ${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
})();

const json = Boolean(opts.json);
const out = (value: unknown, human: () => string) => console.log(json ? JSON.stringify(value, null, 2) : human());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function client(): Keyframe {
  const stored = readConfig();
  const baseUrl = opts["base-url"] || process.env.KEYFRAME_BASE_URL || stored.base_url;
  const apiKey = opts["api-key"] || process.env.KEYFRAME_API_KEY || stored.api_key;
  if (!baseUrl || !apiKey) throw new UsageError("Not logged in: run `keyframe login --base-url URL --api-key kf_…`.");
  return new Keyframe({ baseUrl, apiKey });
}

function table(rows: Record<string, unknown>[], cols: string[]): string {
  if (rows.length === 0) return "(none)";
  const cell = (v: unknown) => (v === null || v === undefined ? "-" : String(v));
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(width[i]))
      .join("  ")
      .trimEnd();
  return [line(cols.map((c) => c.toUpperCase())), ...rows.map((r) => line(cols.map((c) => cell(r[c]))))].join("\n");
}

function need(value: string | undefined, what: string): string {
  if (!value) throw new UsageError(`Missing ${what}.\n\n${USAGE}`);
  return value;
}

async function login() {
  const baseUrl = need(opts["base-url"] || process.env.KEYFRAME_BASE_URL || readConfig().base_url, "--base-url");
  const apiKey = need(opts["api-key"] || process.env.KEYFRAME_API_KEY, "--api-key (or KEYFRAME_API_KEY)");
  const kf = new Keyframe({ baseUrl, apiKey, maxRetries: 1 });
  // Any authenticated call proves the key; a key without assets:read answers 403, which still proves it.
  await kf.assets.list({ limit: 1 }).catch((err: unknown) => {
    if (!KeyframeApiError.is(err, "forbidden")) throw err;
  });
  writeConfig({ base_url: baseUrl.replace(/\/+$/, ""), api_key: apiKey });
  out({ base_url: baseUrl, config: configFile() }, () => `Logged in to ${baseUrl} (saved in ${configFile()}).`);
}

async function upload(file: string) {
  const kf = client();
  const abs = path.resolve(file);
  const stat = statSync(abs, { throwIfNoEntry: false });
  if (!stat?.isFile()) throw new UsageError(`No such file: ${file}`);
  const blob = await openAsBlob(abs);
  // Same path, size and mtime = the same file: a rerun resumes its unfinished upload.
  const fingerprint = `keyframe-cli:${abs}:${stat.size}:${stat.mtimeMs}`;
  const storage = new FileUrlStorage();
  let tusUrl: string | null = null;
  let resumedFrom: string | null = null;
  for (const prev of await storage.findUploadsByFingerprint(fingerprint)) {
    const id = new URL(prev.uploadUrl as string).pathname.split("/").pop() as string;
    const state = await kf.uploads.get({ upload_id: id }).catch(() => null);
    if (state && (state.status === "waiting" || state.status === "uploading")) {
      tusUrl = state.tus_url ?? null;
      resumedFrom = id;
      break;
    }
    await storage.removeUpload(prev.urlStorageKey);
  }
  if (!tusUrl) {
    const created = await kf.uploads.create({
      new_asset_settings: { playback_policy: opts.public ? "public" : "signed" },
    });
    tusUrl = created.tus_url ?? null;
  }
  if (!tusUrl) throw new Error("The upload has no tus_url.");
  if (resumedFrom) process.stderr.write(`Resuming upload ${resumedFrom}.\n`);
  const tty = Boolean(process.stderr.isTTY) && !json;
  const bar = new cliProgress.SingleBar(
    { format: "Uploading [{bar}] {percentage}% | {value}/{total} bytes | {speed} MB/s", hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  const started = Date.now();
  if (tty) bar.start(stat.size, 0, { speed: "0.0" });
  await uploadFile({ tus_url: tusUrl }, blob, {
    urlStorage: storage,
    fingerprint: async () => fingerprint,
    chunkSize: Number(process.env.KEYFRAME_UPLOAD_CHUNK_SIZE) || 8 * 1024 * 1024,
    onProgress: (sent, total) => {
      const speed = (sent / 1e6 / Math.max(0.001, (Date.now() - started) / 1000)).toFixed(1);
      if (tty) bar.update(sent, { speed });
      else if (!json) process.stderr.write(`uploaded ${sent}/${total} bytes\n`);
    },
  }).finally(() => tty && bar.stop());
  const uploadId = new URL(tusUrl).pathname.split("/").pop() as string;
  const done = await kf.uploads.get({ upload_id: uploadId });
  const assetId = done.asset_id as string;
  if (opts["no-wait"]) return out({ upload_id: uploadId, asset_id: assetId }, () => `Uploaded: asset ${assetId}`);
  if (!json) process.stderr.write(`Processing asset ${assetId}…\n`);
  const asset = await kf.waitForAsset(assetId, { until: "ready", intervalMs: 1000 });
  const pb = asset.playback_ids[0];
  const url = pb?.urls.hls ?? null;
  out({ upload_id: uploadId, asset_id: assetId, status: asset.status, playback_id: pb?.id ?? null, url }, () =>
    [
      `Ready: asset ${assetId}`,
      url
        ? `Playback: ${url}${pb.policy === "signed" ? "  (signed: append ?token=…, see signPlaybackToken)" : ""}`
        : "",
    ]
      .filter(Boolean)
      .join("\n"),
  );
}

async function assets(sub: string | undefined, id: string | undefined) {
  const kf = client();
  if (sub === "ls" || sub === "list") {
    const limit = opts.limit ? Number(opts.limit) : 20;
    const query = { limit: Math.min(limit, 100), ...(opts.status ? { status: opts.status as ListStatus } : {}) };
    const rows = opts.all ? await kf.assets.list(query).toArray() : (await kf.assets.list(query)).data.slice(0, limit);
    return out(rows, () => table(rows, ["id", "status", "duration", "created_at"]));
  }
  if (sub === "get") {
    const asset = await kf.assets.get({ asset_id: need(id, "asset ID") });
    return out(asset, () => JSON.stringify(asset, null, 2));
  }
  if (sub === "rm" || sub === "delete") {
    const assetId = need(id, "asset ID");
    await kf.assets.delete({ asset_id: assetId });
    return out({ id: assetId, deleted: true }, () => `Deleted ${assetId}.`);
  }
  throw new UsageError(`Unknown: assets ${sub ?? ""}\n\n${USAGE}`);
}

async function eventsTail() {
  const kf = client();
  let after: string | undefined;
  if (!opts["from-start"]) {
    // Start at the newest event: drain the feed without printing it.
    for (;;) {
      const page = await kf.events.list({ limit: 100, ...(after ? { after } : {}) });
      after = page.next_after ?? after;
      if (!page.next_cursor) break;
    }
  }
  let stop = false;
  process.once("SIGINT", () => {
    stop = true;
  });
  while (!stop) {
    const page = await kf.events.list({
      limit: 100,
      ...(after ? { after } : {}),
      ...(opts.type ? { type: opts.type } : {}),
    });
    for (const ev of page.data) {
      console.log(
        json
          ? JSON.stringify(ev)
          : `${ev.created_at}  ${ev.type.padEnd(28)} ${ev.id}  ${JSON.stringify(ev.data).slice(0, 100)}`,
      );
    }
    after = page.next_after ?? after;
    if (opts.once && !page.next_cursor) break;
    if (!page.next_cursor) await sleep(1000);
  }
}

async function webhooksReplay(endpointId: string | undefined) {
  const kf = client();
  const since = need(opts.since, "--since ISO_TIME");
  const res = await kf.webhookEndpoints.replay({ endpoint_id: need(endpointId, "endpoint ID"), since });
  out(res, () => `Replayed ${res.replayed} failed deliveries${res.has_more ? " (more remain: run again)" : ""}.`);
}

async function keysCreate() {
  const kf = client();
  const scopes = need(opts.scopes, "--scopes")
    .split(",")
    .map((s) => s.trim());
  const key = await kf.keys.create({ name: opts.name ?? "cli", scopes: scopes as KeyScopes });
  out(key, () => `Created ${key.id} with scopes ${scopes.join(", ")}.\nSecret (shown once): ${key.secret}`);
}

/** Live streams through the generated client, present only when the API document has them. */
async function live(sub: string | undefined) {
  const kf = client() as unknown as Record<string, Record<string, (a?: object) => PromiseLike<unknown>>>;
  if (!("liveStreams" in OPERATIONS) || !kf.liveStreams) {
    throw new UsageError("This API has no live stream operations (regenerate the SDK after they land).");
  }
  if (sub === "create") {
    const stream = await kf.liveStreams.create(opts.name ? { name: opts.name } : {});
    return out(stream, () => JSON.stringify(stream, null, 2));
  }
  if (sub === "ls" || sub === "list") {
    const page = (await kf.liveStreams.list({ limit: 100 })) as { data: Record<string, unknown>[] };
    return out(page.data, () => table(page.data, ["id", "status", "created_at"]));
  }
  throw new UsageError(`Unknown: live ${sub ?? ""}\n\n${USAGE}`);
}

async function main() {
  const [cmd, sub, arg] = positionals;
  if (opts.help || !cmd) {
    console.log(USAGE);
    return;
  }
  if (cmd === "login") return login();
  if (cmd === "upload") return upload(need(sub, "FILE"));
  if (cmd === "assets") return assets(sub, arg);
  if (cmd === "events" && sub === "tail") return eventsTail();
  if (cmd === "webhooks" && sub === "replay") return webhooksReplay(arg);
  if (cmd === "keys" && sub === "create") return keysCreate();
  if (cmd === "live") return live(sub);
  throw new UsageError(`Unknown command: ${positionals.join(" ")}\n\n${USAGE}`);
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) {
    console.error(`keyframe: ${err.message}`);
    process.exit(2);
  }
  if (err instanceof KeyframeApiError) {
    const hint = err.code === "unauthenticated" ? " Check the key, or run `keyframe login` again." : "";
    if (json)
      console.error(
        JSON.stringify({
          error: { status: err.status, code: err.code, detail: err.detail, request_id: err.request_id },
        }),
      );
    else
      console.error(
        `keyframe: ${err.code} (HTTP ${err.status}): ${err.detail}${hint}${err.request_id ? `\nrequest_id: ${err.request_id}` : ""}`,
      );
    process.exit(1);
  }
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  if (err instanceof TypeError && cause) {
    console.error(
      `keyframe: cannot reach the API (${cause.code ?? cause.message}). Check --base-url or \`keyframe login\`.`,
    );
  } else console.error(`keyframe: ${(err as Error)?.message ?? err}`);
  process.exit(1);
});
