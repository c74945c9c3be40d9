/**
 * Deleting bytes from R2 is recorded before it is done: a delete (asset) or an end (expired or
 * cancelled upload) writes `pending_deletions` rows in the same batch as the state change; a best-effort
 * pass runs right away in waitUntil, and the cron finishes whatever it did not (R2 errors, an isolate
 * that died). A row is removed only once R2 lists nothing under its prefix, so every step is idempotent.
 *
 * Each run re-checks that the owner is still gone before deleting: an asset must be `deleted`, an upload
 * `expired`/`cancelled`/`errored` with no asset made from it. A row whose owner came back (an upload that
 * completed in a race) is dropped without touching R2.
 *
 * An asset's rows are kept for OUTPUT_GRACE_MS after the delete, and swept again once it has passed: a
 * transcoder output PUT authorised just before the delete may land after the first sweep (the output
 * callback reads D1 once, before writing, and does not check again afterwards — one read per output file,
 * on the hot path). Nothing a deleted asset's job writes survives the second sweep.
 */
import { and, asc, eq, inArray, lte, sql } from "drizzle-orm";
import { createDb, type Db, schema } from "../../db/client";
import { newId } from "../../lib/ids";
import { log } from "../../lib/log";
import { isoIn, nowIso } from "../../lib/time";
import type { ServiceContext } from "../context";
import type { Statement } from "../events/record";

export type DeletionOwner = { type: "asset" | "upload"; id: string };

const BATCH = 25;
const MAX_BACKOFF_MS = 60 * 60_000;
/** How long after an asset's delete its prefixes are swept again: well past any output PUT in flight at the delete. */
export const OUTPUT_GRACE_MS = 15 * 60_000;

/** The R2 prefixes an asset's media lives under (sources, runs, derived images, an uploaded source). */
export function assetMediaPrefixes(assetId: string, sourceKey?: string | null): string[] {
  const prefixes = [`assets/${assetId}/`, `sources/${assetId}/`];
  // Uploaded sources live under the upload's ID (`sources/{upload_id}/source`).
  if (sourceKey && !sourceKey.startsWith(`sources/${assetId}/`)) prefixes.push(sourceKey);
  return prefixes;
}

/** Where an upload's bytes may be: a PUT's object, a completed tus multipart object. */
export function uploadMediaPrefixes(uploadId: string): string[] {
  return [`sources/${uploadId}/`];
}

/** Insert statements for the caller's batch (a prefix already pending is left as it is). */
export function recordDeletions(ctx: ServiceContext, owner: DeletionOwner, prefixes: string[]): Statement[] {
  return prefixes.map((prefix) =>
    ctx.db
      .insert(schema.pendingDeletions)
      .values({
        id: newId("pendingDeletion"),
        environmentId: ctx.caller.environmentId,
        resourceType: owner.type,
        resourceId: owner.id,
        prefix,
      })
      .onConflictDoNothing(),
  );
}

type Row = typeof schema.pendingDeletions.$inferSelect;

async function ownerStillGone(db: Db, row: Row): Promise<boolean> {
  if (row.resourceType === "asset") {
    const a = await db.query.assets.findFirst({ where: eq(schema.assets.id, row.resourceId) });
    return !a || a.status === "deleted";
  }
  const u = await db.query.uploads.findFirst({ where: eq(schema.uploads.id, row.resourceId) });
  if (!u) return true;
  if (!["expired", "cancelled", "errored"].includes(u.status)) return false;
  // An asset made from this upload owns its source now.
  const asset = await db.query.assets.findFirst({ where: eq(schema.assets.uploadId, u.id) });
  return !asset || asset.status === "deleted";
}

/** Deletes everything under `prefix`; returns how many objects went. */
async function deletePrefix(bucket: R2Bucket, prefix: string): Promise<number> {
  let removed = 0;
  let cursor: string | undefined;
  do {
    const listing = await bucket.list({ prefix, cursor, limit: 1000 });
    const keys = listing.objects.map((o) => o.key);
    if (keys.length > 0) {
      await bucket.delete(keys);
      removed += keys.length;
    }
    cursor = listing.truncated ? listing.cursor : undefined;
  } while (cursor);
  return removed;
}

/**
 * Works through due rows (all of one owner's when `owner` is given, due or not). Returns counts; never
 * throws for one row's failure: that row is rescheduled with backoff.
 */
export async function runPendingDeletions(
  env: Env,
  owner?: DeletionOwner,
): Promise<{ done: number; failed: number; dropped: number; objects: number; rechecks: number }> {
  const db = createDb(env.DB);
  const d = schema.pendingDeletions;
  const rows = await db
    .select()
    .from(d)
    .where(owner ? and(eq(d.resourceType, owner.type), eq(d.resourceId, owner.id)) : lte(d.nextAttemptAt, nowIso()))
    .orderBy(asc(d.nextAttemptAt))
    .limit(BATCH);
  const out = { done: 0, failed: 0, dropped: 0, objects: 0, rechecks: 0 };
  const finished: string[] = [];
  for (const row of rows) {
    try {
      if (!(await ownerStillGone(db, row))) {
        log.warn("pending_deletion_owner_alive", { resource_id: row.resourceId, prefix: row.prefix });
        finished.push(row.id);
        out.dropped++;
        continue;
      }
      out.objects += await deletePrefix(env.MEDIA, row.prefix);
      // Only an empty listing finishes the row (R2 deletes are not acknowledged per key).
      const left = await env.MEDIA.list({ prefix: row.prefix, limit: 1 });
      if (left.objects.length > 0) throw new Error("objects remain after delete");
      const graceEnds = Date.parse(row.createdAt) + OUTPUT_GRACE_MS;
      if (row.resourceType === "asset" && Date.now() < graceEnds) {
        // Swept once; once more after the grace window, for output PUTs that were in flight at the delete.
        await db
          .update(d)
          .set({ nextAttemptAt: new Date(graceEnds).toISOString() })
          .where(eq(d.id, row.id))
          .run();
        out.rechecks++;
        continue;
      }
      finished.push(row.id);
      out.done++;
    } catch (err) {
      out.failed++;
      const backoff = Math.min(MAX_BACKOFF_MS, 60_000 * 2 ** row.attempts);
      log.warn("pending_deletion_failed", { prefix: row.prefix, attempts: row.attempts + 1, error: String(err) });
      await db
        .update(d)
        .set({ attempts: sql`${d.attempts} + 1`, lastError: String(err).slice(0, 500), nextAttemptAt: isoIn(backoff) })
        .where(eq(d.id, row.id))
        .run();
    }
  }
  if (finished.length > 0) await db.delete(d).where(inArray(d.id, finished)).run();
  if (out.objects > 0 || out.failed > 0) log.info("pending_deletions_run", out);
  return out;
}
