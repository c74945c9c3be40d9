/**
 * Which URLs may receive webhooks: https only outside development, and never private, loopback or
 * link-local addresses unless the deployment allows them (local development and tests set
 * ALLOW_PRIVATE_WEBHOOK_URLS to "true"; ALLOW_PRIVATE_INGEST_URLS covers input URLs only and does not
 * unlock webhooks). Checked on create/update and again before every send.
 */
import { ValidationError } from "../../lib/errors";
import { checkOutboundUrl, type UrlVerdict } from "../../lib/url-safety";

type PolicyEnv = Pick<Env, "KEYFRAME_ENV" | "ALLOW_PRIVATE_WEBHOOK_URLS">;

export function checkWebhookUrl(env: PolicyEnv, url: string): UrlVerdict {
  return checkOutboundUrl(url, {
    allowPrivate: env.ALLOW_PRIVATE_WEBHOOK_URLS === "true",
    requireHttps: env.KEYFRAME_ENV !== "development",
  });
}

export function assertWebhookUrl(env: PolicyEnv, url: string): string {
  const verdict = checkWebhookUrl(env, url);
  if (!verdict.ok) {
    throw new ValidationError(`The webhook URL is not allowed: ${verdict.reason}.`, [
      { location: "json.url", message: verdict.reason },
    ]);
  }
  return verdict.url.toString();
}
