/**
 * tus with a client we did not write: tus-js-client (Node build, and the browser build in headless
 * Chromium, cross-origin) against the real API worker under `wrangler dev` (scripts/lib/stack.ts).
 * Sources are compared byte for byte (sha256) with what R2 holds, read back with `wrangler r2 object get`.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import * as tus from "tus-js-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKeyInD1 } from "../../scripts/lib/keys";
import { freePort } from "../../scripts/lib/proc";
import { type Stack, startStack } from "../../scripts/lib/stack";
import { API_CONFIG, d1Execute, ROOT, run, sqlString, wranglerBin } from "../../scripts/lib/wrangler";
import type { Asset, Upload } from "../support/api-types";
import { chromiumSources, launchChromium } from "./support/browser";
import { sendAgainIfRestarted } from "./support/e2e";
import { makeClip } from "./support/media";

const MiB = 1024 * 1024;
const CHROMIUM_SOURCES = await chromiumSources();
/** The Node build exports FileUrlStorage; the package's type declarations do not list it. */
const { FileUrlStorage } = tus as unknown as { FileUrlStorage: new (file: string) => tus.UrlStorage };

let stack: Stack;
let dir: string;
let apiKey: string;

function bytes(n: number, seed: number): Buffer {
  // Incompressible, reproducible test data.
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i + 4 <= n; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out.writeUInt32LE(x, i);
  }
  return out;
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

async function createUpload(body: Record<string, unknown> = {}): Promise<{ id: string; tus_url: string }> {
  // wrangler dev's own 503 (it restarted the worker under a POST; once in CI here) is sent again.
  const { res, text } = await sendAgainIfRestarted("POST /v1/uploads", () =>
    fetch(`${stack.apiUrl}/v1/uploads`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    }),
  );
  expect(res.status, text).toBe(201);
  return JSON.parse(text) as { id: string; tus_url: string };
}

/** GET an upload or an asset: `T` is the resource expected. */
async function getJson<T extends Upload | Asset = Upload>(p: string): Promise<T> {
  const res = await fetch(`${stack.apiUrl}${p}`, { headers: { authorization: `Bearer ${apiKey}` } });
  return (await res.json()) as T;
}

/** The source object as R2 stores it (local state read through wrangler, not through our code). */
async function r2Source(uploadId: string): Promise<Buffer> {
  const out = path.join(dir, `${uploadId}.bin`);
  const res = await run(
    wranglerBin(),
    [
      "r2",
      "object",
      "get",
      `keyframe-media/sources/${uploadId}/source`,
      "--local",
      "--persist-to",
      dir,
      "-c",
      API_CONFIG,
      "--file",
      out,
    ],
    { cwd: ROOT, env: { CI: "true", WRANGLER_SEND_METRICS: "false" } as unknown as NodeJS.ProcessEnv },
  );
  if (res.code !== 0) throw new Error(`r2 object get failed: ${res.stdout}\n${res.stderr}`);
  return readFileSync(out);
}

function upload(data: Buffer, options: Partial<tus.UploadOptions>): Promise<tus.Upload> {
  return new Promise((resolve, reject) => {
    const u = new tus.Upload(data, {
      retryDelays: [0, 200, 500],
      ...options,
      onSuccess: () => resolve(u),
      onError: reject,
    });
    u.start();
  });
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "keyframe-tus-"));
  const [apiPort, edgePort, transcoderPort] = [await freePort(), await freePort(), await freePort()];
  stack = await startStack({
    apiPort,
    edgePort,
    transcoderPort,
    persistTo: dir,
    quiet: true,
    cron: false,
    vars: { ALLOW_PRIVATE_INGEST_URLS: "true" },
  });
  apiKey = (await createKeyInD1({ persistTo: dir, scopes: ["*"], newEnvironment: "tus" })).secret;
});

afterAll(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("tus-js-client against the local stack", () => {
  it("uploads with a chunk size that is not a multiple of the part size, byte-identical", async () => {
    const data = bytes(19 * MiB + 4321, 1);
    const up = await createUpload();
    const progress: number[] = [];
    const u = await upload(data, {
      endpoint: up.tus_url,
      chunkSize: 5 * MiB + 3,
      metadata: { filename: "a.mp4", filetype: "video/mp4" },
      onProgress: (sent) => progress.push(sent),
    });
    expect(u.url).toBe(up.tus_url);
    expect(progress.at(-1)).toBe(data.length);
    const row = await getJson(`/v1/uploads/${up.id}`);
    expect(row).toMatchObject({ status: "completed", size: data.length, bytes_received: data.length });
    expect(sha256(await r2Source(up.id))).toBe(sha256(data));
  });

  it("resumes after an abort from FileUrlStorage, byte-identical", async () => {
    const data = bytes(14 * MiB + 77, 2);
    const up = await createUpload();
    const storage = new FileUrlStorage(path.join(dir, "tus-urls.json"));
    const common = {
      endpoint: up.tus_url,
      chunkSize: 3 * MiB + 1,
      urlStorage: storage,
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      retryDelays: [0, 200, 500],
    };
    // First session: stop part-way through (like a page reload), mid-request.
    const first = new tus.Upload(data, { ...common });
    await new Promise<void>((resolve, reject) => {
      first.options.onProgress = (sent) => {
        if (sent >= 7 * MiB) {
          first.abort().then(() => resolve(), reject);
          first.options.onProgress = null;
        }
      };
      first.options.onError = reject;
      first.options.onSuccess = () => reject(new Error("should not have finished"));
      first.start();
    });
    const head = await fetch(first.url as string, { method: "HEAD", headers: { "Tus-Resumable": "1.0.0" } });
    const kept = Number(head.headers.get("upload-offset"));
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(data.length);

    // Second session: a fresh Upload finds the stored URL and continues from the server's offset.
    const second = new tus.Upload(data, { ...common });
    const previous = await second.findPreviousUploads();
    expect(previous).toHaveLength(1);
    expect(previous[0].uploadUrl).toBe(up.tus_url);
    second.resumeFromPreviousUpload(previous[0]);
    const offsets: number[] = [];
    await new Promise<void>((resolve, reject) => {
      second.options.onProgress = (sent) => offsets.push(sent);
      second.options.onSuccess = () => resolve();
      second.options.onError = reject;
      second.start();
    });
    expect(Math.min(...offsets)).toBeGreaterThanOrEqual(kept);
    // tus-js-client removes the stored URL on success without waiting for it; give it a moment.
    for (let i = 0; i < 20 && (await storage.findAllUploads()).length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await storage.findAllUploads()).toHaveLength(0);
    expect(sha256(await r2Source(up.id))).toBe(sha256(data));
  });

  it("deferred length and creation-with-upload", async () => {
    const data = bytes(9 * MiB + 5, 3);
    const deferred = await createUpload();
    await upload(data, { endpoint: deferred.tus_url, chunkSize: 4 * MiB, uploadLengthDeferred: true });
    expect(await getJson(`/v1/uploads/${deferred.id}`)).toMatchObject({ status: "completed", size: data.length });
    expect(sha256(await r2Source(deferred.id))).toBe(sha256(data));

    const small = bytes(2 * MiB + 9, 4);
    const withData = await createUpload();
    await upload(small, { endpoint: withData.tus_url, chunkSize: MiB + 1, uploadDataDuringCreation: true });
    expect(sha256(await r2Source(withData.id))).toBe(sha256(small));
  });

  it("terminates with abort(true)", async () => {
    const data = bytes(6 * MiB, 5);
    const up = await createUpload();
    const u = new tus.Upload(data, { endpoint: up.tus_url, chunkSize: 2 * MiB, retryDelays: [] });
    await new Promise<void>((resolve, reject) => {
      u.options.onProgress = (sent) => {
        if (sent >= 2 * MiB) {
          u.options.onProgress = null;
          u.abort(true).then(() => resolve(), reject);
        }
      };
      u.options.onError = reject;
      u.start();
    });
    expect((await getJson(`/v1/uploads/${up.id}`)).status).toBe("cancelled");
    const head = await fetch(up.tus_url, { method: "HEAD", headers: { "Tus-Resumable": "1.0.0" } });
    expect(head.status).toBe(410);
  });

  it("refuses to continue after expiry (410) and the sweep marks the upload expired", async () => {
    const data = bytes(4 * MiB, 6);
    const up = await createUpload({ expires_in: 60 });
    const first = new tus.Upload(data, { endpoint: up.tus_url, chunkSize: MiB, retryDelays: [] });
    await new Promise<void>((resolve, reject) => {
      first.options.onChunkComplete = (_c, accepted) => {
        if (accepted >= MiB) {
          first.options.onChunkComplete = null;
          first.abort().then(() => resolve(), reject);
        }
      };
      first.options.onError = reject;
      first.start();
    });
    await d1Execute(
      { persistTo: dir },
      `update uploads set expires_at = ${sqlString(new Date(Date.now() - 1000).toISOString())} where id = ${sqlString(up.id)}`,
    );
    const err = await upload(data, { uploadUrl: up.tus_url, chunkSize: MiB, retryDelays: [] }).then(
      () => null,
      (e: tus.DetailedError) => e,
    );
    expect(err?.originalResponse?.getStatus()).toBe(410);
    const sweep = await fetch(`${stack.apiUrl}/cdn-cgi/handler/scheduled?cron=*+*+*+*+*`);
    await sweep.arrayBuffer();
    for (let i = 0; i < 20 && (await getJson(`/v1/uploads/${up.id}`)).status !== "expired"; i++) {
      await new Promise((r) => setTimeout(r, 250));
    }
    expect((await getJson(`/v1/uploads/${up.id}`)).status).toBe("expired");
  });

  it("a real clip uploaded over tus goes through the pipeline to ready", async () => {
    const clip = await makeClip(path.join(dir, "clip.mp4"), { seconds: 3, width: 320, height: 240 });
    const data = readFileSync(clip);
    const up = await createUpload({ new_asset_settings: { playback_policy: "public" } });
    await upload(data, { endpoint: up.tus_url, chunkSize: 256 * 1024 + 7, metadata: { filetype: "video/mp4" } });
    const assetId = (await getJson(`/v1/uploads/${up.id}`)).asset_id as string;
    expect(assetId).toMatch(/^as_/);
    let asset: Partial<Asset> = {};
    for (let i = 0; i < 120; i++) {
      asset = await getJson<Asset>(`/v1/assets/${assetId}`);
      if (asset.status === "ready" || asset.status === "errored") break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(asset.status, JSON.stringify(asset.error)).toBe("ready");
  });

  // Once per Chromium build here (system and npm in CI), so both launch paths stay green in one run.
  it.each(CHROMIUM_SOURCES)(
    "uploads cross-origin from headless Chromium (%s) with the browser build",
    async (source) => {
      const pagePort = await freePort();
      const origin = `http://127.0.0.1:${pagePort}`;
      const up = await createUpload({ cors_origin: origin });
      const tusJs = readFileSync(path.join(ROOT, "node_modules/tus-js-client/dist/tus.min.js"));
      const server = http.createServer((req, res) => {
        if (req.url === "/tus.min.js") {
          res.writeHead(200, { "content-type": "text/javascript" });
          res.end(tusJs);
          return;
        }
        res.writeHead(200, { "content-type": "text/html" });
        res.end('<!doctype html><script src="/tus.min.js"></script><p>tus test</p>');
      });
      await new Promise<void>((r) => server.listen(pagePort, "127.0.0.1", r));
      const browser = await launchChromium(source);
      try {
        const page = await browser.newPage();
        await page.goto(`${origin}/`);
        const size = 3 * MiB + 11;
        const result = await page.evaluate(
          async ({ endpoint, size }) => {
            const buf = new Uint8Array(size);
            for (let i = 0; i < size; i++) buf[i] = (i * 31 + 7) & 0xff;
            const digest = await crypto.subtle.digest("SHA-256", buf);
            const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
            const tusLib = (globalThis as unknown as { tus: typeof tus }).tus;
            const url = await new Promise<string>((resolve, reject) => {
              const u = new tusLib.Upload(new Blob([buf], { type: "video/mp4" }), {
                endpoint,
                chunkSize: 1024 * 1024 + 3,
                retryDelays: [0, 500],
                metadata: { filename: "blob.mp4", filetype: "video/mp4" },
                onSuccess: () => resolve(u.url ?? ""),
                onError: (e: Error) => reject(String(e)),
              });
              u.start();
            });
            return { url, hex };
          },
          { endpoint: up.tus_url, size },
        );
        expect(result.url).toBe(up.tus_url);
        expect(sha256(await r2Source(up.id))).toBe(result.hex);
        expect((await getJson(`/v1/uploads/${up.id}`)).status).toBe("completed");
      } finally {
        await browser.close();
        server.close();
      }
    },
  );
});
