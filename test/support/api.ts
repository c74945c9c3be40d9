/** `api()` from the shared factories with a loosely typed body: route tests read deep into responses. */
import { api as baseApi } from "../workers/factories";

export async function api(...args: Parameters<typeof baseApi>) {
  const res = await baseApi(...args);
  return { ...res, body: res.body as Record<string, any> };
}
