/**
 * `POST /internal/live/simulcast-status`: the transcoder's simulcast job reports one target's status, signed
 * with the transcoder key (src/lib/transcoder-auth.ts), checked from the headers before the body is read.
 */
import type { App, AppContext } from "../../app";
import { KeyframeError } from "../../lib/errors";
import { bodyMatches, readBodyUpTo } from "../../lib/signed-requests";
import { SIMULCAST_STATUS_PATH, SimulcastStatusReportSchema } from "../../lib/simulcast-protocol";
import { deriveTranscoderSecret, transcoderSigner } from "../../lib/transcoder-auth";
import { applySimulcastStatus } from "../../services/live-streams/simulcast";
import { parseJson } from "./shared";

const MAX_REQUEST_BYTES = 4096;

async function readSignedBody(c: AppContext): Promise<string> {
  const tooLarge = () =>
    new KeyframeError("payload_too_large", `Status reports are limited to ${MAX_REQUEST_BYTES} bytes.`);
  if (Number(c.req.header("content-length") ?? "0") > MAX_REQUEST_BYTES) throw tooLarge();
  const result = await transcoderSigner.verifyHeaders(await deriveTranscoderSecret(c.env.JOB_TOKEN_SECRET), {
    method: c.req.method,
    path: c.req.path,
    header: (name) => c.req.header(name),
  });
  if (!result.ok) {
    await c.req.raw.body?.cancel().catch(() => undefined);
    throw new KeyframeError("unauthenticated", `This endpoint is for the transcoder only (${result.reason}).`);
  }
  const bytes = await readBodyUpTo(c.req.raw.body, MAX_REQUEST_BYTES);
  if (!bytes) throw tooLarge();
  if (!(await bodyMatches(result.bodySha256, bytes))) {
    throw new KeyframeError("unauthenticated", "This endpoint is for the transcoder only (body_mismatch).");
  }
  return new TextDecoder().decode(bytes);
}

export function registerSimulcastStatus(app: App) {
  app.post(SIMULCAST_STATUS_PATH, async (c) => {
    const report = parseJson(await readSignedBody(c), SimulcastStatusReportSchema);
    await applySimulcastStatus(c.env, (p) => c.executionCtx.waitUntil(p), report);
    return c.body(null, 204);
  });
}
