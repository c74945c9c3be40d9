/**
 * One Durable Object per upload session (idFromName(upload_id)): owns the tus offset, the declared or
 * deferred length, the R2 multipart upload ID, the list of uploaded parts and the buffered tail.
 *
 * PATCH bodies stream through `patch()`: bytes fill a part-sized buffer; each full part goes to R2
 * (`uploadPart`) while the next one fills (at most 2 in flight), and is recorded together with the
 * offset it ends at in one SQLite transaction, in part order, as soon as it lands; what is left
 * when the body ends (or is cut off) is written to the `tail` table in ≤ 1 MiB rows (a SQLite-backed DO
 * caps a row/value at 2 MB). So Upload-Offset only ever counts bytes that are durable: in R2 parts or
 * in the tail. Every part but the last has the same size (R2 requires it); the size is fixed per
 * session (8–32 MiB, chosen so ~9,000 parts hold the file).
 *
 * The D1 upload row stays the source of truth for open/closed (the tus route checks it before calling
 * here); this object projects progress into it (status `uploading`, `bytes_received`) and calls
 * completeUpload exactly once when the last byte lands.
 */

import { DurableObject } from "cloudflare:workers";
import { createHash } from "node:crypto";
import { withRetryingDb } from "../lib/d1-retry";
import { type ErrorCode, KeyframeError } from "../lib/errors";
import { log } from "../lib/log";
import { type ServiceContext, systemContext } from "../services/context";
import { completeUpload } from "../services/uploads/complete";
import { claimUploadForTus, findUpload, projectBytesReceived } from "../services/uploads/tus-projection";
import { PatchProfile } from "./patch-profile";
import {
  DEFERRED_PART_SIZE,
  maxSizeFor,
  partSizeFor,
  partsInFlight,
  R2_MAX_PARTS,
  READ_BUFFER_BYTES,
  TAIL_ROW_BYTES,
  type UploadChecksum,
} from "./tus-protocol";

/** What the tus route read from the D1 row; refreshed on every call (D1 is authoritative for these). */
export interface SessionPolicy {
  uploadId: string;
  environmentId: string;
  expiresAt: string;
  maxSizeBytes: number | null;
  /**
   * The upload has allowed_content_types: bytes are refused unless the tus creation declared an allowed
   * `filetype` (an upload reached by URL alone, or created without one, never bypasses the list).
   */
  requireContentType?: boolean;
}

export interface CreateInput {
  /** null = Upload-Defer-Length: 1 */
  length: number | null;
  metadata: string | null;
  contentType: string | null;
}

export interface PatchInput {
  offset: number;
  /** Upload-Length sent with the PATCH (declares a deferred length). */
  length: number | null;
  checksum: UploadChecksum | null;
  contentLength: number | null;
}

export interface SessionView {
  ok: true;
  offset: number;
  length: number | null;
  expiresAt: string;
  metadata: string | null;
  completed: boolean;
  assetId: string | null;
}
export interface SessionFailure {
  ok: false;
  code: ErrorCode;
  message: string;
  /** The durable offset, when it helps the client resume. */
  offset?: number;
}
export type SessionResult = SessionView | SessionFailure;

type Status = "open" | "finalizing" | "completed" | "closed";

interface State {
  uploadId: string;
  environmentId: string;
  expiresAt: string;
  maxSize: number;
  status: Status;
  closedReason: "expired" | "cancelled" | null;
  /** Creation (POST) happened; uploads reached by URL alone start deferred. */
  created: boolean;
  length: number | null;
  offset: number;
  partSize: number | null;
  multipartId: string | null;
  partsCount: number;
  /** Bytes in the `tail` table (always < partSize while open). */
  tailBytes: number;
  /** The multipart upload (or single put) is complete in R2; only the D1 completion is left. */
  r2Done: boolean;
  metadata: string | null;
  contentType: string | null;
  markedUploading: boolean;
  projectedOffset: number;
  projectedAt: number;
  assetId: string | null;
}

export function sourceKeyFor(uploadId: string): string {
  return `sources/${uploadId}/source`;
}

/** A failure writing to R2, as opposed to the client's body ending early. */
class StorageError extends Error {}

const PROJECT_EVERY_MS = 2000;

export class UploadSession extends DurableObject<Env> {
  private state: State | null = null;
  /** Set while a PATCH streams: a second one racing it gets 409 instead of interleaving bytes. */
  private busy = false;
  /** A createMultipartUpload in progress (two parts may be in flight before the ID is known). */
  private creatingMultipart: Promise<string> | null = null;
  /** A mid-PATCH D1 progress write in progress (never awaited by the byte stream). */
  private projecting: Promise<void> | null = null;
  /** The profile of the last PATCH that carried bytes (in memory only; for inspect()). */
  private lastPatch: Record<string, number> | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS session (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL)");
    sql.exec("CREATE TABLE IF NOT EXISTS parts (part_number INTEGER PRIMARY KEY, etag TEXT NOT NULL)");
    sql.exec("CREATE TABLE IF NOT EXISTS tail (seq INTEGER PRIMARY KEY, data BLOB NOT NULL)");
  }

  // ---------------------------------------------------------------- RPC methods

  /** HEAD: the durable offset. Retries a completion that failed half-way. */
  async head(policy: SessionPolicy): Promise<SessionResult> {
    const state = this.load(policy);
    const closed = this.closedFailure(state);
    if (closed) return closed;
    if (state.status === "finalizing" && !this.busy) {
      this.busy = true;
      try {
        const failed = await this.tryFinalize(state);
        if (failed?.code === "gone") return failed;
      } finally {
        this.busy = false;
      }
    }
    return this.view(state);
  }

  /** tus creation on an existing upload: sets the length (or defers it) and the metadata. */
  async create(policy: SessionPolicy, input: CreateInput): Promise<SessionResult> {
    const state = this.load(policy);
    const closed = this.closedFailure(state);
    if (closed) return closed;
    if (state.created) {
      // A retried creation is harmless when it says the same thing.
      if (input.length === state.length) return this.view(state);
      return fail("conflict", "This upload was already created with a different Upload-Length.");
    }
    if (input.length !== null) {
      const bad = this.checkLength(state, input.length);
      if (bad) return bad;
    }
    // With allowed_content_types the type must be declared: refusing is as strong as sniffing here (the
    // probe still decides what the bytes really are, as for a PUT's Content-Type) and much simpler.
    if (policy.requireContentType && !input.contentType) {
      return fail(
        "unsupported_media_type",
        "This upload accepts only some content types: declare the file's type as Upload-Metadata `filetype`.",
      );
    }
    if (input.length !== null) {
      state.length = input.length;
      if (state.partSize === null) state.partSize = partSizeFor(input.length);
    }
    state.created = true;
    state.metadata = input.metadata;
    state.contentType = input.contentType;
    this.save(state);
    await this.ctx.storage.setAlarm(Date.parse(state.expiresAt));
    if (state.length !== null && state.offset === state.length) {
      const failed = await this.tryFinalize(state);
      if (failed) return failed;
    }
    return this.view(state);
  }

  /** PATCH: append the body at `offset`. Streams; holds at most (1 + partsInFlight) parts in memory. */
  async patch(
    policy: SessionPolicy,
    input: PatchInput,
    body: ReadableStream<Uint8Array> | null,
  ): Promise<SessionResult> {
    if (this.busy) {
      return fail("conflict", "Another PATCH to this upload is in progress; HEAD for the offset and retry.");
    }
    const state = this.load(policy);
    const closed = this.closedFailure(state);
    if (closed) return closed;
    if (state.status !== "open") {
      if (state.status === "finalizing" && input.offset === state.length) {
        this.busy = true;
        try {
          return (await this.tryFinalize(state)) ?? this.view(state);
        } finally {
          this.busy = false;
        }
      }
      return fail("invalid_state", "This upload is already complete.", state.offset);
    }
    if (policy.requireContentType && !state.contentType) {
      return fail(
        "unsupported_media_type",
        "This upload accepts only some content types: create it with Upload-Metadata `filetype` set to one of them.",
        state.offset,
      );
    }
    if (input.offset !== state.offset) {
      return fail(
        "conflict",
        `Upload-Offset ${input.offset} does not match the upload's offset ${state.offset}.`,
        state.offset,
      );
    }
    if (input.length !== null) {
      if (state.length === null) {
        const bad = this.checkLength(state, input.length);
        if (bad) return bad;
        state.length = input.length;
        if (state.partSize === null) state.partSize = partSizeFor(input.length);
        this.save(state);
      } else if (input.length !== state.length) {
        return fail("bad_request", `Upload-Length is already ${state.length} and cannot change.`, state.offset);
      }
    }
    // A deferred upload fixes its part size with its first bytes; it never changes afterwards.
    const limit = state.length ?? Math.min(state.maxSize, this.fixPartSize(state) * R2_MAX_PARTS);
    if (input.contentLength !== null && state.offset + input.contentLength > limit) {
      return fail(
        "payload_too_large",
        `This PATCH would end at byte ${state.offset + input.contentLength}, past the upload's ${state.length === null ? "maximum size" : "Upload-Length"} of ${limit}.`,
        state.offset,
      );
    }
    this.busy = true;
    try {
      if (body && input.contentLength !== 0) {
        if (!state.markedUploading) {
          const marked = await this.markUploading(state);
          if (marked) return marked;
        }
        const prof = new PatchProfile();
        try {
          const result = await this.receive(state, input, body, limit, prof);
          if (!result.ok) return result;
          if (state.length !== null && state.offset === state.length) {
            const failed = await prof.time("finalizeMs", () => this.tryFinalize(state));
            if (failed) return failed;
          }
        } finally {
          this.lastPatch = prof.fields();
          log.info("tus_patch", { upload_id: state.uploadId, offset: state.offset, ...this.lastPatch });
        }
      } else if (state.length !== null && state.offset === state.length) {
        const failed = await this.tryFinalize(state);
        if (failed) return failed;
      }
      return this.closedFailure(state) ?? this.view(state);
    } finally {
      this.busy = false;
    }
  }

  /** Termination / DELETE /v1/uploads/{id}: abort the multipart upload and free the buffered bytes. */
  async cancel(): Promise<{ ok: boolean; status: string }> {
    return this.close("cancelled");
  }

  /** The expiry sweep: same clean-up as cancel, remembered as expired. */
  async expire(): Promise<{ ok: boolean; status: string }> {
    return this.close("expired");
  }

  /** Introspection for tests and operators. */
  async inspect(): Promise<{
    state: State | null;
    parts: number;
    tailRows: number;
    tailBytes: number;
    lastPatch: Record<string, number> | null;
  }> {
    const state = this.loadExisting();
    const parts = this.ctx.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM parts").one().n;
    const tail = this.ctx.storage.sql
      .exec<{ n: number; b: number | null }>("SELECT count(*) AS n, sum(length(data)) AS b FROM tail")
      .one();
    return { state, parts, tailRows: tail.n, tailBytes: tail.b ?? 0, lastPatch: this.lastPatch };
  }

  /** At expires_at: free R2 and the buffer even if the cron sweep never reaches this upload. */
  async alarm(): Promise<void> {
    const state = this.loadExisting();
    if (!state) return;
    if (state.status === "open" && Date.now() >= Date.parse(state.expiresAt)) await this.close("expired");
  }

  // ---------------------------------------------------------------- streaming

  /**
   * Streams one PATCH body into parts. Reading overlaps R2: a full part is handed to `uploadPart`
   * and the next one fills while it is in flight, with at most `partsInFlight(partSize)` uploads
   * outstanding (reading waits for the oldest when the window is full), so the session holds at most
   * (1 + partsInFlight) × partSize bytes of body plus a 1 MiB read buffer: 25 MiB with 8 MiB parts
   * (files up to ~75 GB), 49 MiB with 16 MiB parts, 65 MiB with 32 MiB parts.
   * Parts are committed strictly in order as their uploads finish, each with the offset it ends at:
   * the offset never covers bytes that are not in R2 or in the tail table. Only what is left short of
   * a full part when the body ends (or is cut off, even with parts still in flight) goes to the tail
   * table, once, at the end of the PATCH.
   */
  private async receive(
    state: State,
    input: PatchInput,
    body: ReadableStream<Uint8Array>,
    limit: number,
    prof: PatchProfile,
  ): Promise<SessionResult> {
    const partSize = this.fixPartSize(state);
    const window = partsInFlight(partSize);
    const start = state.offset;
    const hash = input.checksum ? createHash("sha1") : null;
    let buf: Uint8Array = new Uint8Array(partSize);
    let fill = prof.timeSync("sqlMs", () => this.readTailInto(buf));
    prof.tailReadBytes = fill;
    /** buf[0, durableFill) is already in the tail table. */
    let durableFill = fill;
    /** The tail table still holds bytes of this PATCH's first part (dropped when that part commits). */
    let tailInTable = fill > 0;
    let received = 0;
    let nextPart = state.partsCount + 1;
    /** Part uploads not yet settled (committed, or found failed), oldest first. */
    const inFlight: InFlightPart[] = [];
    /** Settles parts strictly in upload order, each as soon as it and every earlier part has landed. */
    let settling: Promise<void> = Promise.resolve();
    /** Buffers of settled parts, for reuse. */
    const spare: Uint8Array[] = [];
    /** Checksummed PATCHes upload parts as they fill but commit all or nothing once the digest matches. */
    const unverified: UploadedPart[] = [];
    let overflow = false;
    let cut: unknown = null;
    let storageError: unknown = null;

    /** Commits a landed part with the offset it ends at (the offset never skips a part that failed). */
    const settle = (p: InFlightPart, result: PartResult) => {
      inFlight.shift();
      spare.push(p.bytes);
      if (!result.ok) {
        storageError ??= result.error;
        return;
      }
      if (storageError) return;
      if (hash) {
        unverified.push(result.part);
        return;
      }
      const dropTail = tailInTable;
      prof.timeSync("sqlMs", () => this.commit(state, [result.part], dropTail, null, p.end));
      tailInTable = false;
      this.projectInBackground(state, prof);
    };

    const reader = openReader(body);
    prof.byob = reader.byob ? 1 : 0;
    reading: for (;;) {
      const t = performance.now();
      let value: Uint8Array | null;
      try {
        value = await reader.read();
      } catch (err) {
        cut = err;
        break;
      } finally {
        prof.readWaitMs += performance.now() - t;
      }
      if (value === null) break;
      prof.reads++;
      prof.bytes += value.byteLength;
      if (state.status !== "open" || storageError) break;
      let chunk = value;
      const room = limit - (start + received);
      if (chunk.byteLength > room) {
        chunk = chunk.subarray(0, room);
        overflow = true;
      }
      hash?.update(chunk);
      let i = 0;
      while (i < chunk.byteLength) {
        const n = Math.min(partSize - fill, chunk.byteLength - i);
        const tc = performance.now();
        buf.set(chunk.subarray(i, i + n), fill);
        prof.copyMs += performance.now() - tc;
        prof.copyBytes += n;
        fill += n;
        i += n;
        if (fill === partSize) {
          // Window full: reading waits until the oldest upload has landed and been committed.
          if (inFlight.length >= window) await prof.time("partWaitMs", () => inFlight[0].settled);
          if (storageError || state.status !== "open") break reading;
          const p = this.startPart(state, nextPart++, buf, start + received + i, prof);
          settling = settling.then(async () => settle(p, await p.done));
          p.settled = settling;
          inFlight.push(p);
          prof.maxInFlight = Math.max(prof.maxInFlight, inFlight.length);
          buf = spare.pop() ?? new Uint8Array(partSize);
          fill = 0;
          durableFill = 0;
        }
      }
      received += chunk.byteLength;
      if (overflow) break;
    }
    prof.inFlightAtEnd = inFlight.length;
    if (overflow || cut || storageError || state.status !== "open") reader.cancel();
    // However the body ended, parts already handed to R2 count once they land.
    await prof.time("partWaitMs", () => settling);

    const closed = this.closedFailure(state);
    if (closed) return closed;
    if (storageError) {
      log.error("tus_storage_error", { upload_id: state.uploadId, error: String(storageError) });
      await this.endProjection(state, prof);
      return fail("service_unavailable", "Storage failed while writing this chunk; HEAD and resume.", state.offset);
    }
    if (hash && input.checksum) {
      if (cut) {
        return fail(
          "bad_request",
          "The request body was cut off; a checksummed chunk is kept only when it arrives whole. Resend it.",
          state.offset,
        );
      }
      const digest = new Uint8Array(hash.digest());
      if (!sameBytes(digest, input.checksum.digest)) {
        return fail(
          "checksum_mismatch",
          "The sha1 of the PATCH body does not match Upload-Checksum; the chunk was discarded.",
          state.offset,
        );
      }
    }
    // What the body carried beyond the last full part becomes the durable tail.
    const dropTail = tailInTable && unverified.length > 0;
    const rest = buf.subarray(durableFill, fill);
    prof.tailWriteBytes = rest.byteLength;
    prof.timeSync("sqlMs", () => this.commit(state, unverified, dropTail, rest, start + received));
    await this.endProjection(state, prof);
    if (cut) {
      log.info("tus_body_cut", { upload_id: state.uploadId, kept: received, offset: state.offset });
      return fail(
        "bad_request",
        `The request body ended early; the ${received} bytes that arrived were kept. HEAD for the offset and resume.`,
        state.offset,
      );
    }
    if (overflow) {
      return fail(
        "payload_too_large",
        `The body goes past the upload's ${state.length === null ? "maximum size" : "Upload-Length"} of ${limit} bytes; bytes up to it were kept.`,
        state.offset,
      );
    }
    return this.view(state);
  }

  /** Starts one part upload; `done` never rejects (a failure is `{ ok: false }`). */
  private startPart(
    state: State,
    partNumber: number,
    bytes: Uint8Array,
    end: number,
    prof: PatchProfile,
  ): InFlightPart {
    const t = performance.now();
    const done = this.uploadPart(state, partNumber, bytes).then(
      (part): PartResult => ({ ok: true, part }),
      (error): PartResult => ({ ok: false, error }),
    );
    void done.then(() => prof.part(performance.now() - t));
    return { bytes, end, done, settled: Promise.resolve() };
  }

  /**
   * Records uploaded parts and the tail in one SQLite transaction, then advances the offset: the only
   * place the offset moves. `dropTail` empties the tail table first (its bytes are in the first of
   * `parts`); `append` adds bytes to it.
   */
  private commit(state: State, parts: UploadedPart[], dropTail: boolean, append: Uint8Array | null, newOffset: number) {
    if (state.status !== "open") return;
    const sql = this.ctx.storage.sql;
    this.ctx.storage.transactionSync(() => {
      for (const p of parts) {
        sql.exec("INSERT OR REPLACE INTO parts (part_number, etag) VALUES (?, ?)", p.partNumber, p.etag);
      }
      if (dropTail) {
        sql.exec("DELETE FROM tail");
        state.tailBytes = 0;
      }
      if (append) {
        for (let at = 0; at < append.byteLength; at += TAIL_ROW_BYTES) {
          const row = append.slice(at, Math.min(append.byteLength, at + TAIL_ROW_BYTES));
          sql.exec("INSERT INTO tail (data) VALUES (?)", row.buffer);
          state.tailBytes += row.byteLength;
        }
      }
      state.partsCount += parts.length;
      state.offset = newOffset;
      this.writeState(state);
    });
  }

  private readTailInto(buf: Uint8Array): number {
    let fill = 0;
    for (const row of this.ctx.storage.sql.exec<{ data: ArrayBuffer }>("SELECT data FROM tail ORDER BY seq")) {
      const bytes = new Uint8Array(row.data);
      buf.set(bytes, fill);
      fill += bytes.byteLength;
    }
    return fill;
  }

  private fixPartSize(state: State): number {
    if (state.partSize === null) {
      // Deferred length: size parts for the policy maximum, or a default good for ~156 GiB.
      state.partSize = state.maxSize < maxSizeFor(null) ? partSizeFor(state.maxSize) : DEFERRED_PART_SIZE;
      this.save(state);
    }
    return state.partSize;
  }

  private async uploadPart(state: State, partNumber: number, bytes: Uint8Array): Promise<UploadedPart> {
    try {
      if (partNumber > R2_MAX_PARTS) throw new Error(`part ${partNumber} exceeds R2's ${R2_MAX_PARTS}-part limit`);
      const key = sourceKeyFor(state.uploadId);
      const multipartId = await this.multipartId(state);
      const part = await this.env.MEDIA.resumeMultipartUpload(key, multipartId).uploadPart(partNumber, bytes);
      return { partNumber: part.partNumber, etag: part.etag };
    } catch (err) {
      throw new StorageError((err as Error).message);
    }
  }

  /** The session's R2 multipart upload, created once even when two part uploads start together. */
  private multipartId(state: State): Promise<string> {
    if (state.multipartId) return Promise.resolve(state.multipartId);
    this.creatingMultipart ??= this.env.MEDIA.createMultipartUpload(sourceKeyFor(state.uploadId), {
      httpMetadata: state.contentType ? { contentType: state.contentType } : undefined,
    })
      .then(async (mp) => {
        if (state.status === "closed") {
          // Cancelled or expired while R2 was creating it: close() could not abort what it did not
          // know about, so this must not be recorded (or left behind).
          await mp.abort().catch(() => undefined);
          throw new Error("the upload was closed while its multipart upload was being created");
        }
        state.multipartId = mp.uploadId;
        this.save(state);
        return mp.uploadId;
      })
      .finally(() => {
        this.creatingMultipart = null;
      });
    return this.creatingMultipart;
  }

  // ---------------------------------------------------------------- completion

  /**
   * finalize() with its failures turned into answers: the upload was closed meanwhile → 410 (and the
   * session frees its storage); anything else → 503, state kept as `finalizing` so HEAD/PATCH retry it.
   */
  private async tryFinalize(state: State): Promise<SessionFailure | null> {
    try {
      await this.finalize(state);
      return this.closedFailure(state);
    } catch (err) {
      if (err instanceof KeyframeError && err.code === "invalid_state") {
        await this.close("cancelled", true);
        return fail("gone", "This upload was closed before its last byte could complete it.");
      }
      log.error("tus_finalize_failed", { upload_id: state.uploadId, error: String(err) });
      return fail(
        "service_unavailable",
        "All bytes arrived but completing the upload failed; HEAD this URL to retry.",
        state.offset,
      );
    }
  }

  /** Last byte landed: the tail becomes the last part, R2 completes, then the asset + job exactly once. */
  private async finalize(state: State): Promise<void> {
    if (state.status === "completed") return;
    state.status = "finalizing";
    this.save(state);
    const key = sourceKeyFor(state.uploadId);
    const ctx = this.serviceCtx(state);
    if (!state.r2Done) {
      // The one-shot PUT path may have completed this upload meanwhile; never overwrite its source.
      const row = await findUpload(ctx.env, state.uploadId);
      if (!row || (row.status !== "waiting" && row.status !== "uploading")) {
        await this.close(row?.status === "expired" ? "expired" : "cancelled", true);
        return;
      }
      const tail = this.readTail();
      if (!state.multipartId) {
        await this.env.MEDIA.put(key, tail, {
          httpMetadata: state.contentType ? { contentType: state.contentType } : undefined,
        });
      } else {
        const mp = this.env.MEDIA.resumeMultipartUpload(key, state.multipartId);
        if (tail.byteLength > 0) {
          const last = await mp.uploadPart(state.partsCount + 1, tail);
          this.ctx.storage.transactionSync(() => {
            this.ctx.storage.sql.exec(
              "INSERT OR REPLACE INTO parts (part_number, etag) VALUES (?, ?)",
              last.partNumber,
              last.etag,
            );
            this.ctx.storage.sql.exec("DELETE FROM tail");
            state.tailBytes = 0;
            state.partsCount += 1;
            this.writeState(state);
          });
        }
        const parts = [
          ...this.ctx.storage.sql.exec<{ part_number: number; etag: string }>(
            "SELECT part_number, etag FROM parts ORDER BY part_number",
          ),
        ].map((p) => ({ partNumber: p.part_number, etag: p.etag }));
        await mp.complete(parts);
      }
      state.r2Done = true;
      this.save(state);
    }
    const result = await completeUpload(ctx, {
      uploadId: state.uploadId,
      sourceKey: key,
      size: state.length ?? state.offset,
      contentType: state.contentType,
    });
    this.ctx.storage.transactionSync(() => {
      this.ctx.storage.sql.exec("DELETE FROM tail");
      this.ctx.storage.sql.exec("DELETE FROM parts");
      state.status = "completed";
      state.assetId = result.assetId;
      state.tailBytes = 0;
      this.writeState(state);
    });
    log.info("tus_upload_completed", { upload_id: state.uploadId, asset_id: result.assetId, size: state.offset });
  }

  private readTail(): Uint8Array {
    const rows = [...this.ctx.storage.sql.exec<{ data: ArrayBuffer }>("SELECT data FROM tail ORDER BY seq")];
    const total = rows.reduce((n, r) => n + r.data.byteLength, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const r of rows) {
      out.set(new Uint8Array(r.data), at);
      at += r.data.byteLength;
    }
    return out;
  }

  private async close(reason: "expired" | "cancelled", force = false): Promise<{ ok: boolean; status: string }> {
    const state = this.loadExisting();
    if (!state) return { ok: true, status: "absent" };
    if (state.status === "completed" || (state.status === "finalizing" && !force)) {
      return { ok: false, status: state.status };
    }
    if (state.status === "closed") return { ok: true, status: "closed" };
    state.status = "closed";
    state.closedReason = reason;
    const multipartId = state.multipartId;
    this.ctx.storage.transactionSync(() => {
      this.ctx.storage.sql.exec("DELETE FROM tail");
      this.ctx.storage.sql.exec("DELETE FROM parts");
      state.tailBytes = 0;
      state.multipartId = null;
      this.writeState(state);
    });
    if (multipartId) {
      await this.env.MEDIA.resumeMultipartUpload(sourceKeyFor(state.uploadId), multipartId)
        .abort()
        .catch((err) => log.warn("tus_abort_failed", { upload_id: state.uploadId, error: String(err) }));
    }
    await this.ctx.storage.deleteAlarm();
    return { ok: true, status: "closed" };
  }

  // ---------------------------------------------------------------- D1 projection

  /** First byte: waiting → uploading. Refuses when the row was closed behind this object's back. */
  private async markUploading(state: State): Promise<SessionFailure | null> {
    const ctx = this.serviceCtx(state);
    // Claim it for tus; a one-shot PUT holding it (claimed_by = put) keeps it.
    if (!(await claimUploadForTus(ctx, state.uploadId, state.length))) {
      const row = await findUpload(ctx.env, state.uploadId);
      if (row?.status === "uploading" && row.claimedBy === "put") {
        return fail(
          "conflict",
          "A one-shot PUT to this upload is in progress; tus cannot take bytes now.",
          state.offset,
        );
      }
      return fail("gone", "This upload is no longer accepting bytes.", state.offset);
    }
    state.markedUploading = true;
    this.save(state);
    await this.ctx.storage.setAlarm(Date.parse(state.expiresAt));
    return null;
  }

  /**
   * bytes_received for GET /v1/uploads/{id}: within a PATCH at most every 2 s and without holding up
   * the byte stream; at the end of every PATCH, awaited, so the PATCH response implies the progress
   * is visible.
   */
  private projectInBackground(state: State, prof: PatchProfile) {
    if (this.projecting || state.offset === state.projectedOffset) return;
    if (Date.now() - state.projectedAt < PROJECT_EVERY_MS) return;
    this.projecting = this.project(state, prof).finally(() => {
      this.projecting = null;
    });
  }

  private async endProjection(state: State, prof: PatchProfile) {
    if (this.projecting) await this.projecting;
    if (state.offset !== state.projectedOffset) await prof.time("d1Ms", () => this.project(state, prof));
  }

  private async project(state: State, prof: PatchProfile) {
    try {
      const offset = state.offset;
      const ctx = this.serviceCtx(state);
      prof.d1Writes++;
      await projectBytesReceived(ctx, state.uploadId, offset, state.length);
      state.projectedOffset = offset;
      state.projectedAt = Date.now();
      if (state.status === "open") this.save(state);
    } catch (err) {
      log.warn("tus_projection_failed", { upload_id: state.uploadId, error: String(err) });
    }
  }

  private serviceCtx(state: State): ServiceContext {
    // The retrying D1 (src/lib/d1-retry.ts), as every request handler gets.
    return systemContext(withRetryingDb(this.env), state.environmentId, (p) => this.ctx.waitUntil(p));
  }

  // ---------------------------------------------------------------- state

  private checkLength(state: State, length: number): SessionFailure | null {
    if (length === 0) return fail("bad_request", "Upload-Length must be at least 1 byte.");
    if (length > capacity(state)) {
      return fail(
        "payload_too_large",
        `Upload-Length ${length} exceeds this upload's maximum of ${capacity(state)} bytes.`,
        state.offset,
      );
    }
    if (length < state.offset) {
      return fail("bad_request", `Upload-Length ${length} is less than the ${state.offset} bytes already received.`);
    }
    return null;
  }

  private closedFailure(state: State): SessionFailure | null {
    if (state.status === "closed") {
      return fail("gone", `This upload has been ${state.closedReason ?? "closed"}.`);
    }
    if (state.status === "open" && Date.now() >= Date.parse(state.expiresAt)) {
      return fail("gone", `This upload expired at ${state.expiresAt}.`);
    }
    return null;
  }

  private view(state: State): SessionView {
    return {
      ok: true,
      offset: state.offset,
      length: state.length,
      expiresAt: state.expiresAt,
      metadata: state.metadata,
      completed: state.status === "completed",
      assetId: state.assetId,
    };
  }

  private loadExisting(): State | null {
    if (this.state) return this.state;
    const row = this.ctx.storage.sql.exec<{ state: string }>("SELECT state FROM session WHERE id = 1").toArray()[0];
    this.state = row ? (JSON.parse(row.state) as State) : null;
    return this.state;
  }

  private load(policy: SessionPolicy): State {
    const existing = this.loadExisting();
    if (existing) {
      existing.expiresAt = policy.expiresAt;
      existing.maxSize = maxSizeFor(policy.maxSizeBytes);
      return existing;
    }
    // Not persisted until something worth keeping happens (creation or bytes).
    this.state = {
      uploadId: policy.uploadId,
      environmentId: policy.environmentId,
      expiresAt: policy.expiresAt,
      maxSize: maxSizeFor(policy.maxSizeBytes),
      status: "open",
      closedReason: null,
      created: false,
      length: null,
      offset: 0,
      partSize: null,
      multipartId: null,
      partsCount: 0,
      tailBytes: 0,
      r2Done: false,
      metadata: null,
      contentType: null,
      markedUploading: false,
      projectedOffset: 0,
      projectedAt: 0,
      assetId: null,
    };
    return this.state;
  }

  private writeState(state: State) {
    this.ctx.storage.sql.exec(
      "INSERT INTO session (id, state) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET state = excluded.state",
      JSON.stringify(state),
    );
  }

  private save(state: State) {
    this.writeState(state);
  }
}

/** Most bytes this session can still take: the policy, and R2's part limit once the part size is fixed. */
function capacity(state: State): number {
  if (state.partSize === null) return state.maxSize;
  return Math.min(state.maxSize, state.partSize * R2_MAX_PARTS);
}

function fail(code: ErrorCode, message: string, offset?: number): SessionFailure {
  return offset === undefined ? { ok: false, code, message } : { ok: false, code, message, offset };
}

/** Length check first, then a full scan: no early exit on the first differing byte. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let diff = 0;
  for (let i = 0; i < a.byteLength; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

interface UploadedPart {
  partNumber: number;
  etag: string;
}

type PartResult = { ok: true; part: UploadedPart } | { ok: false; error: unknown };

interface InFlightPart {
  bytes: Uint8Array;
  /** The upload offset right after this part's last byte. */
  end: number;
  /** The R2 upload. */
  done: Promise<PartResult>;
  /** This part (and every earlier one) has been committed or found failed. */
  settled: Promise<void>;
}

/**
 * Reads a body in pieces as large as are available (up to READ_BUFFER_BYTES): a byte stream is read
 * BYOB into one reused buffer, which returns everything already queued in one read instead of one
 * small chunk per read; other streams chunk by chunk. A returned view is valid until the next read.
 * `null` = end of body; a rejected read = the body was cut off.
 */
function openReader(body: ReadableStream<Uint8Array>): {
  byob: boolean;
  read(): Promise<Uint8Array | null>;
  cancel(): void;
} {
  let byob: ReadableStreamBYOBReader | null = null;
  try {
    byob = body.getReader({ mode: "byob" });
  } catch {
    byob = null;
  }
  if (byob) {
    const reader = byob;
    let scratch = new ArrayBuffer(READ_BUFFER_BYTES);
    return {
      byob: true,
      async read() {
        const { done, value } = await reader.read(new Uint8Array(scratch));
        if (value) scratch = value.buffer as ArrayBuffer;
        if (done || !value) return null;
        return value;
      },
      cancel: () => {
        reader.cancel().catch(() => undefined);
      },
    };
  }
  const reader = body.getReader();
  return {
    byob: false,
    async read() {
      const { done, value } = await reader.read();
      return done ? null : value;
    },
    cancel: () => {
      reader.cancel().catch(() => undefined);
    },
  };
}
