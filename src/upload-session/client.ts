/** Typed access to an upload's UploadSession Durable Object (one per upload, named by its ID). */
import type { UploadSession } from "./upload-session";

export function uploadSession(env: Env, uploadId: string): DurableObjectStub<UploadSession> {
  return env.UPLOAD_SESSIONS.get(env.UPLOAD_SESSIONS.idFromName(uploadId));
}
