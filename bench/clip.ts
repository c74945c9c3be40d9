/** The benchmarks' source: a 60 s 1920x1080p30 H.264/AAC faststart clip (bench:vod's recipe), or `--clip`'s file. */
import { execFileSync } from "node:child_process";
import path from "node:path";

export function benchClip(work: string, given: string | undefined): string {
  if (given) return given;
  const clip = path.join(work, "clip.mp4");
  console.log("generating a 60 s 1920x1080p30 H.264/AAC faststart clip (bench:vod's recipe)…");
  execFileSync("ffmpeg", [
    ...["-hide_banner", "-nostdin", "-y", "-loglevel", "error"],
    ...["-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30:duration=60"],
    ...["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=60"],
    ...["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "60"],
    ...["-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", clip],
  ]);
  return clip;
}
