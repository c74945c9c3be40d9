/**
 * CEA-608 captions carried inside the video (issue 16): the master declares them as a CLOSED-CAPTIONS
 * group with INSTREAM-ID="CC1" and every variant names the group, so players list them as a captions track
 * (hls.js, Safari, ExoPlayer read 608 from the H.264 SEI; the declaration gives the track its name). The
 * fast-path remux copies the SEI as is and the ladder re-embeds it (-a53cc), so both masters declare it.
 * Only CC1 is declared: it is where 608 captions live in practice; CC3/SERVICEn are not detected.
 */
export const CC_GROUP = "cc";

export interface ClosedCaptionsLabel {
  name: string;
  /** BCP 47, when known (the source does not say; the asset's main audio language is the best guess). */
  language?: string;
}

export function closedCaptionLines(cc: ClosedCaptionsLabel): string[] {
  const attrs = [
    "TYPE=CLOSED-CAPTIONS",
    `GROUP-ID="${CC_GROUP}"`,
    `NAME="${cc.name.replace(/["\r\n]/g, "'")}"`,
    ...(cc.language ? [`LANGUAGE="${cc.language}"`] : []),
    "DEFAULT=NO",
    "AUTOSELECT=YES",
    'INSTREAM-ID="CC1"',
  ];
  return [`#EXT-X-MEDIA:${attrs.join(",")}`];
}

/** Adds the group's lines before the first variant and `CLOSED-CAPTIONS="cc"` to every variant. */
export function withClosedCaptions(lines: readonly string[], cc: ClosedCaptionsLabel | undefined): string[] {
  if (!cc) return [...lines];
  const out: string[] = [];
  let inserted = false;
  for (const line of lines) {
    if (line.startsWith("#EXT-X-STREAM-INF:")) {
      if (!inserted) {
        out.push(...closedCaptionLines(cc));
        inserted = true;
      }
      out.push(`${line},CLOSED-CAPTIONS="${CC_GROUP}"`);
    } else out.push(line);
  }
  return out;
}
