/**
 * The asset's source, read by a transcoder rendering an on-demand thumbnail. The caller holds a
 * source-read token (job-token.ts) naming exactly this asset; ffmpeg seeks with single byte ranges.
 */
import { eq } from "drizzle-orm";
import { createDb, schema } from "../../db/client";
import { KeyframeError } from "../../lib/errors";
import { verifySourceToken } from "../../lib/job-token";
import { serveAssetSource } from "../../live/recording-source";

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
  return serveAssetSource(env, asset, rangeHeader);
}
