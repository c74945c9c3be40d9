/** Shared plumbing of the transcoder callbacks: token authorization and strict JSON bodies. */
import type { z } from "zod";
import type { AppContext } from "../../app";
import { KeyframeError, zodIssuesToErrors } from "../../lib/errors";
import { authorizeJobCall, type JobCall } from "../../services/jobs/callbacks/authorize";

const MAX_JSON_BYTES = 1024 * 1024;

/** `allowTrack`: the route also takes a dubbed audio track's token (outputs, track callbacks). */
export function authorize(c: AppContext, opts: { allowTrack?: boolean } = {}): Promise<JobCall> {
  return authorizeJobCall(
    c.env,
    c.req.param("job_id") ?? "",
    c.req.header("authorization"),
    c.get("requestId"),
    (p) => c.executionCtx.waitUntil(p),
    opts,
  );
}

/** Reads and validates a JSON body against a protocol schema: 400 problem+json on anything off. */
export async function readJson<S extends z.ZodTypeAny>(c: AppContext, schema: S): Promise<z.infer<S>> {
  const declared = Number(c.req.header("content-length") ?? "0");
  if (declared > MAX_JSON_BYTES) throw new KeyframeError("payload_too_large", "JSON bodies are limited to 1 MiB.");
  const text = await c.req.text();
  if (text.length > MAX_JSON_BYTES) throw new KeyframeError("payload_too_large", "JSON bodies are limited to 1 MiB.");
  return parseJson(text, schema);
}

/** Parses and validates a JSON body already read (precise problem codes, never a 500). */
export function parseJson<S extends z.ZodTypeAny>(text: string, schema: S): z.infer<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new KeyframeError("malformed_json", "The request body is not valid JSON.");
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const errors = zodIssuesToErrors(parsed.error.issues, "body");
    throw new KeyframeError(
      "validation_failed",
      `The request body is invalid: ${errors.map((e) => `${e.location}: ${e.message}`).join("; ")}`,
      errors,
    );
  }
  return parsed.data;
}
