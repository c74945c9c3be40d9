/** Helpers for the tus tests: raw tus requests through the real worker, deterministic test bytes. */
import { env, SELF } from "cloudflare:test";
import { expect } from "vitest";
import { uploadSession } from "../../src/upload-session/client";
import { api, type TestKey } from "./factories";

export const MiB = 1024 * 1024;

/** Deterministic pseudo-random bytes (xorshift32): incompressible and reproducible. */
export function testBytes(n: number, seed = 0x9e3779b9): Uint8Array {
  const words = new Uint32Array(Math.ceil(n / 4));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    words[i] = x;
  }
  return new Uint8Array(words.buffer, 0, n);
}

export async function sha256(bytes: Uint8Array | ArrayBuffer): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export async function sha1Base64(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-1", bytes));
  return btoa(String.fromCharCode(...d));
}

export function b64(s: string): string {
  return btoa(s);
}

export interface CreatedUpload {
  id: string;
  tusUrl: string;
  /** The same URL on the test host. */
  url: string;
}

export async function newUpload(key: TestKey, body: Record<string, unknown> = {}): Promise<CreatedUpload> {
  const res = await api(key, "POST", "/v1/uploads", body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const tusUrl = res.body.tus_url as string;
  return { id: res.body.id as string, tusUrl, url: localUrl(tusUrl) };
}

export function localUrl(absolute: string): string {
  const u = new URL(absolute);
  return `http://keyframe.test${u.pathname}${u.search}`;
}

export async function tus(
  url: string,
  method: string,
  headers: Record<string, string> = {},
  body?: BodyInit | null,
): Promise<TusResponse> {
  const res = await SELF.fetch(url, {
    method,
    headers: { "Tus-Resumable": "1.0.0", ...headers },
    body: body ?? undefined,
    ...(body instanceof ReadableStream ? ({ duplex: "half" } as RequestInit) : {}),
  });
  const text = await res.text();
  let json: Record<string, unknown> | null = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = { _text: text };
    }
  }
  return { status: res.status, headers: res.headers, json };
}

export interface TusResponse {
  status: number;
  headers: Headers;
  json: Record<string, unknown> | null;
}

export async function create(url: string, length: number | "defer", headers: Record<string, string> = {}) {
  const h: Record<string, string> =
    length === "defer" ? { "Upload-Defer-Length": "1" } : { "Upload-Length": String(length) };
  return tus(url, "POST", { ...h, ...headers });
}

export async function patch(
  url: string,
  offset: number,
  bytes: Uint8Array | ReadableStream,
  headers: Record<string, string> = {},
) {
  return tus(
    url,
    "PATCH",
    { "Content-Type": "application/offset+octet-stream", "Upload-Offset": String(offset), ...headers },
    bytes as BodyInit,
  );
}

export async function head(url: string) {
  return tus(url, "HEAD");
}

export async function inspectSession(uploadId: string) {
  return uploadSession(env, uploadId).inspect();
}

export async function r2Sha(uploadId: string): Promise<{ sha: string; size: number } | null> {
  const obj = await env.MEDIA.get(`sources/${uploadId}/source`);
  if (!obj) return null;
  const buf = await obj.arrayBuffer();
  return { sha: await sha256(buf), size: buf.byteLength };
}
