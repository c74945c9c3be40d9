/**
 * Encryption at rest for the system signing keys' private halves (src/lib/seal.ts, purpose
 * `signing-key-wrap`, the key ID as additional data). If JOB_TOKEN_SECRET is rotated the old
 * ciphertexts simply stop opening and a new system key is made.
 */
import { seal, unseal } from "../../lib/seal";

const scope = (secret: string, environmentId: string, kid: string) => ({
  secret,
  purpose: "signing-key-wrap",
  environmentId,
  rowId: kid,
});

export function sealPrivateJwk(
  secret: string,
  environmentId: string,
  kid: string,
  jwk: Record<string, unknown>,
): Promise<string> {
  return seal(scope(secret, environmentId, kid), JSON.stringify(jwk));
}

/** null when the ciphertext does not open (wrong secret, wrong row, corrupted). */
export async function openPrivateJwk(
  secret: string,
  environmentId: string,
  kid: string,
  sealed: string,
): Promise<Record<string, unknown> | null> {
  const pt = await unseal(scope(secret, environmentId, kid), sealed);
  if (pt === null) return null;
  try {
    return JSON.parse(pt);
  } catch {
    return null;
  }
}
