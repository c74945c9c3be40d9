/** The files a job leaves in its output folder, listed the way they are uploaded. */
import { readdir } from "node:fs/promises";
import path from "node:path";

async function listFiles(outputDir: string, dir: string): Promise<string[]> {
  const names = await readdir(path.join(outputDir, dir));
  return names.sort().map((name) => `${dir}/${name}`);
}

/** Every file a rendition's playlist needs, in playlist order, plus the playlist itself. */
export async function renditionFiles(outputDir: string, dir: string): Promise<string[]> {
  const files = await listFiles(outputDir, dir);
  // ffmpeg leaves nothing else there, but a stray temp file must not be uploaded.
  return files.filter((f) => /\.(m3u8|m4s|mp4)$/.test(f) && !f.endsWith(".tmp"));
}
