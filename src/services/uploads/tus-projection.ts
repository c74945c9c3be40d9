/**
 * The tus side's reads and writes (routes/tus and the UploadSession Durable Object) of its `uploads` row (src/upload-session/): what the
 * byte stream projects into D1 so GET /v1/uploads/{id} and the one-shot PUT path see it.
 */
import { and, eq, inArray, isNull, or } from "drizzle-orm";
import { createDb, schema } from "../../db/client";
import type { ServiceContext } from "../context";

export type UploadRow = typeof schema.uploads.$inferSelect;

const u = schema.uploads;

/** The row by ID alone: the caller has already checked an upload token for it. */
export async function findUpload(env: Env, uploadId: string): Promise<UploadRow | undefined> {
  return createDb(env.DB).query.uploads.findFirst({ where: eq(u.id, uploadId) });
}

/**
 * First byte: waiting → uploading, claimed for tus (a one-shot PUT holding it keeps it). False when the row
 * was not open to tus.
 */
export async function claimUploadForTus(ctx: ServiceContext, uploadId: string, size: number | null): Promise<boolean> {
  const res = await ctx.db
    .update(u)
    .set({ status: "uploading", claimedBy: "tus", size, updatedAt: new Date().toISOString() })
    .where(
      and(
        eq(u.id, uploadId),
        inArray(u.status, ["waiting", "uploading"]),
        or(isNull(u.claimedBy), eq(u.claimedBy, "tus")),
      ),
    )
    .run();
  return (res.meta?.changes ?? 0) > 0;
}

/** bytes_received (and the declared size) of an upload still taking bytes. */
export async function projectBytesReceived(
  ctx: ServiceContext,
  uploadId: string,
  offset: number,
  size: number | null,
): Promise<void> {
  await ctx.db
    .update(u)
    .set({ bytesReceived: offset, size, updatedAt: new Date().toISOString() })
    .where(and(eq(u.id, uploadId), inArray(u.status, ["waiting", "uploading"])))
    .run();
}
