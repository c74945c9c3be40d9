/**
 * RFC 6381 codec strings for CODECS attributes. For H.264 we read the avcC box of the init
 * segment, which holds the exact profile, constraint flags and level the encoder wrote.
 */

const AVC_PROFILE_IDC: Record<string, [number, number]> = {
  "Constrained Baseline": [66, 0x40],
  Baseline: [66, 0x00],
  Main: [77, 0x00],
  Extended: [88, 0x00],
  High: [100, 0x00],
  "High 10": [110, 0x00],
  "High 4:2:2": [122, 0x00],
  "High 4:4:4 Predictive": [244, 0x00],
};

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}

/** `avc1.PPCCLL` from the first avcC box in an MP4 initialization segment, if any. */
export function avcCodecFromInit(init: Uint8Array): string | undefined {
  const buf = Buffer.from(init.buffer, init.byteOffset, init.byteLength);
  const at = buf.indexOf("avcC");
  // avcC payload: configurationVersion(=1), AVCProfileIndication, profile_compatibility, AVCLevelIndication.
  if (at < 0 || at + 8 > buf.length || buf[at + 4] !== 1) return undefined;
  return `avc1.${hex2(buf[at + 5])}${hex2(buf[at + 6])}${hex2(buf[at + 7])}`;
}

/** Fallback from ffprobe's profile name and level number (e.g. "High", 31 → avc1.64001f). */
export function avcCodecFromProfile(profile: string | undefined, level: number | undefined): string {
  const [idc, flags] = AVC_PROFILE_IDC[profile ?? ""] ?? [100, 0];
  const lvl = level && level > 0 && level < 256 ? level : 40;
  return `avc1.${hex2(idc)}${hex2(flags)}${hex2(lvl)}`;
}

/** `mp4a.40.N` from ffprobe's AAC profile name; LC when unknown. */
export function aacCodec(profile: string | undefined): string {
  switch (profile) {
    case "HE-AAC":
      return "mp4a.40.5";
    case "HE-AACv2":
      return "mp4a.40.29";
    case "Main":
      return "mp4a.40.1";
    case "LD":
      return "mp4a.40.23";
    case "ELD":
      return "mp4a.40.39";
    default:
      return "mp4a.40.2";
  }
}
