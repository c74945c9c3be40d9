/**
 * The transcoder as a Cloudflare Container in production (image: transcoder/Dockerfile). Locally the
 * same Node service runs as a process at TRANSCODER_URL and this class is never instantiated.
 *
 * One container per job (the dispatcher names the instance after the job), and one per remote ladder chunk
 * (`chunk:{job_id}:{index}`, src/lib/ladder-chunk-protocol.ts). A transcode's traffic is
 * all outbound (it pulls the source and pushes outputs to the API), which does not count as activity,
 * so when the idle timer fires we ask the service whether it is still working before letting it sleep.
 */
import { Container } from "@cloudflare/containers";
import { deriveTranscoderSecret, TRANSCODER_AUTH_SECRET_ENV } from "../lib/transcoder-auth";

export class TranscoderContainer extends Container<Env> {
  defaultPort = 8080;
  sleepAfter = "5m";
  envVars: Record<string, string> = {
    KEYFRAME_TRANSCODER_HOST: "0.0.0.0",
    KEYFRAME_TRANSCODER_PORT: "8080",
    // A long source's ladder chunks go to instances of their own (transcoder/src/ladder-chunks/remote.ts),
    // four at a time: with the coordinator that is up to 5 instances per job (see max_instances).
    KEYFRAME_TRANSCODER_CONTAINER: "1",
    KEYFRAME_LADDER_CHUNK_PARALLEL: "4",
  };

  constructor(ctx: ConstructorParameters<typeof Container>[0], env: Env) {
    super(ctx, env);
    // The service refuses unsigned requests; give it the derived key (never JOB_TOKEN_SECRET itself)
    // before the first request can start the container.
    ctx.blockConcurrencyWhile(async () => {
      this.envVars = {
        ...this.envVars,
        [TRANSCODER_AUTH_SECRET_ENV]: await deriveTranscoderSecret(env.JOB_TOKEN_SECRET),
      };
    });
  }

  override async onActivityExpired(): Promise<void> {
    try {
      const res = await this.containerFetch("http://transcoder/health");
      const health = (await res.json()) as { running?: number; queued?: number };
      if ((health.running ?? 0) + (health.queued ?? 0) > 0) {
        this.renewActivityTimeout();
        return;
      }
    } catch {
      // Unreachable or not JSON: nothing useful is running; fall through and stop.
    }
    await this.stop();
  }
}
