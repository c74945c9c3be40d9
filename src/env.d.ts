// Secrets are not in wrangler.toml, so `wrangler types` cannot see them; declare them here.
declare namespace Cloudflare {
  interface Env {
    /** HMAC secret for job-scoped transcoder tokens (wrangler secret put JOB_TOKEN_SECRET). */
    JOB_TOKEN_SECRET: string;
  }
}
