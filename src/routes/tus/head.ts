/** tus HEAD: where to resume. Upload-Offset counts only durable bytes; never cached. */
import { uploadSession } from "../../upload-session/client";
import { sessionError, type TusRequest } from "./shared";

export async function tusHead(t: TusRequest): Promise<Response> {
  const row = await t.loadRow();
  t.assertOpen(row);
  const headers: Record<string, string> = { "Cache-Control": "no-store" };
  if (row.status === "completed") {
    // Answered from D1: the session's storage may already be gone, the file is not.
    const size = String(row.size ?? row.bytesReceived);
    return new Response(null, { status: 200, headers: { ...headers, "Upload-Offset": size, "Upload-Length": size } });
  }
  const view = await uploadSession(t.env, row.id).head(t.policy(row));
  if (!view.ok) throw sessionError(view);
  headers["Upload-Offset"] = String(view.offset);
  if (view.length === null) headers["Upload-Defer-Length"] = "1";
  else headers["Upload-Length"] = String(view.length);
  if (view.metadata) headers["Upload-Metadata"] = view.metadata;
  Object.assign(headers, t.expiresHeader(row));
  return new Response(null, { status: 200, headers });
}
