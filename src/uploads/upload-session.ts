/** One Durable Object per upload session: owns the offset, the R2 multipart upload and buffered tail. */
import { DurableObject } from "cloudflare:workers";

export class UploadSession extends DurableObject<Env> {
  async getOffset(): Promise<number> {
    return (await this.ctx.storage.get<number>("offset")) ?? 0;
  }
}
