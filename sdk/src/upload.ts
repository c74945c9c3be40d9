/**
 * Resumable uploads with tus-js-client over `fetch` (its own HTTP stacks use XMLHttpRequest or node:http,
 * neither of which exists in Workers), so the same code runs in Workers, Node, Deno, Bun and browsers.
 * The browser build of tus-js-client is used everywhere: it reads Blobs/Files and stream readers, and
 * imports no Node built-ins.
 */
// The browser build as ES modules (Node >= 20.19 detects their syntax); the package's types describe it.

import type * as tus from "tus-js-client";
import * as tusBrowser from "tus-js-client/lib/browser/index.js";

const { Upload } = tusBrowser as unknown as typeof tus;

/** tus HttpStack over fetch. fetch reports no upload progress, so progress advances per chunk. */
export class FetchHttpStack implements tus.HttpStack {
  constructor(private readonly fetchImpl: (request: Request) => Promise<Response> = (r) => globalThis.fetch(r)) {}
  getName() {
    return "FetchHttpStack";
  }
  createRequest(method: string, url: string): tus.HttpRequest {
    const headers = new Headers();
    const controller = new AbortController();
    let onProgress: (n: number) => void = () => {};
    const fetchImpl = this.fetchImpl;
    return {
      getMethod: () => method,
      getURL: () => url,
      setHeader: (h, v) => headers.set(h, v),
      getHeader: (h) => headers.get(h) ?? undefined,
      setProgressHandler: (fn) => {
        onProgress = fn;
      },
      getUnderlyingObject: () => controller,
      abort: async () => controller.abort(),
      async send(body?: Blob | Uint8Array | null) {
        const size = body == null ? 0 : body instanceof Blob ? body.size : body.byteLength;
        const res = await fetchImpl(
          new Request(url, { method, headers, body: body ?? undefined, signal: controller.signal }),
        );
        const text = await res.text();
        if (size) onProgress(size);
        return {
          getStatus: () => res.status,
          getHeader: (h: string) => res.headers.get(h) ?? undefined,
          getBody: () => text,
          getUnderlyingObject: () => res,
        };
      },
    };
  }
}

export interface UploadFileOptions {
  onProgress?: (sentBytes: number, totalBytes: number | null) => void;
  /** Bytes per PATCH (default 8 MiB; the API takes at most 50 MB per request). Required for streams. */
  chunkSize?: number;
  /** Where tus URLs are remembered for resuming (e.g. localStorage in browsers, a file in the CLI). */
  urlStorage?: tus.UrlStorage;
  /** Identifies the file for resuming; default: name, type, size and lastModified of a File/Blob. */
  fingerprint?: (file: unknown, options: tus.UploadOptions) => Promise<string>;
  /** Resume a previous attempt found in urlStorage (default true). */
  resume?: boolean;
  /** For streams of unknown length: the total size, if you know it. */
  uploadSize?: number;
  metadata?: Record<string, string>;
  /** Defaults to globalThis.fetch (takes a Request, like KeyframeOptions.fetch). */
  fetch?: (request: Request) => Promise<Response>;
  retryDelays?: number[];
  signal?: AbortSignal;
}

export type UploadInput = Blob | ReadableStream<Uint8Array> | Uint8Array | ArrayBuffer;

/**
 * Sends a file to an upload's `tus_url` (from `kf.uploads.create()`); resolves with the tus URL when the
 * last byte is stored (the asset is created then; `kf.uploads.get()` names it).
 */
export async function uploadFile(
  upload: { tus_url: string },
  input: UploadInput,
  opts: UploadFileOptions = {},
): Promise<string> {
  const file: unknown =
    input instanceof Uint8Array || input instanceof ArrayBuffer
      ? new Blob([input])
      : input instanceof ReadableStream
        ? input.getReader()
        : input;
  const total = file instanceof Blob ? file.size : (opts.uploadSize ?? null);
  const chunkSize = opts.chunkSize ?? 8 * 1024 * 1024;
  const tusUpload = new Upload(file as Blob, {
    endpoint: upload.tus_url,
    chunkSize,
    uploadSize: file instanceof Blob ? undefined : opts.uploadSize,
    uploadLengthDeferred: !(file instanceof Blob) && opts.uploadSize === undefined,
    metadata: {
      ...(file instanceof Blob && file.type ? { filetype: file.type } : {}),
      ...opts.metadata,
    },
    httpStack: new FetchHttpStack(opts.fetch),
    retryDelays: opts.retryDelays ?? [0, 1000, 3000, 5000],
    ...(opts.urlStorage ? { urlStorage: opts.urlStorage, storeFingerprintForResuming: true } : {}),
    removeFingerprintOnSuccess: true,
    ...(opts.fingerprint ? { fingerprint: opts.fingerprint as tus.UploadOptions["fingerprint"] } : {}),
    onProgress: (sent) => opts.onProgress?.(sent, total),
  });
  if (opts.urlStorage && opts.resume !== false) {
    const previous = await tusUpload.findPreviousUploads();
    if (previous.length > 0) tusUpload.resumeFromPreviousUpload(previous[0]);
  }
  return new Promise<string>((resolve, reject) => {
    tusUpload.options.onSuccess = () => resolve(tusUpload.url ?? upload.tus_url);
    tusUpload.options.onError = reject;
    opts.signal?.addEventListener("abort", () => {
      tusUpload.abort().finally(() => reject(opts.signal?.reason));
    });
    tusUpload.start();
  });
}
