/**
 * The edge project's `API` service binding (vitest.config.ts): a stand-in for the API worker's
 * `POST /internal/thumbnails` (and `/internal/animated`), run in Node by Miniflare. It checks the edge's HMAC signature against
 * the wire format documented in src/lib/edge-auth.ts, implemented again here with node:crypto (an
 * independent check of that format, and the config file stays free of project imports), records
 * each call, and answers with a small JPEG, or with the status the test asked for next. The real API + transcoder chain is exercised end to end in
 * test/node/e2e-thumbnails.test.ts.
 *
 *   GET  /__stub/calls   the calls so far (JSON)
 *   POST /__stub/next    {status, code?, retry_after?} for the next call (status 0: cut the connection)
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type http from "node:http";

/** deriveEdgeApiSecret (src/lib/edge-auth.ts): base64url HMAC-SHA256(JOB_TOKEN_SECRET, label). */
export function deriveEdgeApiSecretNode(jobTokenSecret: string): string {
  return createHmac("sha256", jobTokenSecret).update("keyframe:edge-api:v1").digest("base64url");
}

function verify(
  secret: string,
  method: string,
  path: string,
  body: string,
  ts: string | null,
  sig: string | null,
  bodyHash: string | null,
) {
  if (!ts || !sig || !bodyHash) return "signature_missing";
  if (Math.abs(Date.now() / 1000 - Number(ts)) > 60) return "timestamp_skewed";
  if (createHash("sha256").update(body).digest("hex") !== bodyHash) return "body_mismatch";
  const message = `v2\n${ts}\n${method}\n${path}\n${bodyHash}`;
  const expected = `v2=${createHmac("sha256", secret).update(message).digest("base64url")}`;
  const a = Buffer.from(expected);
  const b = Buffer.from(sig);
  return a.length === b.length && timingSafeEqual(a, b) ? null : "signature_invalid";
}

/** SOI, a JFIF-ish marker, EOI: enough to be recognisably a JPEG. */
export const STUB_JPEG = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0x42, 0x42, 0xff, 0xd9]);

/** The GIF signature and a trailer: recognisably a GIF (animated previews, `/internal/animated`). */
export const STUB_GIF = new TextEncoder().encode("GIF89a;");

interface Next {
  /** 0: cut the connection without answering. */
  status: number;
  code?: string;
  retry_after?: string;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

export function thumbnailApiStub(edgeApiSecret: string) {
  const calls: unknown[] = [];
  let next: Next | null = null;
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = new URL(req.url ?? "/", "http://api").pathname;
    const body = await readBody(req);
    if (path === "/__stub/calls") {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify(calls));
    }
    if (path === "/__stub/next") {
      next = JSON.parse(body) as Next;
      return res.writeHead(204).end();
    }
    const animated = path === "/internal/animated";
    if ((path !== "/internal/thumbnails" && !animated) || req.method !== "POST") return res.writeHead(404).end();
    const header = (name: string) => {
      const v = req.headers[name];
      return typeof v === "string" ? v : null;
    };
    const failure = verify(
      edgeApiSecret,
      req.method,
      path,
      body,
      header("x-keyframe-edge-timestamp"),
      header("x-keyframe-edge-signature"),
      header("x-keyframe-edge-content-sha256"),
    );
    if (failure) {
      res.writeHead(401, { "content-type": "application/problem+json" });
      return res.end(JSON.stringify({ status: 401, code: "unauthenticated", detail: failure }));
    }
    const input = JSON.parse(body) as { time: number; format?: string };
    calls.push(animated ? { path, ...input } : input);
    if (next) {
      const n = next;
      next = null;
      if (n.status === 0) {
        req.socket.destroy();
        return;
      }
      res.writeHead(n.status, {
        "content-type": "application/problem+json",
        ...(n.retry_after ? { "retry-after": n.retry_after } : {}),
      });
      return res.end(JSON.stringify({ status: n.status, code: n.code ?? "error", detail: `stub ${n.status}` }));
    }
    if (animated) {
      res.writeHead(200, {
        "content-type": input.format === "webp" ? "image/webp" : "image/gif",
        "content-length": String(STUB_GIF.byteLength),
        "x-keyframe-thumbnail": "rendered",
      });
      return res.end(STUB_GIF);
    }
    res.writeHead(200, {
      "content-type": "image/jpeg",
      "content-length": String(STUB_JPEG.byteLength),
      etag: '"stub-etag"',
      "x-keyframe-thumbnail": "rendered",
      "x-keyframe-thumbnail-time": input.time.toFixed(1),
    });
    res.end(STUB_JPEG);
  };
  const node = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    await handle(req, res);
  };
  return { node };
}
