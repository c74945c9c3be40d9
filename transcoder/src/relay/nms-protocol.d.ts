/**
 * Types for the two node-media-server protocol modules the relay uses (the package ships plain JS with
 * JSDoc and no declarations for its internals). Only what the relay touches; pinned to node-media-server 4.4.3.
 */
declare module "node-media-server/src/protocol/rtmp.js" {
  interface AVPacket {
    codec_type: number;
    dts: number;
    size: number;
    data: Buffer;
  }
  interface AmfInvoke {
    cmd: string;
    transId: number;
    streamName?: string;
  }
  class Rtmp {
    streamApp: string;
    streamName: string;
    streamId: number;
    parserPacket: { header: { stream_id: number } };
    onConnectCallback: (req: { app: string; name: string; host: string; query: unknown }) => void;
    onPlayCallback: () => void;
    onPushCallback: () => void;
    onPacketCallback: (packet: AVPacket) => void;
    onOutputCallback: (buffer: Buffer) => void;
    /** Feeds bytes from the socket; returns an error string when the stream is not RTMP. */
    parserData(buffer: Buffer): string | null;
    onPublish(invoke: AmfInvoke): void;
    onPlay(invoke: AmfInvoke): void;
    onDeleteStream(invoke: AmfInvoke): void;
    respondPublish(): void;
    sendStatusMessage(streamId: number, level: string, code: string, description: string): void;
  }
  export = Rtmp;
}

declare module "node-media-server/src/protocol/flv.js" {
  interface AVPacket {
    codec_type: number;
    dts: number;
    size: number;
    data: Buffer;
  }
  const Flv: {
    createHeader(hasAudio: boolean, hasVideo: boolean): Buffer;
    createMessage(packet: AVPacket): Buffer;
  };
  export = Flv;
}
