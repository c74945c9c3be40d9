/** Compile-time checks of the generated client's types (`npm run typecheck`); never executed. */
// biome-ignore-all lint/correctness/noUnusedVariables: the bindings exist only to be type-checked.
import { Keyframe } from "../src/index";

const kf = new Keyframe({ baseUrl: "x", apiKey: "y" });
async function f() {
  const a = await kf.assets.get({ asset_id: "as_1" });
  const s: string = a.status;
  for await (const x of kf.assets.list({ limit: 2 })) {
    const id: string = x.id;
  }
  const page = await kf.assets.list();
  const c: string | null = page.next_cursor;
  const up = await kf.uploads.create({ new_asset_settings: { playback_policy: "public" } });
  // Optional: only keys with uploads:write receive the tokenised URLs.
  const t: string | null | undefined = up.tus_url;
  await kf.assets.delete({ asset_id: "x" });
  // @ts-expect-error asset_id is required
  await kf.assets.get({});
  // @ts-expect-error unknown status
  await kf.assets.list({ status: "nope" });
  const h = await kf.health.check();
  const ok: boolean = h.ok;
}
async function events() {
  // The event feed polls with `after`, not `cursor`: a plain promise of one page.
  const page = await kf.events.list({ limit: 5 });
  const after: string | null = page.next_after;
}
