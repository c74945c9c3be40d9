import { KeyframeError } from "../../../lib/errors";
import { serveAssetSource } from "../../../live/recording-source";
import { type JobCall, requireRunning } from "./authorize";

export interface ByteRange {
  offset: number;
  length: number;
}

/** Parses a single `bytes=` range against a known size. undefined = no range; null = unsatisfiable. */
export function parseRange(header: string | undefined | null, size: number): ByteRange | null | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return null;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return null;
    const length = Math.min(suffix, size);
    return { offset: size - length, length };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return null;
  return { offset: start, length: end - start + 1 };
}

export async function readSource(call: JobCall, rangeHeader: string | undefined): Promise<Response> {
  requireRunning(call, "read the source");
  return serveAssetSource(call.ctx.env, call.asset, rangeHeader);
}

/** Streams an asset's source from R2, whole or one byte range (206/416). Shared by job and thumbnail reads. */
export async function serveSource(env: Env, key: string | null, rangeHeader: string | undefined): Promise<Response> {
  const head = key ? await env.MEDIA.head(key) : null;
  if (!key || !head) throw new KeyframeError("not_found", "The asset's source is not in storage.");
  const range = parseRange(rangeHeader, head.size);
  if (range === null) {
    throw new KeyframeError(
      "range_not_satisfiable",
      `The range is not satisfiable; the source is ${head.size} bytes.`,
      [],
      { "content-range": `bytes */${head.size}` },
    );
  }
  const obj = await env.MEDIA.get(key, range ? { range } : {});
  if (!obj) throw new KeyframeError("not_found", "The asset's source is not in storage.");
  const headers = new Headers({
    "content-type": head.httpMetadata?.contentType ?? "application/octet-stream",
    "accept-ranges": "bytes",
    etag: head.httpEtag,
  });
  if (!range) {
    headers.set("content-length", String(head.size));
    return new Response(obj.body, { status: 200, headers });
  }
  headers.set("content-length", String(range.length));
  headers.set("content-range", `bytes ${range.offset}-${range.offset + range.length - 1}/${head.size}`);
  return new Response(obj.body, { status: 206, headers });
}
