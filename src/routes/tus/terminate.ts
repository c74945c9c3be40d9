/** tus termination (DELETE {tus_url}): the same cancel as DELETE /v1/uploads/{id}, authorized by the URL token. */
import { cancelUpload } from "../../services/uploads/verbs";
import { completedError } from "./patch";
import type { TusRequest } from "./shared";

export async function tusTerminate(t: TusRequest): Promise<Response> {
  const row = await t.loadRow();
  if (row.status === "completed") throw completedError(row);
  t.assertOpen(row);
  await cancelUpload({ ctx: t.serviceContext(row), input: { uploadId: row.id } });
  return new Response(null, { status: 204 });
}
