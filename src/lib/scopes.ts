/** API key scopes (README "API at a glance"). `*` grants everything. */
export const SCOPES = [
  "assets:read",
  "assets:write",
  "uploads:write",
  "playback:write",
  "live:read",
  "live:write",
  "webhooks:read",
  "webhooks:write",
  "events:read",
  "keys:write",
  "*",
] as const;
export type Scope = (typeof SCOPES)[number];

export function hasScope(granted: readonly string[], required: Scope): boolean {
  return granted.includes("*") || granted.includes(required);
}
