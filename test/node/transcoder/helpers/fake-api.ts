/**
 * A stand-in for the API's five internal job endpoints, over a temp dir, for runner tests. It
 * validates every body against the protocol schemas and records what it saw. The real API is
 * tested end to end elsewhere.
 */
import { createReadStream } from "node:fs";
import { mkdir, stat, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import {
  type JobDispatch,
  type JobFailure,
  JobFailureSchema,
  type JobProgress,
  JobProgressSchema,
  type JobPublish,
  JobPublishSchema,
  MultipartCompleteSchema,
  MultipartCreateSchema,
  OUTPUT_PATH_RE,
} from "../../../../src/lib/transcoder-protocol.js";

export interface FakeApiOptions {
  jobId: string;
  token: string;
  sourceFile: string;
  outputDir: string;
  /** Cut the connection after this many bytes of the first source response. */
  dropSourceAfterBytes?: number;
  /** Reply `cancel: true` from the Nth progress report on. */
  cancelFromProgress?: number;
  /**
   * An open-ended source request (`bytes=N-`, the streamed download) gets the file only up to this offset, then
   * nothing more, the connection held open: the fast path's remux is left waiting on the growing source.
   */
  stallSourceAt?: number;
  /** Reply `cancel: true` to progress reports once the stalled source has been held this long. */
  cancelAfterStallMs?: number;
  /** Answer the first N output PUTs with 503. */
  failFirstPuts?: number;
  /** Hold the source response this long before sending anything. */
  sourceDelayMs?: number;
  /** Answer every source request with this status instead. */
  sourceStatus?: number;
  /** Answer only open ranges (`bytes=N-`), 416 for `bytes=N-M`: a source server the streaming ingest cannot use. */
  openRangesOnly?: boolean;
  /** Answer every output PUT with this status instead (e.g. 410 once the asset is deleted). */
  putStatus?: number;
  /** Answer PUTs of these paths with this status (e.g. 413 for an oversized download). */
  putStatusFor?: { paths: string[]; status: number };
  /** Part size the fake's multipart uploads use (the real API's minimum is 5 MiB). Default 64 KiB. */
  multipartPartBytes?: number;
  /** Answer the first `times` PUTs of part `part` of multipart uploads of `path` with `status` (default 503). */
  failPart?: { path: string; part: number; times: number; status?: number };
}

export interface FakeMultipart {
  path: string;
  size: number;
  partSize: number;
  /** Every part request that was accepted, in arrival order. */
  parts: { part: number; size: number }[];
  /** Part requests answered with an injected failure. */
  refusedParts: number[];
  state: "open" | "completed" | "aborted";
}

export interface FakeApi {
  url: string;
  progress: JobProgress[];
  publishes: JobPublish[];
  failures: JobFailure[];
  /** Output paths in the order their PUT completed. */
  outputs: string[];
  sourceRequests: { range?: string }[];
  /** Everything in arrival order: "progress", "put:<path>", "publish:<phase>", "fail". */
  events: string[];
  /** Contract violations seen (bad auth, bad bodies, bad paths). Should stay empty. */
  violations: string[];
  /** Multipart uploads by upload_id. */
  multipart: Map<string, FakeMultipart>;
  /** Most part requests seen in flight at once. */
  maxPartsInFlight: number;
  close(): Promise<void>;
}

async function body(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function startFakeApi(options: FakeApiOptions): Promise<FakeApi> {
  const api: Omit<FakeApi, "url" | "close"> = {
    progress: [],
    publishes: [],
    failures: [],
    outputs: [],
    sourceRequests: [],
    events: [],
    violations: [],
    multipart: new Map(),
    maxPartsInFlight: 0,
  };
  let partsInFlight = 0;
  const partData = new Map<string, Map<number, Buffer>>();
  let uploads = 0;
  let sourceResponses = 0;
  /** When a stalled source response (stallSourceAt) sent its last byte. */
  let stalledAt: number | undefined;
  let puts = 0;
  const prefix = `/internal/jobs/${options.jobId}/`;

  const server = http.createServer(async (req, res) => {
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(payload));
    };
    try {
      if (req.headers.authorization !== `Bearer ${options.token}`) {
        api.violations.push(`bad auth on ${req.method} ${req.url}`);
        return send(401, { code: "unauthenticated" });
      }
      const url = new URL(req.url ?? "/", "http://fake");
      if (!url.pathname.startsWith(prefix)) return send(404, { code: "not_found" });
      const rest = url.pathname.slice(prefix.length);

      if (req.method === "GET" && rest === "source") {
        if (options.sourceStatus) return send(options.sourceStatus, { code: "internal_error" });
        if (options.sourceDelayMs) await new Promise((r) => setTimeout(r, options.sourceDelayMs));
        const { size } = await stat(options.sourceFile);
        const range = req.headers.range;
        api.sourceRequests.push({ range });
        let start = 0;
        let end = size - 1;
        if (range) {
          // As the API (R2) answers: `bytes=N-` and `bytes=N-M` (the streaming ingest reads the head that way).
          const m = /^bytes=(\d+)-(\d*)$/.exec(range);
          if (!m) return send(416, {});
          start = Number(m[1]);
          if (m[2] !== "" && options.openRangesOnly) return send(416, {});
          if (m[2] !== "") end = Math.min(Number(m[2]), size - 1);
          if (start >= size || end < start) {
            res.writeHead(416, { "content-range": `bytes */${size}` });
            return res.end();
          }
          res.writeHead(206, {
            "content-type": "application/octet-stream",
            "content-length": String(end - start + 1),
            "content-range": `bytes ${start}-${end}/${size}`,
          });
        } else {
          res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(size) });
        }
        const first = sourceResponses++ === 0;
        const stall = options.stallSourceAt;
        if (stall !== undefined && range && /-$/.test(range) && start < stall && end >= stall) {
          const held = createReadStream(options.sourceFile, { start, end: stall - 1 });
          held.pipe(res, { end: false });
          held.on("end", () => (stalledAt = Date.now()));
          return;
        }
        const stream = createReadStream(options.sourceFile, { start, end });
        if (first && options.dropSourceAfterBytes !== undefined) {
          let sent = 0;
          stream.on("data", (chunk) => {
            const buf = chunk as Buffer;
            const room = options.dropSourceAfterBytes! - sent;
            if (room <= 0) return;
            const part = buf.subarray(0, room);
            sent += part.length;
            res.write(part);
            if (sent >= options.dropSourceAfterBytes!) {
              stream.destroy();
              // Let the bytes flush, then kill the socket mid-body.
              setTimeout(() => res.socket?.destroy(), 20);
            }
          });
          return;
        }
        stream.pipe(res);
        return;
      }

      if (rest.startsWith("outputs-multipart/")) {
        const rawPath = decodeURIComponent(rest.slice("outputs-multipart/".length));
        const completing = req.method === "POST" && rawPath.endsWith("/complete");
        const rel = completing ? rawPath.slice(0, -"/complete".length) : rawPath;
        if (!OUTPUT_PATH_RE.test(rel)) {
          api.violations.push(`bad multipart path ${rel}`);
          return send(400, { code: "validation_failed" });
        }
        if (req.method === "POST" && !completing) {
          const parsed = MultipartCreateSchema.safeParse(JSON.parse((await body(req)).toString("utf8")));
          if (!parsed.success) {
            api.violations.push(`multipart create: ${parsed.error.message}`);
            return send(400, {});
          }
          const partSize = options.multipartPartBytes ?? 64 * 1024;
          const id = `mp${++uploads}`;
          api.multipart.set(id, {
            path: rel,
            size: parsed.data.size,
            partSize,
            parts: [],
            refusedParts: [],
            state: "open",
          });
          partData.set(id, new Map());
          api.events.push(`multipart-create:${rel}`);
          const part_count = Math.ceil(parsed.data.size / partSize);
          return send(201, { upload_id: id, key: `run/${rel}`, part_size: partSize, part_count });
        }
        const id = completing ? undefined : (url.searchParams.get("upload_id") ?? undefined);
        if (req.method === "PUT" || req.method === "DELETE") {
          const up = id ? api.multipart.get(id) : undefined;
          if (!up || up.path !== rel || up.state !== "open") {
            await body(req);
            api.violations.push(`${req.method} of unknown multipart upload ${id}`);
            return send(404, { code: "not_found" });
          }
          if (req.method === "DELETE") {
            up.state = "aborted";
            partData.delete(id as string);
            api.events.push(`multipart-abort:${rel}`);
            res.writeHead(204);
            return res.end();
          }
          const part = Number(url.searchParams.get("part"));
          partsInFlight++;
          api.maxPartsInFlight = Math.max(api.maxPartsInFlight, partsInFlight);
          // Hold each part a moment so concurrent ones overlap visibly.
          const data = await body(req);
          await new Promise((r) => setTimeout(r, 10));
          partsInFlight--;
          const count = Math.ceil(up.size / up.partSize);
          const expected = Math.min(up.partSize, up.size - (part - 1) * up.partSize);
          if (!Number.isInteger(part) || part < 1 || part > count || data.length !== expected) {
            api.violations.push(`part ${part}: ${data.length} bytes, expected ${expected} of ${count} parts`);
            return send(400, { code: "validation_failed" });
          }
          if (Number(req.headers["content-length"]) !== data.length) {
            api.violations.push(`part ${part}: content-length ${req.headers["content-length"]} vs ${data.length}`);
            return send(400, { code: "validation_failed" });
          }
          const refuse = options.failPart;
          if (refuse && refuse.path === rel && refuse.part === part && up.refusedParts.length < refuse.times) {
            up.refusedParts.push(part);
            return send(refuse.status ?? 503, { code: "service_unavailable" });
          }
          partData.get(id as string)?.set(part, data);
          up.parts.push({ part, size: data.length });
          return send(200, { part, etag: `etag-${part}-${data.length}`, size: data.length });
        }
        if (completing) {
          const parsed = MultipartCompleteSchema.safeParse(JSON.parse((await body(req)).toString("utf8")));
          if (!parsed.success) {
            api.violations.push(`multipart complete: ${parsed.error.message}`);
            return send(400, {});
          }
          const up = api.multipart.get(parsed.data.upload_id);
          const stored = partData.get(parsed.data.upload_id);
          if (!up || !stored || up.state !== "open") return send(404, { code: "not_found" });
          const count = Math.ceil(up.size / up.partSize);
          const listed = parsed.data.parts.map((p) => p.part);
          if (listed.join(",") !== Array.from({ length: count }, (_, i) => i + 1).join(",")) {
            api.violations.push(`complete lists parts ${listed.join(",")} of ${count}`);
            return send(400, { code: "validation_failed" });
          }
          const joined = Buffer.concat(listed.map((n) => stored.get(n) ?? Buffer.alloc(0)));
          const dest = path.join(options.outputDir, rel);
          await mkdir(path.dirname(dest), { recursive: true });
          await writeFile(dest, joined);
          up.state = "completed";
          api.outputs.push(rel);
          api.events.push(`put:${rel}`);
          return send(201, { key: `run/${rel}`, size: joined.length, content_type: "video/mp4" });
        }
      }

      if (req.method === "PUT" && rest.startsWith("outputs/")) {
        const rel = decodeURIComponent(rest.slice("outputs/".length));
        const data = await body(req);
        if (!OUTPUT_PATH_RE.test(rel)) {
          api.violations.push(`bad output path ${rel}`);
          return send(400, { code: "validation_failed" });
        }
        const declared = Number(req.headers["content-length"]);
        if (!Number.isFinite(declared) || declared !== data.length) {
          api.violations.push(`content-length ${req.headers["content-length"]} vs ${data.length} for ${rel}`);
          return send(411, { code: "bad_request" });
        }
        if (options.putStatus) return send(options.putStatus, { code: "gone" });
        if (options.putStatusFor?.paths.includes(rel)) return send(options.putStatusFor.status, { code: "refused" });
        if (puts++ < (options.failFirstPuts ?? 0)) return send(503, { code: "service_unavailable" });
        const dest = path.join(options.outputDir, rel);
        await mkdir(path.dirname(dest), { recursive: true });
        await writeFile(dest, data);
        api.outputs.push(rel);
        api.events.push(`put:${rel}`);
        return send(200, { ok: true });
      }

      if (req.method === "POST" && (rest === "progress" || rest === "publish" || rest === "fail")) {
        const json = JSON.parse((await body(req)).toString("utf8"));
        if (rest === "progress") {
          const parsed = JobProgressSchema.safeParse(json);
          if (!parsed.success) {
            api.violations.push(`progress: ${parsed.error.message}`);
            return send(400, {});
          }
          api.progress.push(parsed.data);
          api.events.push("progress");
          const cancel =
            (options.cancelFromProgress !== undefined && api.progress.length >= options.cancelFromProgress) ||
            (options.cancelAfterStallMs !== undefined &&
              stalledAt !== undefined &&
              Date.now() - stalledAt >= options.cancelAfterStallMs);
          return send(200, { cancel });
        }
        if (rest === "publish") {
          const parsed = JobPublishSchema.safeParse(json);
          if (!parsed.success) {
            api.violations.push(`publish: ${parsed.error.message}`);
            return send(400, {});
          }
          api.publishes.push(parsed.data);
          api.events.push(`publish:${parsed.data.phase}`);
          return send(200, { ok: true });
        }
        const parsed = JobFailureSchema.safeParse(json);
        if (!parsed.success) {
          api.violations.push(`fail: ${parsed.error.message}`);
          return send(400, {});
        }
        api.failures.push(parsed.data);
        api.events.push("fail");
        return send(200, { ok: true });
      }
      return send(404, { code: "not_found" });
    } catch (err) {
      api.violations.push(`server error: ${(err as Error).message}`);
      if (!res.headersSent) send(500, {});
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    ...api,
    // A number does not survive the spread: read it live.
    get maxPartsInFlight() {
      return api.maxPartsInFlight;
    },
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A dispatch for `runJob` against a fake API that asks for the MP4 download (mp4_support standard). */
export function downloadDispatch(jobId: string, apiUrl: string, token: string, sourceSize: number): JobDispatch {
  return {
    job_id: jobId,
    asset_id: "as_test",
    attempt: 1,
    settings: { max_resolution: "1080p", fast_path: true, source_size_bytes: sourceSize, mp4_support: "standard" },
    api_url: apiUrl,
    token,
  };
}
