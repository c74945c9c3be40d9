/** The top-level box types of an ISO BMFF file, in order: enough to tell faststart (moov before mdat). */
export function topLevelBoxes(buf: Uint8Array): string[] {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const types: string[] = [];
  let offset = 0;
  while (offset + 8 <= buf.byteLength) {
    let size = view.getUint32(offset);
    const type = String.fromCharCode(...buf.subarray(offset + 4, offset + 8));
    if (size === 1) size = Number(view.getBigUint64(offset + 8));
    else if (size === 0) size = buf.byteLength - offset;
    if (size < 8) throw new Error(`bad box size ${size} at ${offset}`);
    types.push(type);
    offset += size;
  }
  return types;
}
