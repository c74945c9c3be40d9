/**
 * The asset's source, read by a transcoder rendering an on-demand thumbnail. The caller holds a
 * source-read token (job-token.ts) naming exactly this asset; ffmpeg seeks with single byte ranges.
 */
import { eq } from "drizzle-orm";
import { createDb, schema } from "../../db/client";
import { KeyframeError } from "../../lib/errors";
import { verifySourceToken } from "../../lib/job-token";
import { parseRange } from "../jobs/callbacks";

export async function readAssetSource(
  env: Env,
  assetId: string,
  authorization: string | undefined,
  rangeHeader: string | undefined,
): Promise<Response> {
  const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? "")?.[1];
  if (!token) throw new KeyframeError("unauthenticated", "Send the source token as 'Authorization: Bearer …'.");
  const subject = await verifySourceToken(env, token);
  if (!subject) throw new KeyframeError("unauthenticated", "The source token is invalid or expired.");
  if (subject !== assetId) throw new KeyframeError("forbidden", "The source token is for another asset.");
  const asset = await createDb(env.DB).query.assets.findFirst({ where: eq(schema.assets.id, assetId) });
  if (!asset || asset.status === "deleted") throw new KeyframeError("gone", "The asset was deleted.");
  const key = asset.sourceKey;
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
