/** Bench baseline: PUT /{key} streams the body into R2 with one `put` (known length). */
export default {
  async fetch(request: Request, env: { MEDIA: R2Bucket }): Promise<Response> {
    if (request.method !== "PUT" || !request.body) return new Response("PUT a body", { status: 405 });
    const length = Number(request.headers.get("content-length"));
    const key = new URL(request.url).pathname.slice(1);
    const body = request.body.pipeThrough(new FixedLengthStream(length));
    const obj = await env.MEDIA.put(key, body);
    return Response.json({ key, size: obj?.size ?? 0 });
  },
};
