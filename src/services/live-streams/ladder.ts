/**
 * The live ladder's settings check, shared by create and update: the stream's renditions against its
 * latency mode and its recording's max_resolution, as the stream will read after the change. A violation
 * is a 400 naming the field; a ladder changed while a broadcast runs is a 409 (the transcoder's job was
 * started with the ladder the session began with).
 */
import { InvalidStateError, ValidationError } from "../../lib/errors";
import { type LiveRendition, ladderProblems, sortRenditions } from "../../lib/live-ladder-protocol";
import type { MaxResolution } from "../../lib/transcoder-protocol";

export function checkLadder(input: {
  renditions: readonly string[];
  latencyMode: "standard" | "low";
  newAssetSettings: Record<string, unknown> | undefined;
  /** Whether the request itself sent `renditions` (errors then point into the body's array). */
  sent: boolean;
}): LiveRendition[] {
  const maxResolution = (input.newAssetSettings?.max_resolution as MaxResolution | undefined) ?? "1080p";
  const problems = ladderProblems(input.renditions, { maxResolution, latencyMode: input.latencyMode });
  if (problems.length > 0) {
    const errors = problems.map((p) => ({
      location: p.index !== null && input.sent ? `json.renditions.${p.index}` : "json.renditions",
      message: p.message,
    }));
    throw new ValidationError(`renditions: ${problems.map((p) => p.message).join("; ")}.`, errors);
  }
  return sortRenditions(input.renditions as LiveRendition[]);
}

export function assertLadderChangeAllowed(stream: { id: string; status: string }) {
  if (stream.status === "active") {
    throw new InvalidStateError("live stream", stream.id, "active", "change the renditions of");
  }
}
