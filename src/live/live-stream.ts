/** Live stream state (idle → connected → active → disconnected). Declared now so the DO migration exists; live ingest is later work. */
import { DurableObject } from "cloudflare:workers";

export class LiveStream extends DurableObject<Env> {
  async getState(): Promise<{ status: string }> {
    return { status: (await this.ctx.storage.get<string>("status")) ?? "idle" };
  }
}
