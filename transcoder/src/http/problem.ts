/**
 * The transcoder's one error vocabulary and body helpers: RFC 9457 problem+json in the same shape
 * and `type`/`code` vocabulary as the API's (src/lib/problem.ts builds the document; the codes and
 * titles are the transcoder's own). Every error answer the server gives goes through `problem`.
 */
import type http from "node:http";
import { PROBLEM_CONTENT_TYPE, problemDocument } from "../../../src/lib/problem.js";
import { bodyMatches } from "../../../src/lib/signed-requests.js";

const PROBLEM_TITLES = {
  unauthenticated: "Authentication required",
  malformed_json: "Malformed JSON body",
  validation_failed: "Request validation failed",
  not_found: "Not found",
  method_not_allowed: "Method not allowed",
  payload_too_large: "Payload too large",
  internal_error: "Internal error",
  service_unavailable: "Service unavailable",
  no_video: "The source has no video",
  source_unavailable: "The source could not be read",
  render_failed: "The thumbnail could not be rendered",
  render_timeout: "The thumbnail render timed out",
  chunk_timeout: "The ladder chunk timed out",
  chunk_mismatch: "The ladder chunk's output does not match its plan",
  chunk_refused: "The API refused the ladder chunk's output",
  chunk_encode_failed: "The ladder chunk could not be encoded",
  chunk_failed: "The ladder chunk failed",
  api_unavailable: "The API could not be reached",
} as const;
export type ProblemCode = keyof typeof PROBLEM_TITLES;

export interface ProblemIssue {
  location: string;
  message: string;
}

export function problem(
  res: http.ServerResponse,
  requestId: string,
  status: number,
  code: ProblemCode,
  detail: string,
  errors: ProblemIssue[] = [],
): void {
  const body = problemDocument(code, status, PROBLEM_TITLES[code], detail, requestId, errors);
  res.writeHead(status, { "content-type": PROBLEM_CONTENT_TYPE, "x-request-id": requestId });
  res.end(JSON.stringify(body));
}

export function json(res: http.ServerResponse, requestId: string, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json", "x-request-id": requestId });
  res.end(JSON.stringify(body));
}

/** zod issues as problem `errors[]`, located in the request body. */
export function bodyIssues(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>) {
  return issues.map((i) => ({ location: ["body", ...i.path.map(String)].join("."), message: i.message }));
}

export const MAX_BODY_BYTES = 64 * 1024;

class TooLargeError extends Error {}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? Number.NaN);
    if (Number.isFinite(declared) && declared > limit) {
      // Drain what the client sends so it reads our 413 instead of a reset connection.
      req.resume();
      return reject(new TooLargeError());
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(new TooLargeError());
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on("error", (err) => {
      if (!failed) reject(err);
    });
  });
}

/**
 * Reads a signed JSON body: too large → 413, not the bytes that were signed → 401, not JSON → 400.
 * Answers the problem itself and returns undefined when the body is off.
 */
export async function readJsonBody(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  requestId: string,
  bodySha256: string,
): Promise<{ value: unknown } | undefined> {
  let raw: Buffer;
  try {
    raw = await readBody(req, MAX_BODY_BYTES);
  } catch (err) {
    if (err instanceof TooLargeError) {
      res.setHeader("connection", "close");
      problem(res, requestId, 413, "payload_too_large", `the body exceeds ${MAX_BODY_BYTES} bytes`);
      return undefined;
    }
    throw err;
  }
  if (!(await bodyMatches(bodySha256, raw))) {
    problem(res, requestId, 401, "unauthenticated", "requests must be signed by the API (body_mismatch)");
    return undefined;
  }
  try {
    return { value: JSON.parse(raw.toString("utf8")) };
  } catch {
    problem(res, requestId, 400, "malformed_json", "the body is not valid JSON", [
      { location: "body", message: "malformed JSON" },
    ]);
    return undefined;
  }
}
