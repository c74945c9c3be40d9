/**
 * The transcoder's simulcast endpoints (signed by the API like every other route; the server checks that
 * before calling here):
 *
 *   POST   /simulcast                     start a session's simulcast (SimulcastStartSchema) → 202
 *   DELETE /simulcast/{live_stream_id}    stop it → 204 (also when nothing was running)
 */
import type http from "node:http";
import { SimulcastStartSchema } from "../../../src/lib/simulcast-protocol.js";
import type { SimulcastSupervisor } from "./supervisor.js";

type Problem = (
  res: http.ServerResponse,
  requestId: string,
  status: number,
  code: "validation_failed" | "not_found" | "method_not_allowed",
  detail: string,
  errors?: { location: string; message: string }[],
) => void;

export async function handleSimulcast(
  supervisor: SimulcastSupervisor,
  c: {
    req: http.IncomingMessage;
    res: http.ServerResponse;
    path: string;
    requestId: string;
    read: () => Promise<{ value: unknown } | undefined>;
    problem: Problem;
    json: (res: http.ServerResponse, requestId: string, status: number, body: unknown) => void;
  },
): Promise<void> {
  if (c.path === "/simulcast" && c.req.method === "POST") {
    const body = await c.read();
    if (!body) return;
    const parsed = SimulcastStartSchema.safeParse(body.value);
    if (!parsed.success) {
      const errors = parsed.error.issues.map((i) => ({ location: `body.${i.path.join(".")}`, message: i.message }));
      return c.problem(c.res, c.requestId, 400, "validation_failed", "the body is not a valid simulcast start", errors);
    }
    const { duplicate } = supervisor.start(parsed.data);
    return c.json(c.res, c.requestId, 202, { accepted: true, duplicate });
  }
  const m = /^\/simulcast\/([A-Za-z0-9_]{1,64})$/.exec(c.path);
  if (m && c.req.method === "DELETE") {
    c.req.resume();
    supervisor.stop(m[1]);
    c.res.writeHead(204, { "x-request-id": c.requestId });
    c.res.end();
    return;
  }
  c.req.resume();
  return c.problem(c.res, c.requestId, 404, "not_found", `no route for ${c.req.method} ${c.path}`);
}
