/**
 * An RTMP broadcaster, as OBS would be, made of ffmpeg: a 320×180 test pattern with a tone, real time (-re),
 * H.264 + AAC in FLV to `url`, a keyframe every `gop` seconds. SIGINT is a clean stop (deleteStream).
 */
import { spawn } from "node:child_process";
import { binaryEnv } from "../../../transcoder/src/ffmpeg/static-env.js";
import { type Encoder, LIVE_FFMPEG } from "./live";

export function startRtmpEncoder(url: string, opts: { seconds?: number; gop?: number } = {}): Encoder {
  const fps = 30;
  const gop = opts.gop ?? 2;
  const args = [
    "-hide_banner",
    "-loglevel",
    "warning",
    "-re",
    "-f",
    "lavfi",
    "-i",
    `testsrc2=size=320x180:rate=${fps}`,
    "-f",
    "lavfi",
    "-i",
    "sine=frequency=440:sample_rate=48000",
    ...(opts.seconds ? ["-t", String(opts.seconds)] : []),
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-tune",
    "zerolatency",
    "-pix_fmt",
    "yuv420p",
    "-g",
    String(fps * gop),
    "-keyint_min",
    String(fps * gop),
    "-sc_threshold",
    "0",
    "-c:a",
    "aac",
    "-b:a",
    "64k",
    "-f",
    "flv",
    url,
  ];
  const proc = spawn(LIVE_FFMPEG, args, { env: binaryEnv(LIVE_FFMPEG), stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  proc.stderr?.on("data", (d) => {
    err = (err + d.toString()).slice(-8000);
  });
  // "error" (ffmpeg could not be started) ends it too: a kill() in afterAll must not wait forever.
  const exited = new Promise<number | null>((resolve) => {
    proc.on("exit", (code) => resolve(code));
    proc.on("error", (e) => {
      err += `${e.message}\n`;
      resolve(null);
    });
  });
  return {
    proc,
    exited,
    stderr: () => err,
    kill: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await exited;
    },
  };
}
