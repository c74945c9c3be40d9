/**
 * One publish's converter: FLV in on stdin (the RTMP session's audio/video tags), HLS out over HTTP PUT to the
 * stream's ingest URL, stream-copied (`ffmpeg -f flv -i pipe:0 -c copy -f hls -method PUT`): the relay never
 * re-encodes, so it costs a socket, a pipe and a demux/mux per broadcast.
 *
 * ffmpeg runs with `omit_endlist`: its own end (stdin closing because the broadcaster dropped, or because the
 * relay itself died) must NOT end the session — the Durable Object then waits the reconnect window, and a
 * broadcaster that comes back continues the same session and recording. Only a clean unpublish (the client
 * sent deleteStream: OBS "Stop Streaming", a SIGINT'd ffmpeg) ends the session at once: after ffmpeg has
 * flushed its last segment and playlist, `finish({ clean: true })` PUTs a playlist with `#EXT-X-ENDLIST`.
 *
 * `-http_persistent 1` (one connection for every PUT) only with an ffmpeg that finishes a segment's request
 * when it closes the segment: the 2018 build from @ffmpeg-installer ends it only when the next request starts,
 * so its playlist naming a segment reaches the ingest before that segment does, and the ingest refuses every
 * such playlist. Without it, that build PUTs segment, then playlist, in order.
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { FfmpegVersion } from "../ffmpeg/binaries.js";
import { binaryEnv } from "../ffmpeg/static-env.js";
import type { Logger } from "../log.js";

export interface HlsPushOptions {
  ffmpeg: string;
  hlsUrl: string;
  segmentDuration: number;
  /** Reuse one HTTP connection for every PUT: see hlsPersistentHttpInOrder. */
  httpPersistent: boolean;
  log: Logger;
}

/**
 * Whether this ffmpeg's hls muxer, with `-http_persistent 1`, completes a segment's PUT before the playlist
 * naming it: release 5 and later do. The 4.1-era build (a snapshot, "N-47683-…", no release number) does not;
 * an unknown snapshot is treated like it (a new connection per file costs little; a refused playlist costs
 * the broadcast).
 */
export function hlsPersistentHttpInOrder(version: FfmpegVersion): boolean {
  return version.major !== undefined && version.major >= 5;
}

export class HlsPush {
  private readonly proc: ChildProcess;
  private stderrTail = "";
  readonly exited: Promise<number | null>;
  private writable = true;

  constructor(private readonly opts: HlsPushOptions) {
    const args = [
      "-hide_banner",
      "-loglevel",
      "warning",
      "-f",
      "flv",
      "-i",
      "pipe:0",
      "-map",
      "0",
      "-c",
      "copy",
      "-f",
      "hls",
      "-hls_time",
      String(opts.segmentDuration),
      "-hls_list_size",
      "6",
      "-hls_flags",
      "omit_endlist",
      "-method",
      "PUT",
      ...(opts.httpPersistent ? ["-http_persistent", "1"] : []),
      opts.hlsUrl,
    ];
    this.proc = spawn(opts.ffmpeg, args, { env: binaryEnv(opts.ffmpeg), stdio: ["pipe", "ignore", "pipe"] });
    this.proc.stderr?.on("data", (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-4000);
    });
    // A broken pipe after ffmpeg died is reported by `exited`; it must not crash the relay.
    this.proc.stdin?.on("error", () => {
      this.writable = false;
    });
    this.exited = new Promise((resolve) => {
      this.proc.on("exit", (code) => {
        this.writable = false;
        resolve(code);
      });
      this.proc.on("error", (err) => {
        this.writable = false;
        opts.log.error("relay.ffmpeg_spawn_failed", { error: err.message });
        resolve(null);
      });
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** ffmpeg's last words, with the stream key (part of every ingest URL it names) taken out. */
  stderr(): string {
    const key = /\/live\/([^/]+)\//.exec(this.opts.hlsUrl)?.[1];
    return key ? this.stderrTail.replaceAll(key, "<stream_key>") : this.stderrTail;
  }

  /**
   * Writes FLV bytes: "gone" when ffmpeg is (the session then closes the broadcaster's connection), "full"
   * when its pipe is backed up (the session stops reading the socket until `onDrain`, so TCP pushes back on
   * the broadcaster instead of the relay buffering without bound).
   */
  write(bytes: Buffer): "ok" | "full" | "gone" {
    if (!this.writable || !this.proc.stdin) return "gone";
    return this.proc.stdin.write(bytes) ? "ok" : "full";
  }

  onDrain(f: () => void): void {
    this.proc.stdin?.once("drain", f);
  }

  /**
   * Ends the input and waits for ffmpeg to flush its last segment and playlist. With `clean`, then tells the
   * API the broadcast is over (a playlist with ENDLIST). Returns ffmpeg's exit code.
   */
  async finish(opts: { clean: boolean; timeoutMs?: number }): Promise<number | null> {
    this.proc.stdin?.end();
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), opts.timeoutMs ?? 15_000);
    const code = await this.exited;
    clearTimeout(timer);
    if (code !== 0) {
      this.opts.log.warn("relay.ffmpeg_exit", { code, stderr: this.stderr().slice(-600) });
    }
    if (opts.clean) await this.sendEndList();
    return code;
  }

  /** Stops ffmpeg at once (relay shutdown): no flush, no ENDLIST. */
  kill(): void {
    this.proc.kill("SIGKILL");
  }

  private async sendEndList(): Promise<void> {
    const body = `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:${this.opts.segmentDuration}\n#EXT-X-ENDLIST\n`;
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        const res = await fetch(this.opts.hlsUrl, {
          method: "PUT",
          headers: { "content-type": "application/vnd.apple.mpegurl" },
          body,
          signal: AbortSignal.timeout(5000),
        });
        if (res.ok) return;
        this.opts.log.warn("relay.endlist_refused", { status: res.status, body: (await res.text()).slice(0, 300) });
        if (res.status < 500) return;
      } catch (err) {
        this.opts.log.warn("relay.endlist_failed", { attempt, error: (err as Error).message });
      }
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}
