/**
 * One broadcaster's TCP connection. node-media-server's RTMP protocol layer does the handshake, chunking and
 * AMF; this class decides. Its gate is the `publish` command: node-media-server answers a publish with
 * `NetStream.Publish.Start` in the same breath (its own `prePublish` hook is synchronous and fires after that
 * answer), so the relay takes the command over — it asks the API about the key first and only then answers
 * Publish.Start, or answers an error status and closes. Encoders (ffmpeg, OBS/librtmp) send no media before
 * Publish.Start, and anything that arrives anyway is dropped: no media from an unknown or disabled key is
 * ever forwarded.
 */
import type { Socket } from "node:net";
import Flv from "node-media-server/src/protocol/flv.js";
import Rtmp from "node-media-server/src/protocol/rtmp.js";
import type { Logger } from "../log.js";
import type { PublishDecision, RelayApi } from "./api.js";
import { HlsPush } from "./hls-push.js";

const FLV_AUDIO = 8;
const FLV_VIDEO = 9;
/** A connection that has not published by then is dropped (port scanners, stuck clients). */
const PUBLISH_DEADLINE_MS = 30_000;

export interface SessionDeps {
  app: string;
  api: RelayApi;
  ffmpeg: string;
  /** Whether that ffmpeg may push over one persistent connection (hlsPersistentHttpInOrder). */
  httpPersistent: boolean;
  log: Logger;
  /** Keys on air through this relay: a second publish on the same key is refused here already. */
  onAir: Set<string>;
  stats: { accepted: number; refused: number };
}

type State = "connecting" | "authorizing" | "publishing" | "closed";

export class RelaySession {
  private readonly rtmp = new Rtmp();
  private state: State = "connecting";
  private push: HlsPush | null = null;
  private key: string | null = null;
  private cleanStop = false;
  private readonly deadline: NodeJS.Timeout;
  private log: Logger;

  constructor(
    private readonly socket: Socket,
    private readonly deps: SessionDeps,
  ) {
    this.log = deps.log.child({ remote: `${socket.remoteAddress}:${socket.remotePort}` });
    this.rtmp.onOutputCallback = (buf) => {
      if (!socket.destroyed) socket.write(buf);
    };
    this.rtmp.onPacketCallback = (packet) => this.onPacket(packet);
    // Take the commands over (see the module comment): nothing is answered before the key is checked.
    this.rtmp.onPublish = (invoke) => void this.onPublish(invoke);
    this.rtmp.onPlay = () => this.refuse("NetStream.Play.Failed", "This relay accepts publishing only.");
    this.rtmp.onDeleteStream = () => void this.onUnpublish();
    socket.setNoDelay(true);
    socket.on("data", (data: Buffer) => {
      const err = this.rtmp.parserData(data);
      if (err) {
        this.log.warn("relay.protocol_error", { error: err });
        socket.destroy();
      }
    });
    socket.on("close", () => void this.onClose());
    socket.on("error", (e) => this.log.debug("relay.socket_error", { error: e.message }));
    this.deadline = setTimeout(() => {
      if (this.state === "connecting") socket.destroy();
    }, PUBLISH_DEADLINE_MS);
  }

  private async onPublish(invoke: { streamName?: string }) {
    if (this.state !== "connecting") return;
    this.state = "authorizing";
    clearTimeout(this.deadline);
    // Captured now: the parser moves on to the next chunk while the API answers.
    const streamId = this.rtmp.parserPacket.header.stream_id;
    const key = (invoke.streamName ?? "").split("?")[0];
    const app = this.rtmp.streamApp ?? "";
    let decision: PublishDecision;
    if (app !== this.deps.app) {
      decision = { ok: false, reason: "unknown_key", detail: `Publish to rtmp://…/${this.deps.app}/<stream key>.` };
    } else if (this.deps.onAir.has(key)) {
      decision = { ok: false, reason: "unknown_key", detail: "This stream key is already publishing." };
    } else {
      this.deps.onAir.add(key);
      this.key = key;
      decision = await this.deps.api.authorize(key);
    }
    if (this.state !== "authorizing") return; // the broadcaster hung up while we asked
    if (!decision.ok) {
      this.deps.stats.refused++;
      this.log.info("relay.publish_refused", { reason: decision.reason, detail: decision.detail });
      this.rtmp.streamId = streamId;
      const code = decision.reason === "unavailable" ? "NetStream.Publish.Failed" : "NetStream.Publish.BadName";
      return this.refuse(code, decision.detail, streamId);
    }
    const grant = decision.grant;
    this.log = this.log.child({ live_stream_id: grant.live_stream_id });
    this.push = new HlsPush({
      ffmpeg: this.deps.ffmpeg,
      httpPersistent: this.deps.httpPersistent,
      hlsUrl: grant.hls_url,
      segmentDuration: grant.segment_duration,
      log: this.log,
    });
    this.push.write(Flv.createHeader(true, true));
    void this.push.exited.then((code) => {
      // ffmpeg died under a live broadcast (not because we ended its input): drop the broadcaster, who
      // reconnects (OBS does by itself) into a fresh converter and the same session.
      if (this.state === "publishing") {
        this.log.warn("relay.ffmpeg_died", { code, stderr: this.push?.stderr().slice(-600) });
        this.socket.destroy();
      }
    });
    this.state = "publishing";
    this.deps.stats.accepted++;
    this.rtmp.streamName = key;
    this.rtmp.streamId = streamId;
    this.rtmp.respondPublish();
    this.log.info("relay.publish_accepted", { ffmpeg_pid: this.push.pid, segment_duration: grant.segment_duration });
  }

  private onPacket(packet: { codec_type: number; dts: number; size: number; data: Buffer }) {
    if (this.state !== "publishing" || !this.push) return;
    if (packet.codec_type !== FLV_AUDIO && packet.codec_type !== FLV_VIDEO) return;
    const r = this.push.write(Flv.createMessage(packet));
    if (r === "gone") this.socket.destroy();
    else if (r === "full") {
      this.socket.pause();
      this.push.onDrain(() => this.socket.resume());
    }
  }

  /** The broadcaster stopped on purpose (deleteStream): the session ends at once, recording ready. */
  private async onUnpublish() {
    if (this.state !== "publishing") return;
    this.cleanStop = true;
    this.socket.end();
  }

  // Declared before `closed`: field initializers run in order, and `closed`'s executor assigns this one.
  private resolveClosed!: () => void;
  /** Resolves when the connection is closed and its converter has flushed and exited. */
  readonly closed: Promise<void> = new Promise((resolve) => {
    this.resolveClosed = resolve;
  });

  private async onClose() {
    clearTimeout(this.deadline);
    const was = this.state;
    this.state = "closed";
    if (this.key) this.deps.onAir.delete(this.key);
    if (was === "publishing" && this.push) {
      const code = await this.push.finish({ clean: this.cleanStop });
      this.log.info("relay.publish_ended", { clean: this.cleanStop, ffmpeg_exit: code });
    }
    this.resolveClosed();
  }

  /** An error status the encoder shows its user (ffmpeg: "Server error: …", exit non-zero), then close. */
  private refuse(code: string, description: string, streamId = this.rtmp.streamId ?? 0) {
    this.state = "closed";
    if (this.key) this.deps.onAir.delete(this.key);
    this.key = null;
    this.rtmp.sendStatusMessage(streamId, "error", code, description);
    this.socket.end();
  }

  /**
   * Relay shutdown: drop the broadcaster and flush what arrived, without ENDLIST — the session stays open for
   * the reconnect window, and the broadcaster reconnects (to this relay restarted, or another one).
   */
  shutdown(): Promise<void> {
    this.socket.destroy();
    return this.closed;
  }
}
