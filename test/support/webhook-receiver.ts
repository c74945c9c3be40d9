/**
 * A real HTTP webhook receiver for tests, run in Node (vitest globalSetup). Each path
 * `/hooks/<name>` behaves as configured through the control API and verifies every request it gets
 * with the `standardwebhooks` library against the secrets it was given.
 *
 *   PUT  /_control/<name>            {mode, retry_after?, secrets?}  configure (modes below)
 *   GET  /_control/<name>/requests   every request received on /hooks/<name>
 *
 * Modes: ok (204), fail-half (every other request 500, starting with the first), 500, 429 (with
 * Retry-After), 410, hang (never answers), redirect (302 to /hooks/<name>-target).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

export type ReceiverMode = "ok" | "fail-half" | "500" | "429" | "410" | "hang" | "redirect";

export interface ReceivedRequest {
  at: number;
  method: string;
  headers: Record<string, string>;
  body: string;
  /** secret → whether standardwebhooks verified the request with it. */
  verified: Record<string, boolean>;
  responded: number | null;
}

interface PathState {
  mode: ReceiverMode;
  retryAfter: string;
  secrets: string[];
  count: number;
  requests: ReceivedRequest[];
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

export async function startWebhookReceiver(): Promise<{ url: string; close: () => Promise<void> }> {
  const paths = new Map<string, PathState>();
  const state = (name: string) => {
    let s = paths.get(name);
    if (!s) {
      s = { mode: "ok", retryAfter: "1", secrets: [], count: 0, requests: [] };
      paths.set(name, s);
    }
    return s;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://receiver");
    const body = await readBody(req);
    const control = /^\/_control\/([\w-]+)(\/requests)?$/.exec(url.pathname);
    if (control) {
      const s = state(control[1]);
      if (control[2]) {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(s.requests));
        return;
      }
      const cfg = JSON.parse(body || "{}") as {
        mode?: ReceiverMode;
        retry_after?: string | number;
        secrets?: string[];
      };
      if (cfg.mode) s.mode = cfg.mode;
      if (cfg.retry_after !== undefined) s.retryAfter = String(cfg.retry_after);
      if (cfg.secrets) s.secrets = cfg.secrets;
      res.writeHead(204).end();
      return;
    }
    // A file server for fetch-by-URL tests (text tracks): answers `body` (base64url) with `status` and `type`.
    if (url.pathname === "/_echo") {
      const status = Number(url.searchParams.get("status") ?? "200");
      const location = url.searchParams.get("location");
      res
        .writeHead(status, {
          "content-type": url.searchParams.get("type") ?? "text/plain",
          ...(location ? { location } : {}),
        })
        .end(Buffer.from(url.searchParams.get("body") ?? "", "base64url"));
      return;
    }
    const hook = /^\/hooks\/([\w-]+)$/.exec(url.pathname);
    if (!hook) {
      res.writeHead(404).end("no such path");
      return;
    }
    const s = state(hook[1]);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
    const verified: Record<string, boolean> = {};
    for (const secret of s.secrets) {
      try {
        new Webhook(secret).verify(body, headers);
        verified[secret] = true;
      } catch {
        verified[secret] = false;
      }
    }
    const record: ReceivedRequest = {
      at: Date.now(),
      method: req.method ?? "",
      headers,
      body,
      verified,
      responded: null,
    };
    s.requests.push(record);
    s.count++;
    const answer = (status: number, extra: Record<string, string> = {}, text = "") => {
      record.responded = status;
      res.writeHead(status, extra).end(text);
    };
    switch (s.mode) {
      case "ok":
        return answer(200, { "content-type": "text/plain" }, "thanks");
      case "fail-half":
        return s.count % 2 === 1 ? answer(500, {}, "flaky") : answer(204);
      case "500":
        return answer(500, { "content-type": "text/plain" }, `boom ${"x".repeat(3000)}`);
      case "429":
        return answer(429, { "retry-after": s.retryAfter }, "slow down");
      case "410":
        return answer(410, {}, "gone");
      case "redirect":
        return answer(302, { location: `/hooks/${hook[1]}-target` });
      case "hang":
        return; // never answer; the sender must time out
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
