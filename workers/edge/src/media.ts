/**
 * Serving R2 objects under a run prefix: content types, byte ranges (206/416), conditional GETs.
 * Objects under `assets/{asset}/runs/{run}/` are immutable (a new run gets a new prefix), so their size
 * and ETag are remembered per isolate and Range requests need only one R2 read.
 */
import { contentTypeFor } from "../../../src/lib/media-types";

export { contentTypeFor };

export function runKey(assetId: string, runId: string, path: string): string {
  return `assets/${assetId}/runs/${runId}/${path}`;
}

export type ByteRange = { offset: number; length: number };

/**
 * Parses a single `bytes=` range against a known size. null: no (usable) Range header — serve the whole
 * object (multi-range and malformed headers are ignored, as RFC 9110 allows). "unsatisfiable": 416.
 */
export function parseRange(header: string | null, size: number): ByteRange | "unsatisfiable" | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return null;
  const [, a, b] = m;
  if (a === "" && b === "") return null;
  if (a === "") {
    const suffix = Number(b);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    const length = Math.min(suffix, size);
    return { offset: size - length, length };
  }
  // last < first makes the range invalid (RFC 9110 §14.1.1): ignored like any malformed header, whatever the
  // size (compared as BigInt: digits of any length, no rounding). Found by the edge fuzz: `bytes=2000-1` was a 416.
  if (b !== "" && BigInt(b) < BigInt(a)) return null;
  const start = Number(a);
  if (start >= size) return "unsatisfiable";
  const end = b === "" ? size - 1 : Math.min(Number(b), size - 1);
  return { offset: start, length: end - start + 1 };
}

interface Meta {
  size: number;
  httpEtag: string;
}
const metaCache = new Map<string, Meta>();
const MAX_META = 20_000;

function remember(key: string, meta: Meta) {
  if (metaCache.size >= MAX_META) {
    const oldest = metaCache.keys().next().value;
    if (oldest !== undefined) metaCache.delete(oldest);
  }
  metaCache.set(key, meta);
}

export interface ServeOptions {
  cacheControl: string;
  headers: Record<string, string>;
  /**
   * The colo cache for whole-object GETs of immutable files. Keyed by the R2 key alone — never by
   * playback ID or token — so every viewer of a segment shares one cached copy.
   */
  sharedCache?: { cache: Cache; waitUntil: (p: Promise<unknown>) => void };
}

const CACHE_ORIGIN = "https://keyframe-edge-cache.internal/";

/** Streams an R2 object (or a range of it). Returns null when the object does not exist. */
export async function serveObject(
  bucket: R2Bucket,
  key: string,
  req: Request,
  opts: ServeOptions,
): Promise<Response | null> {
  const rangeHeader = req.headers.get("range");
  const base: Record<string, string> = {
    "Content-Type": contentTypeFor(key),
    "Cache-Control": opts.cacheControl,
    "Accept-Ranges": "bytes",
    ...opts.headers,
  };

  let meta = metaCache.get(key);
  if ((rangeHeader || req.method === "HEAD") && !meta) {
    const head = await bucket.head(key);
    if (!head) return null;
    meta = { size: head.size, httpEtag: head.httpEtag };
    remember(key, meta);
  }

  const inm = req.headers.get("if-none-match");
  if (meta && inm && inm === meta.httpEtag) {
    return new Response(null, { status: 304, headers: { ...base, ETag: meta.httpEtag } });
  }

  const parsed = meta ? parseRange(rangeHeader, meta.size) : null;
  if (parsed === "unsatisfiable" && meta) {
    return new Response(null, {
      status: 416,
      headers: { ...base, "Content-Range": `bytes */${meta.size}`, "Content-Length": "0" },
    });
  }

  const range = parsed === "unsatisfiable" ? null : parsed;
  if (req.method === "HEAD" && meta) {
    const length = range ? range.length : meta.size;
    const extra: Record<string, string> = range
      ? { "Content-Range": `bytes ${range.offset}-${range.offset + range.length - 1}/${meta.size}` }
      : {};
    return new Response(null, {
      status: range ? 206 : 200,
      headers: { ...base, ...extra, ETag: meta.httpEtag, "Content-Length": String(length) },
    });
  }

  const shared = opts.sharedCache && req.method === "GET" && !range ? opts.sharedCache : null;
  const cacheKey = shared ? new Request(`${CACHE_ORIGIN}${key}`) : null;
  if (shared && cacheKey) {
    const hit = await shared.cache.match(cacheKey).catch(() => undefined);
    if (hit?.body) {
      const h: Record<string, string> = { ...base, "X-Keyframe-Cache": "HIT" };
      for (const name of ["content-length", "etag"]) {
        const v = hit.headers.get(name);
        if (v) h[name === "etag" ? "ETag" : "Content-Length"] = v;
      }
      return new Response(hit.body, { status: 200, headers: h });
    }
  }

  const obj = await bucket.get(key, range ? { range } : undefined);
  if (!obj) return null;
  if (!meta) remember(key, { size: obj.size, httpEtag: obj.httpEtag });
  const headers = { ...base, ETag: obj.httpEtag };
  if (shared && cacheKey) {
    const [mine, theirs] = obj.body.tee();
    shared.waitUntil(
      shared.cache
        .put(
          cacheKey,
          new Response(theirs, {
            headers: {
              "Content-Type": base["Content-Type"],
              "Content-Length": String(obj.size),
              ETag: obj.httpEtag,
              "Cache-Control": "public, max-age=31536000, immutable",
            },
          }),
        )
        .catch(() => undefined),
    );
    return new Response(mine, {
      status: 200,
      headers: { ...headers, "Content-Length": String(obj.size), "X-Keyframe-Cache": "MISS" },
    });
  }
  if (range) {
    return new Response(obj.body, {
      status: 206,
      headers: {
        ...headers,
        "Content-Range": `bytes ${range.offset}-${range.offset + range.length - 1}/${obj.size}`,
        "Content-Length": String(range.length),
      },
    });
  }
  return new Response(obj.body, {
    status: 200,
    headers: { ...headers, "Content-Length": String(obj.size) },
  });
}

export function clearMetaCache() {
  metaCache.clear();
}
