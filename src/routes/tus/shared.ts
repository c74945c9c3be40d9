/**
 * What every tus request shares: the version gate, the upload's one-time token (`?token=` from the
 * tus_url, kept in Location so clients send it back), the D1 row (authoritative for open/closed,
 * expiry and CORS), the response headers every tus response carries, and turning failures into
 * problem+json that still has those headers.
 */

import type { AppContext } from "../../app";
import { type ErrorCode, KeyframeError, problemResponse } from "../../lib/errors";
import { isId } from "../../lib/ids";
import { log } from "../../lib/log";
import { verifyHmacToken } from "../../lib/signing";
import { type ServiceContext, systemContext } from "../../services/context";
import { findUpload, type UploadRow } from "../../services/uploads/tus-projection";
import {
  httpDate,
  maxSizeFor,
  TUS_CHECKSUM_ALGORITHMS,
  TUS_EXTENSIONS,
  TUS_MAX_SIZE,
  TUS_VERSION,
} from "../../upload-session/tus-protocol";
import type { SessionFailure, SessionPolicy } from "../../upload-session/upload-session";

export type { UploadRow };

const EXPOSED_HEADERS = [
  "Location",
  "Upload-Offset",
  "Upload-Length",
  "Upload-Defer-Length",
  "Upload-Expires",
  "Upload-Metadata",
  "Tus-Resumable",
  "Tus-Version",
  "Tus-Extension",
  "Tus-Max-Size",
  "Tus-Checksum-Algorithm",
  "X-Request-Id",
].join(", ");

const ALLOWED_REQUEST_HEADERS = [
  "Content-Type",
  "Upload-Offset",
  "Upload-Length",
  "Upload-Defer-Length",
  "Upload-Metadata",
  "Upload-Checksum",
  "Upload-Concat",
  "Tus-Resumable",
  "X-HTTP-Method-Override",
  "X-Requested-With",
  "X-Request-Id",
].join(", ");

export const TUS_METHODS = ["POST", "HEAD", "PATCH", "DELETE", "OPTIONS"] as const;
export type TusMethod = (typeof TUS_METHODS)[number];

/** Discovery headers (OPTIONS): what this server speaks. */
export function discoveryHeaders(maxSize: number = TUS_MAX_SIZE): Record<string, string> {
  return {
    "Tus-Version": TUS_VERSION,
    "Tus-Extension": TUS_EXTENSIONS,
    "Tus-Max-Size": String(maxSize),
    "Tus-Checksum-Algorithm": TUS_CHECKSUM_ALGORITHMS,
  };
}

/** One tus request: collects the row (once loaded) so every response, errors included, gets CORS. */
export class TusRequest {
  row: UploadRow | null = null;

  constructor(
    readonly c: AppContext,
    readonly uploadId: string | null,
  ) {}

  get env(): Env {
    return this.c.env;
  }

  get requestId(): string {
    return this.c.get("requestId");
  }

  header(name: string): string | undefined {
    return this.c.req.header(name);
  }

  /** The method tus means: POST + X-HTTP-Method-Override carries PATCH/DELETE/HEAD past old proxies. */
  method(): string {
    const raw = this.c.req.method.toUpperCase();
    const override = this.header("x-http-method-override")?.trim().toUpperCase();
    if (raw === "POST" && override) return override;
    return raw;
  }

  /** Every request except OPTIONS must speak 1.0.0; anything else is 412 with the versions we do. */
  checkVersion() {
    const v = this.header("tus-resumable");
    if (v !== TUS_VERSION) {
      throw new KeyframeError(
        "precondition_failed",
        v ? `Tus-Resumable ${v} is not supported; this server speaks ${TUS_VERSION}.` : "Send Tus-Resumable: 1.0.0.",
        [],
        { "Tus-Version": TUS_VERSION },
      );
    }
  }

  /** Token first (no storage touched for a bad one), then the row. */
  async loadRow(): Promise<UploadRow> {
    const id = this.uploadId;
    if (!id || !isId("upload", id)) throw new KeyframeError("not_found", `No upload '${id ?? ""}'.`);
    const token = this.c.req.query("token");
    if (!(await verifyHmacToken(this.env.JOB_TOKEN_SECRET, `upload:${id}`, token))) {
      throw new KeyframeError(
        "unauthenticated",
        "The upload token is missing or invalid: use the tus_url returned by POST /v1/uploads.",
      );
    }
    const row = await findUpload(this.env, id);
    if (!row) throw new KeyframeError("not_found", `No upload '${id}' exists.`);
    this.row = row;
    return row;
  }

  /** Refuses uploads that can no longer take bytes. Completed ones are left to the caller (HEAD answers them). */
  assertOpen(row: UploadRow) {
    if (row.status === "expired" || (row.status !== "completed" && row.expiresAt <= new Date().toISOString())) {
      throw new KeyframeError("gone", `This upload expired at ${row.expiresAt}.`);
    }
    if (row.status === "cancelled") throw new KeyframeError("gone", "This upload was cancelled.");
    if (row.status === "errored") throw new KeyframeError("gone", "This upload failed and cannot take more bytes.");
  }

  policy(row: UploadRow): SessionPolicy {
    return {
      uploadId: row.id,
      environmentId: row.environmentId,
      expiresAt: row.expiresAt,
      maxSizeBytes: row.maxSizeBytes,
      requireContentType: (row.allowedContentTypes?.length ?? 0) > 0,
    };
  }

  maxSize(): number {
    return maxSizeFor(this.row?.maxSizeBytes);
  }

  /** System context for service verbs, acting in the upload's environment (the token is the authority). */
  serviceContext(row: UploadRow): ServiceContext {
    return systemContext(this.env, row.environmentId, (p) => this.c.executionCtx.waitUntil(p), this.requestId);
  }

  tusUrl(row: UploadRow, token: string): string {
    return `${this.env.API_PUBLIC_URL.replace(/\/$/, "")}/tus/${row.id}?token=${encodeURIComponent(token)}`;
  }

  expiresHeader(row: UploadRow): Record<string, string> {
    return { "Upload-Expires": httpDate(row.expiresAt) };
  }

  /** CORS for the upload's cors_origin ('*' or one exact origin); none configured = no browser access. */
  corsHeaders(preflight: boolean): Record<string, string> {
    const origin = this.header("origin");
    const allowed = this.row?.corsOrigin;
    if (!origin || !allowed) return {};
    if (allowed !== "*" && allowed !== origin) return {};
    const h: Record<string, string> = {
      "Access-Control-Allow-Origin": allowed === "*" ? "*" : origin,
      "Access-Control-Expose-Headers": EXPOSED_HEADERS,
    };
    if (allowed !== "*") h.Vary = "Origin";
    if (preflight) {
      h["Access-Control-Allow-Methods"] = TUS_METHODS.join(", ");
      h["Access-Control-Allow-Headers"] = ALLOWED_REQUEST_HEADERS;
      h["Access-Control-Max-Age"] = "86400";
    }
    return h;
  }

  /** Adds Tus-Resumable (every response) and CORS to whatever the handler produced. */
  finish(res: Response, preflight = false): Response {
    const out = new Response(res.body, res);
    out.headers.set("Tus-Resumable", TUS_VERSION);
    out.headers.set("x-request-id", this.requestId);
    for (const [k, v] of Object.entries(this.corsHeaders(preflight))) out.headers.set(k, v);
    return out;
  }

  errorResponse(err: unknown): Response {
    if (err instanceof KeyframeError) {
      return problemResponse(err.code, err.message, this.requestId, err.errors, err.headers);
    }
    log.error("tus_unhandled_error", {
      request_id: this.requestId,
      upload_id: this.uploadId,
      error: (err as Error)?.message,
      stack: (err as Error)?.stack,
    });
    return problemResponse(
      "internal_error",
      "An unexpected error occurred. Quote the request_id when reporting it.",
      this.requestId,
    );
  }
}

/** A failure reported by the UploadSession, with the durable offset when it has one. */
export function sessionError(f: SessionFailure): KeyframeError {
  return new KeyframeError(
    f.code as ErrorCode,
    f.message,
    [],
    f.offset === undefined ? {} : { "Upload-Offset": String(f.offset) },
  );
}

export function badHeader(status: 400 | 413, message: string): KeyframeError {
  return new KeyframeError(status === 413 ? "payload_too_large" : "bad_request", message);
}
