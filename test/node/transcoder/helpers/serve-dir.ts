/** A static file server over one folder (CORS open), for players that read our outputs straight from disk. */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";

export async function serveDir(root: string): Promise<{ origin: string; close: () => Promise<void> }> {
  const server = http.createServer(async (req, res) => {
    const rel = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname).replace(/^\/+/, "");
    const file = path.join(root, rel);
    const ok = file.startsWith(root) && (await stat(file).catch(() => null))?.isFile();
    const headers = { "access-control-allow-origin": "*" };
    if (!ok) {
      res.writeHead(404, headers).end();
      return;
    }
    const type = file.endsWith(".m3u8") ? "application/vnd.apple.mpegurl" : "video/mp4";
    res.writeHead(200, { ...headers, "content-type": type });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
