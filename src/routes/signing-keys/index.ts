/** Signing keys and playback tokens. */
import type { App } from "../../app";
import { registerCreateSigningKey } from "./create";
import { registerRevokeSigningKey } from "./delete";
import { registerGetSigningKey } from "./get";
import { registerListSigningKeys } from "./list";
import { registerMintPlaybackTokens } from "./mint-tokens";

export function registerSigningKeyRoutes(app: App) {
  registerCreateSigningKey(app);
  registerListSigningKeys(app);
  registerGetSigningKey(app);
  registerRevokeSigningKey(app);
  registerMintPlaybackTokens(app);
}
