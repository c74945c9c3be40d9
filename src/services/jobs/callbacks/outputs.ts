import { KeyframeError } from "../../../lib/errors";
import { contentTypeFor } from "../../../lib/media-types";
import { OUTPUT_PATH_RE } from "../../../lib/transcoder-protocol";
import { type JobCall, requireRunning, runPrefix } from "./authorize";

/** Largest single output file the transcoder may PUT. */
export const MAX_OUTPUT_BYTES = 512 * 1024 * 1024;

/** Relative output paths: the protocol's pattern, and no `.`/`..` segments. */
export function isValidOutputPath(path: string): boolean {
  return OUTPUT_PATH_RE.test(path) && path.split("/").every((seg) => seg !== "." && seg !== "..");
}

export async function writeOutput(
  call: JobCall,
  path: string,
  body: ReadableStream<Uint8Array> | null,
  length: number | null,
  put: (key: string, body: ReadableStream<Uint8Array>, length: number, contentType: string) => Promise<unknown>,
): Promise<{ key: string; size: number; content_type: string }> {
  const key = outputKey(call, path);
  // A dubbed audio track writes into a finished run, but only under its own folder.
  if (call.trackId) {
    if (!path.startsWith(`${call.trackId}/`)) {
      throw new KeyframeError("forbidden", `An audio track's token may only write under '${call.trackId}/'.`);
    }
  } else requireRunning(call, "write outputs");
  if (length === null) throw new KeyframeError("length_required", "Send a Content-Length with every output file.");
  if (length > MAX_OUTPUT_BYTES) {
    throw new KeyframeError("payload_too_large", `Output files are limited to ${MAX_OUTPUT_BYTES} bytes.`);
  }
  const contentType = contentTypeFor(path);
  // No second D1 read after the write: an output landing after its asset was deleted is removed by the
  // pending-deletion sweep's second pass (services/media/pending-deletions.ts, OUTPUT_GRACE_MS).
  await put(key, body ?? new ReadableStream({ start: (c) => c.close() }), length, contentType);
  return { key, size: length, content_type: contentType };
}

/** The R2 key of an output path under this job's run prefix; a path outside the protocol's pattern is refused. */
export function outputKey(call: JobCall, path: string): string {
  if (!isValidOutputPath(path)) {
    throw new KeyframeError("validation_failed", `'${path}' is not an allowed output path.`, [
      { location: "path", message: "must match ^(dir/)?file with [A-Za-z0-9_.-] names and no '.' or '..' segments" },
    ]);
  }
  return `${runPrefix(call.asset.id, call.job.id)}${path}`;
}
