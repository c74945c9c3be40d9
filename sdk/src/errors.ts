/** Every API failure surfaces as one typed exception carrying the problem+json fields. */
import type { components } from "./generated/openapi";

export type Problem = components["schemas"]["Problem"];
export type ErrorCode = Problem["code"];

export class KeyframeApiError extends Error {
  readonly status: number;
  /** From the closed enum in the OpenAPI document (`not_found`, `validation_failed`, …). */
  readonly code: ErrorCode | "network_error" | "unknown_error";
  readonly request_id: string | undefined;
  readonly detail: string;
  readonly errors: Problem["errors"];
  readonly problem: Partial<Problem> | undefined;

  constructor(status: number, problem: Partial<Problem> | undefined, requestId?: string, fallback?: string) {
    const detail = problem?.detail ?? fallback ?? `HTTP ${status}`;
    const request_id = problem?.request_id ?? requestId;
    super(`${problem?.code ?? "unknown_error"}: ${detail}${request_id ? ` (request_id ${request_id})` : ""}`);
    this.name = "KeyframeApiError";
    this.status = status;
    this.code = problem?.code ?? "unknown_error";
    this.request_id = request_id;
    this.detail = detail;
    this.errors = problem?.errors ?? [];
    this.problem = problem;
  }

  /** Narrow to a code: `if (KeyframeApiError.is(err, "not_found")) …`. */
  static is(err: unknown, code?: KeyframeApiError["code"]): err is KeyframeApiError {
    return err instanceof KeyframeApiError && (code === undefined || err.code === code);
  }
}

/** The asset reached `errored` while waitForAsset was waiting for something else. */
export class AssetErroredError extends Error {
  constructor(
    readonly asset: { id: string; status: string; errors?: unknown },
    message = `Asset ${asset.id} errored: ${JSON.stringify(asset.errors ?? null)}`,
  ) {
    super(message);
    this.name = "AssetErroredError";
  }
}

export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookVerificationError";
  }
}
