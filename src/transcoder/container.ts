/**
 * The transcoder as a Cloudflare Container in production (image: transcoder/Dockerfile). Locally the
 * same Node service runs as a process at TRANSCODER_URL and this class is never instantiated.
 */
import { Container } from "@cloudflare/containers";

export class TranscoderContainer extends Container<Env> {
  defaultPort = 8080;
  sleepAfter = "10m";
  envVars = { KEYFRAME_TRANSCODER_HOST: "0.0.0.0", KEYFRAME_TRANSCODER_PORT: "8080" };
}
