/**
 * The transcoder's live ladder endpoints (signed by the API, checked by the server before calling here):
 *
 *   POST   /live-ladder                    start a session's ladder (LiveLadderStartSchema) → 202
 *   DELETE /live-ladder/{live_stream_id}   stop it → 204 (also when nothing was running)
 *   GET    /live-ladder                    per-stream, per-rendition stats (CPU, added latency) → 200
 */
import { LiveLadderStartSchema } from "../../../src/lib/live-ladder-protocol.js";
import { bodyIssues, json, problem, readJsonBody } from "../http/problem.js";
import type { Handler } from "../http/routes.js";
import type { LiveLadderSupervisor } from "./supervisor.js";

export const LIVE_LADDER_STOP_PATH = /^\/live-ladder\/([A-Za-z0-9_]{1,64})$/;

export const startLiveLadder =
  (supervisor: LiveLadderSupervisor): Handler =>
  async (req, res, { requestId, bodySha256 }) => {
    const body = await readJsonBody(req, res, requestId, bodySha256);
    if (!body) return;
    const parsed = LiveLadderStartSchema.safeParse(body.value);
    if (!parsed.success) {
      const errors = bodyIssues(parsed.error.issues);
      return problem(res, requestId, 400, "validation_failed", "the body is not a valid live ladder start", errors);
    }
    return json(res, requestId, 202, { accepted: true, ...supervisor.start(parsed.data) });
  };

export const stopLiveLadder =
  (supervisor: LiveLadderSupervisor): Handler =>
  async (req, res, { requestId, params }) => {
    req.resume();
    supervisor.stop(params[0]);
    res.writeHead(204, { "x-request-id": requestId });
    res.end();
  };

export const liveLadderStats =
  (supervisor: LiveLadderSupervisor): Handler =>
  async (req, res, { requestId }) => {
    req.resume();
    return json(res, requestId, 200, supervisor.stats());
  };
