/**
 * The API's part of the remote ladder chunks (src/lib/ladder-chunk-protocol.ts), in memory, for the node test
 * and the bench: the job's source with single Range requests (counting the bytes each request actually
 * sent), outputs PUT and read back, and the chunk route forwarding a signed request to a real transcoder.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { LADDER_CHUNK_PATH, type LadderChunkDispatch } from "../../../src/lib/ladder-chunk-protocol.js";
import { signedFetch } from "../transcoder/helpers/signed.js";

export const FAKE_JOB = "job_remote_chunks";
export const FAKE_TOKEN = "test-job-token-0123456789abcdef";
const JOB = FAKE_JOB;
const TOKEN = FAKE_TOKEN;

export interface SourceRead {
  range: string | null;
  bytes: number;
}

/** The API's part, in memory: what the transcoder may call with the job token. */
export class FakeChunkApi {
  server = http.createServer((req, res) => void this.handle(req, res));
  url = "";
  transcoderUrl = "";
  outputs = new Map<string, Buffer>();
  puts = new Map<string, number>();
  reads: SourceRead[] = [];
  chunkCalls: number[] = [];
  /** Answers for the next chunk requests, by chunk index, before forwarding (fault injection). */
  faults = new Map<number, { status: number; body: string }[]>();

  constructor(readonly source: string) {}

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.url);
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return end(res, 401, "bad token");
    const base = `/internal/jobs/${JOB}/`;
    if (!url.pathname.startsWith(base)) return end(res, 404, "no route");
    const rest = url.pathname.slice(base.length);
    if (req.method === "GET" && rest === "source") return this.serveSource(req, res);
    const out = /^outputs\/(.+)$/.exec(rest);
    if (out?.[1] && req.method === "PUT") {
      const body = await readAll(req);
      this.outputs.set(out[1], body);
      this.puts.set(out[1], (this.puts.get(out[1]) ?? 0) + 1);
      return end(res, 201, "{}");
    }
    if (out?.[1] && req.method === "GET") {
      const body = this.outputs.get(out[1]);
      if (!body) return end(res, 404, "no such output");
      res.writeHead(200, { "content-length": String(body.length) });
      return void res.end(body);
    }
    const chunk = /^ladder-chunks\/(\d+)$/.exec(rest);
    if (chunk && req.method === "POST") {
      const index = Number(chunk[1]);
      this.chunkCalls.push(index);
      const body = JSON.parse((await readAll(req)).toString("utf8"));
      const fault = this.faults.get(index)?.shift();
      if (fault) return end(res, fault.status, fault.body);
      const payload: LadderChunkDispatch = { ...body, job_id: JOB, api_url: this.url, token: TOKEN };
      const forward = new AbortController();
      res.on("close", () => {
        if (!res.writableFinished) forward.abort();
      });
      try {
        const answer = await signedFetch(this.transcoderUrl, LADDER_CHUNK_PATH, {
          body: JSON.stringify(payload),
          signal: forward.signal,
        });
        const text = await answer.text();
        res.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "application/json" });
        return void res.end(text);
      } catch {
        return void res.destroy();
      }
    }
    return end(res, 404, "no route");
  }

  private async serveSource(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const size = (await stat(this.source)).size;
    const header = req.headers.range ?? null;
    const m = header ? /^bytes=(\d+)-(\d*)$/.exec(header) : null;
    const start = m ? Number(m[1]) : 0;
    const last = m?.[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
    const read: SourceRead = { range: header, bytes: 0 };
    this.reads.push(read);
    res.writeHead(m ? 206 : 200, {
      "accept-ranges": "bytes",
      "content-length": String(last - start + 1),
      ...(m ? { "content-range": `bytes ${start}-${last}/${size}` } : {}),
    });
    const stream = createReadStream(this.source, { start, end: last });
    // What actually left this server: ffmpeg closes the connection when it seeks or stops.
    stream.on("data", (b) => {
      read.bytes += b.length;
    });
    res.on("close", () => stream.destroy());
    stream.pipe(res);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function end(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "content-type": status >= 400 ? "application/problem+json" : "application/json" });
  res.end(body);
}

async function readAll(req: http.IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of req) parts.push(p as Buffer);
  return Buffer.concat(parts);
}
