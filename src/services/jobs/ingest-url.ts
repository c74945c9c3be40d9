/**
 * URL ingest (`{kind: "ingest_url"}` on transcode-jobs): fetch the asset's `input_url` off the request
 * path into `sources/{asset_id}/source`, then queue its job. The outbound policy (checkOutboundUrl) is
 * applied to the URL and to every redirect hop, followed by hand. Refused URLs are permanent
 * (`input_url_forbidden`); HTTP 4xx answers fail at once (`input_fetch_failed`); network errors and
 * 5xx are retried a few times first.
 */
import { createDb } from "../../db/client";
import { guardedFetch } from "../../lib/guarded-fetch";
import { log } from "../../lib/log";
import { BodyTooLargeError, parseContentLength, putFixedLength, putUnknownLength } from "../../r2/stream";
import { queueIngestedAsset } from "./ingest";
import { errorAssetWithoutJob, findAsset, type JobError } from "./lifecycle";
import type { ConsumerOutcome } from "./start";
import { backoffSeconds, systemContext } from "./system";

/** Network failures and 5xx answers are retried this many deliveries before the asset errors. */
export const INGEST_NETWORK_ATTEMPTS = 3;
export const MAX_INGEST_BYTES = 20 * 1024 ** 3;
const HEADERS_TIMEOUT_MS = 30_000;

export function sourceKeyFor(assetId: string) {
  return `sources/${assetId}/source`;
}

export async function ingestUrl(
  env: Env,
  assetId: string,
  opts: { waitUntil: (p: Promise<unknown>) => void; deliveryAttempt: number },
): Promise<ConsumerOutcome> {
  const asset = await findAsset({ db: createDb(env.DB) }, assetId);
  if (asset?.status !== "waiting" || !asset.inputUrl) {
    return { action: "ack", reason: `nothing to ingest (${asset?.status ?? "missing"})` };
  }
  const ctx = systemContext(env, asset.environmentId, opts.waitUntil);
  const fail = async (error: JobError): Promise<ConsumerOutcome> => {
    await errorAssetWithoutJob(ctx, asset, error);
    return { action: "ack", reason: error.code };
  };
  const transient = async (message: string): Promise<ConsumerOutcome> => {
    if (opts.deliveryAttempt >= INGEST_NETWORK_ATTEMPTS) {
      return fail({ code: "input_fetch_failed", message: `The input URL could not be fetched: ${message}.` });
    }
    const delaySeconds = backoffSeconds(opts.deliveryAttempt);
    log.warn("ingest_retry", { asset_id: asset.id, error: message, retry_in: delaySeconds });
    return { action: "retry", delaySeconds, reason: message };
  };

  const fetched = await guardedFetch(asset.inputUrl, {
    allowPrivate: env.ALLOW_PRIVATE_INGEST_URLS === "true",
    timeoutMs: HEADERS_TIMEOUT_MS,
    timeoutCovers: "headers",
  });
  if (!fetched.ok) {
    if (fetched.kind === "forbidden") {
      return fail({ code: "input_url_forbidden", message: `The input URL was refused: ${fetched.reason}.` });
    }
    if (fetched.kind === "transient") return transient(fetched.message);
    const message = fetched.status ? `The input URL answered HTTP ${fetched.status}.` : fetched.message;
    return fail({ code: "input_fetch_failed", message });
  }
  const res = fetched.res;
  const length = parseContentLength(res.headers.get("content-length"));
  if (length !== null && length > MAX_INGEST_BYTES) {
    await res.body?.cancel();
    return fail({
      code: "input_too_large",
      message: `The input is ${length} bytes; the limit is ${MAX_INGEST_BYTES}.`,
    });
  }
  if (!res.body || length === 0) {
    await res.body?.cancel();
    return fail({ code: "input_unreadable", message: "The input URL returned an empty body." });
  }
  const contentType = res.headers.get("content-type")?.split(";")[0].trim() || null;
  const key = sourceKeyFor(asset.id);
  const httpMetadata = contentType ? { contentType } : undefined;
  let size: number;
  try {
    if (length !== null) {
      await putFixedLength(env.MEDIA, key, res.body, length, { httpMetadata });
      size = length;
    } else {
      size = await putUnknownLength(env.MEDIA, key, res.body, MAX_INGEST_BYTES, { httpMetadata });
    }
  } catch (err) {
    if (err instanceof BodyTooLargeError) {
      return fail({ code: "input_too_large", message: `The input exceeds ${MAX_INGEST_BYTES} bytes.` });
    }
    return transient(`download interrupted: ${(err as Error).message}`);
  }
  if (size === 0) return fail({ code: "input_unreadable", message: "The input URL returned an empty body." });

  const queued = await queueIngestedAsset(ctx, asset, { key, size, contentType });
  if (!queued) {
    const now = await findAsset(ctx, asset.id);
    // Deleted while we fetched: do not leave its bytes behind.
    if (!now || now.status === "deleted") await env.MEDIA.delete(key);
    return { action: "ack", reason: `asset moved on (${now?.status ?? "missing"})` };
  }
  log.info("ingest_done", { asset_id: asset.id, job_id: queued.jobId, size });
  return { action: "ack", reason: "ingested" };
}
