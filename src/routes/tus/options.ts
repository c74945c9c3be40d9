/**
 * OPTIONS: a CORS preflight (answered for the upload's cors_origin) or tus discovery (versions,
 * extensions, max size, checksum algorithms). Neither needs Tus-Resumable.
 */
import { discoveryHeaders, type TusRequest } from "./shared";

export async function tusOptions(t: TusRequest): Promise<{ res: Response; preflight: boolean }> {
  const preflight = t.header("access-control-request-method") !== undefined && t.header("origin") !== undefined;
  if (t.uploadId) {
    // Best effort: a wrong token simply gets no CORS grant (and the generic limits).
    await t.loadRow().catch(() => undefined);
  }
  return { res: new Response(null, { status: 204, headers: discoveryHeaders(t.maxSize()) }), preflight };
}
