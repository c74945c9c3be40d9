/** A chunk and the video ladder options as src/lib/ladder-chunk-protocol.ts carries them, both ways. */
import type { LadderChunkRequest } from "../../../src/lib/ladder-chunk-protocol.js";
import type { LadderVideo } from "../ffmpeg/ladder.js";
import type { Chunk } from "./plan.js";

type WireChunk = LadderChunkRequest["chunk"];
type WireVideo = LadderChunkRequest["video"];

export function chunkToWire(c: Chunk): WireChunk {
  return {
    index: c.index,
    start_frame: c.startFrame,
    ...(c.frames === undefined ? {} : { frames: c.frames }),
    start_seconds: c.startSeconds,
    seconds: c.seconds,
    first_segment: c.firstSegment,
    ...(c.segments === undefined ? {} : { segments: c.segments }),
  };
}

export function chunkFromWire(w: WireChunk): Chunk {
  return {
    index: w.index,
    startFrame: w.start_frame,
    frames: w.frames,
    startSeconds: w.start_seconds,
    seconds: w.seconds,
    firstSegment: w.first_segment,
    segments: w.segments,
  };
}

/** A watermarked ladder cannot go over the wire (the image is a local file): ladder.ts keeps those local. */
export function videoToWire(v: LadderVideo): WireVideo {
  if (v.watermark) throw new Error("a watermarked ladder's chunks are encoded locally");
  return {
    stream_index: v.streamIndex,
    rungs: v.rungs.map((r) => ({
      name: r.name,
      size: r.size,
      width: r.width,
      height: r.height,
      maxrate_kbps: r.maxrateKbps,
      bufsize_kbps: r.bufsizeKbps,
    })),
    frame_rate: v.frameRate,
    deinterlace: v.deinterlace ?? false,
    ...(v.durationSeconds === undefined ? {} : { duration_seconds: v.durationSeconds }),
  };
}

export function videoFromWire(w: WireVideo): LadderVideo {
  return {
    streamIndex: w.stream_index,
    rungs: w.rungs.map((r) => ({
      name: r.name,
      size: r.size,
      width: r.width,
      height: r.height,
      maxrateKbps: r.maxrate_kbps,
      bufsizeKbps: r.bufsize_kbps,
    })),
    frameRate: w.frame_rate,
    deinterlace: w.deinterlace,
    durationSeconds: w.duration_seconds,
  };
}
