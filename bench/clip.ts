/**
 * The benchmarks' source: a `seconds` s `width`x`height`p30 H.264/AAC faststart clip (by default 60 s 1920x1080,
 * bench:vod's recipe), or `--clip`'s file.
 */
import { execFileSync } from "node:child_process";
import path from "node:path";

export function benchClip(
  work: string,
  given: string | undefined,
  { seconds = 60, width = 1920, height = 1080 }: { seconds?: number; width?: number; height?: number } = {},
): string {
  if (given) {
    console.log(`reusing ${given} (made by this recipe)`);
    return given;
  }
  const clip = path.join(work, "clip.mp4");
  console.log(`generating a ${seconds} s ${width}x${height}p30 H.264/AAC faststart clip (bench:vod's recipe)…`);
  execFileSync("ffmpeg", [
    ...["-hide_banner", "-nostdin", "-y", "-loglevel", "error"],
    ...["-f", "lavfi", "-i", `testsrc2=size=${width}x${height}:rate=30:duration=${seconds}`],
    ...["-f", "lavfi", "-i", `sine=frequency=440:sample_rate=48000:duration=${seconds}`],
    ...["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "60"],
    ...["-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", clip],
  ]);
  return clip;
}
