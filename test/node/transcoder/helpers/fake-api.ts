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
  type JobFailure,
  JobFailureSchema,
  type JobProgress,
  JobProgressSchema,
  type JobPublish,
  JobPublishSchema,
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
  /** Answer the first N output PUTs with 503. */
  failFirstPuts?: number;
  /** Hold the source response this long before sending anything. */
  sourceDelayMs?: number;
  /** Answer every source request with this status instead. */
  sourceStatus?: number;
  /** Answer every output PUT with this status instead (e.g. 410 once the asset is deleted). */
  putStatus?: number;
  /** Answer PUTs of these paths with this status (e.g. 413 for an oversized download). */
  putStatusFor?: { paths: string[]; status: number };
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
  };
  let sourceResponses = 0;
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
        if (range) {
          const m = /^bytes=(\d+)-$/.exec(range);
          if (!m) return send(416, {});
          start = Number(m[1]);
          if (start >= size) {
            res.writeHead(416, { "content-range": `bytes */${size}` });
            return res.end();
          }
          res.writeHead(206, {
            "content-type": "application/octet-stream",
            "content-length": String(size - start),
            "content-range": `bytes ${start}-${size - 1}/${size}`,
          });
        } else {
          res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(size) });
        }
        const first = sourceResponses++ === 0;
        const stream = createReadStream(options.sourceFile, { start });
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
          const cancel = options.cancelFromProgress !== undefined && api.progress.length >= options.cancelFromProgress;
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
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
