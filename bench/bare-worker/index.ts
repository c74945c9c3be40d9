/** Bench baseline: GET /{key} streams that R2 object as it is (no auth, no D1, no cache); GET /health. */
export default {
  async fetch(request: Request, env: { MEDIA: R2Bucket }): Promise<Response> {
    const key = new URL(request.url).pathname.slice(1);
    if (key === "health") return new Response("ok");
    const obj = await env.MEDIA.get(key);
    if (!obj) return new Response("no such object", { status: 404 });
    return new Response(obj.body, {
      headers: {
        "Content-Type": "video/iso.segment",
        "Content-Length": String(obj.size),
        ETag: obj.httpEtag,
      },
    });
  },
};
