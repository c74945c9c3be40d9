/** What an HLS push encoder sends, built by hand for the live ingest tests. */

/**
 * An MPEG-TS segment: `packets` packets of `fill` bytes, the first with an adaptation field flagging random
 * access (what the ingest checks a segment starts with).
 */
export function tsSegment(packets = 20, fill = 0): Uint8Array {
  const b = new Uint8Array(188 * packets).fill(fill);
  for (let i = 0; i < packets; i++) {
    b[i * 188] = 0x47;
    b[i * 188 + 3] = 0x10;
  }
  b[3] = 0x30;
  b[4] = 7;
  b[5] = 0x40;
  return b;
}

/** The encoder's media playlist listing `entries` ([uri, seconds]), with ENDLIST when the broadcast `ended`. */
export function playlist(entries: [string, number][], ended = false): string {
  const lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:2", "#EXT-X-MEDIA-SEQUENCE:0"];
  for (const [uri, d] of entries) lines.push(`#EXTINF:${d.toFixed(6)},`, uri);
  if (ended) lines.push("#EXT-X-ENDLIST");
  return `${lines.join("\n")}\n`;
}
