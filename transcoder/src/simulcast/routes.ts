/**
 * The transcoder's simulcast endpoints (signed by the API like every other route; the server checks that
 * before calling here):
 *
 *   POST   /simulcast                     start a session's simulcast (SimulcastStartSchema) → 202
 *   DELETE /simulcast/{live_stream_id}    stop it → 204 (also when nothing was running)
 */
import { SimulcastStartSchema } from "../../../src/lib/simulcast-protocol.js";
import { bodyIssues, json, problem, readJsonBody } from "../http/problem.js";
import type { Handler } from "../http/routes.js";
import type { SimulcastSupervisor } from "./supervisor.js";

/** The DELETE route's path; its one group is the live stream id. */
export const SIMULCAST_STOP_PATH = /^\/simulcast\/([A-Za-z0-9_]{1,64})$/;

export const startSimulcast =
  (supervisor: SimulcastSupervisor): Handler =>
  async (req, res, { requestId, bodySha256 }) => {
    const body = await readJsonBody(req, res, requestId, bodySha256);
    if (!body) return;
    const parsed = SimulcastStartSchema.safeParse(body.value);
    if (!parsed.success) {
      const errors = bodyIssues(parsed.error.issues);
      return problem(res, requestId, 400, "validation_failed", "the body is not a valid simulcast start", errors);
    }
    const { duplicate } = supervisor.start(parsed.data);
    return json(res, requestId, 202, { accepted: true, duplicate });
  };

export const stopSimulcast =
  (supervisor: SimulcastSupervisor): Handler =>
  async (req, res, { requestId, params }) => {
    req.resume();
    supervisor.stop(params[0]);
    res.writeHead(204, { "x-request-id": requestId });
    res.end();
  };
