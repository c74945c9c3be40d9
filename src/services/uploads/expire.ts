/**
 * The upload expiry sweep (listed in src/registry.ts): uploads still `waiting`/`uploading` past `expires_at` become
 * `expired` (+ `upload.expired`), and their UploadSession aborts the R2 multipart upload and frees
 * buffered bytes. The session's own alarm does the same R2 clean-up if the cron never gets there.
 */
import { and, eq, inArray, lt } from "drizzle-orm";
import { createDb, schema } from "../../db/client";
import { log } from "../../lib/log";
import { nowIso } from "../../lib/time";
import { uploadSession } from "../../upload-session/client";
import { systemContext } from "../context";
import { commit } from "../events/record";
import { recordDeletions, uploadMediaPrefixes } from "../media/pending-deletions";
import { uploadEventData } from "./verbs";

const BATCH = 100;

export async function expireUploads(env: Env, exec: Pick<ExecutionContext, "waitUntil">) {
  const db = createDb(env.DB);
  const now = nowIso();
  const u = schema.uploads;
  const rows = await db
    .select()
    .from(u)
    .where(and(inArray(u.status, ["waiting", "uploading"]), lt(u.expiresAt, now)))
    .orderBy(u.expiresAt)
    .limit(BATCH);
  let expired = 0;
  for (const row of rows) {
    try {
      // Session first: once it has closed, no last byte can complete the upload behind our back.
      const session = await uploadSession(env, row.id).expire();
      if (!session.ok) continue; // the last byte landed in time; completion owns this upload now
      const ctx = systemContext(env, row.environmentId, (p) => exec.waitUntil(p), undefined, db);
      const at = nowIso();
      const data = await uploadEventData(
        ctx,
        { ...row, status: "expired", updatedAt: at },
        {
          upload_id: row.id,
          bytes_received: row.bytesReceived,
          expires_at: row.expiresAt,
        },
      );
      await commit(
        ctx,
        [
          db
            .update(u)
            .set({ status: "expired", updatedAt: at })
            .where(and(eq(u.id, row.id), eq(u.status, row.status))),
          // The media-deletion sweep removes any bytes the upload left as objects.
          ...recordDeletions(ctx, { type: "upload", id: row.id }, uploadMediaPrefixes(row.id)),
        ],
        [
          {
            type: "upload.expired",
            subjectId: row.id,
            uploadId: row.id,
            correlationId: row.correlationId,
            data,
          },
        ],
        [{ action: "upload.expire", resourceType: "upload", resourceId: row.id }],
      );
      expired++;
    } catch (err) {
      log.error("upload_expire_failed", { upload_id: row.id, error: String(err) });
    }
  }
  return { expired };
}
