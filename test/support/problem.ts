/** Assertions shared by route tests: a failure is RFC 9457 problem+json with our closed code and a request ID. */
import { expect } from "vitest";

export interface ApiResult {
  status: number;
  body: Record<string, any>;
  headers: Headers;
}

export function expectProblem(res: ApiResult, status: number, code?: string, context = "") {
  const where = context ? `${context}: ` : "";
  expect(res.status, `${where}status (body ${JSON.stringify(res.body).slice(0, 300)})`).toBe(status);
  expect(res.headers.get("content-type"), `${where}content-type`).toContain("application/problem+json");
  if (code) expect(res.body.code, `${where}code`).toBe(code);
  expect(res.body.status, `${where}body.status`).toBe(status);
  expect(typeof res.body.title, `${where}title`).toBe("string");
  expect(typeof res.body.detail, `${where}detail`).toBe("string");
  expect(res.body.type, `${where}type`).toMatch(/^https:\/\/keyframe\.dev\/errors\//);
  expect(Array.isArray(res.body.errors), `${where}errors[]`).toBe(true);
  expect(res.body.request_id, `${where}request_id`).toBeTruthy();
  expect(res.headers.get("x-request-id"), `${where}X-Request-Id matches body`).toBe(res.body.request_id);
  expect(JSON.stringify(res.body), `${where}no stack traces`).not.toMatch(/\bat .+\(.*:\d+:\d+\)/);
}
