/** Signing keys and playback tokens. */
import type { App } from "../../app";
import { registerCreateSigningKey } from "./create";
import { registerRevokeSigningKey } from "./delete";
import { registerGetSigningKey } from "./get";
import { registerListSigningKeys } from "./list";
import { registerMintPlaybackTokens } from "./mint-tokens";
import { registerRotateSystemSigningKey } from "./rotate-system";

export function registerSigningKeyRoutes(app: App) {
  registerCreateSigningKey(app);
  // Before `/{signing_key_id}` routes; "system" never matches the sk_ pattern anyway.
  registerRotateSystemSigningKey(app);
  registerListSigningKeys(app);
  registerGetSigningKey(app);
  registerRevokeSigningKey(app);
  registerMintPlaybackTokens(app);
}
