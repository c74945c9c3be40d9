/**
 * @keyframe/sdk — the Keyframe API client. fetch + WebCrypto only: Workers, Node 20+, Deno, Bun, browsers.
 */
export {
  type Asset,
  type CallOptions,
  Keyframe,
  type KeyframeOptions,
  PageIterable,
  type WaitForAssetOptions,
} from "./client";
export { AssetErroredError, type ErrorCode, KeyframeApiError, type Problem, WebhookVerificationError } from "./errors";
export type { components, operations, paths } from "./generated/openapi";
export { OPERATIONS } from "./generated/operations";
export { type PlaybackAudience, type SignPlaybackTokenInput, signPlaybackToken } from "./playback-token";
export { type RetryOptions, retryAfterMs, retryingFetch } from "./retry";
export { FetchHttpStack, type UploadFileOptions, type UploadInput, uploadFile } from "./upload";
export { type VerifyWebhookOptions, verifyWebhook } from "./webhooks";
