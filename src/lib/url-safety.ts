/**
 * Outbound URL policy for anything we fetch on a customer's behalf (ingest URLs, webhook endpoints):
 * only http(s), no credentials in the URL, and no private, loopback, link-local or metadata addresses
 * unless the deployment explicitly allows them (local development). Workers cannot resolve DNS
 * before fetching, so hostnames are judged by their literal form; redirects must be followed by hand
 * (`redirect: "manual"`) and every hop checked again.
 */
export type UrlVerdict = { ok: true; url: URL } | { ok: false; reason: string };

const BLOCKED_HOSTNAMES = [
  /^localhost$/i,
  /\.localhost$/i,
  /\.local$/i,
  /\.internal$/i,
  /^metadata\.google\.internal$/i,
];

function ipv4Private(host: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 198 && (b === 18 || b === 19)) ||
    a >= 224
  );
}

function ipv6Private(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (!h.includes(":")) return false;
  if (h === "::" || h === "::1") return true;
  if (/^f[cd]/.test(h) || /^fe[89ab]/.test(h) || /^ff/.test(h)) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  if (mapped) return ipv4Private(mapped[1]);
  if (/^::ffff:[0-9a-f]{1,4}:[0-9a-f]{1,4}$/.test(h)) return true; // hex-form mapped IPv4: refuse outright
  return false;
}

/** True for hosts that look numeric but are not dotted-quad (e.g. 2130706433, 0x7f.1): refused. */
function obfuscatedNumericHost(host: string): boolean {
  return /^[0-9a-fx.]+$/i.test(host) && !/^\d{1,3}(\.\d{1,3}){3}$/.test(host) && !/[g-wyz]/i.test(host);
}

export function checkOutboundUrl(raw: string, opts: { allowPrivate: boolean; requireHttps?: boolean }): UrlVerdict {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "not a valid URL" };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    return { ok: false, reason: "only http(s) URLs are allowed" };
  if (opts.requireHttps && url.protocol !== "https:") return { ok: false, reason: "only https URLs are allowed" };
  if (url.username || url.password) return { ok: false, reason: "credentials in URLs are not allowed" };
  if (opts.allowPrivate) return { ok: true, url };
  const host = url.hostname;
  if (BLOCKED_HOSTNAMES.some((re) => re.test(host))) return { ok: false, reason: `host '${host}' is not public` };
  if (ipv4Private(host) || ipv6Private(host))
    return { ok: false, reason: `address '${host}' is private, loopback or link-local` };
  if (obfuscatedNumericHost(host)) return { ok: false, reason: `host '${host}' is not a public hostname` };
  return { ok: true, url };
}
