/**
 * Outbound URL policy for anything we fetch on a customer's behalf (ingest URLs, webhook endpoints):
 * only http(s), no credentials in the URL, and — unless the deployment explicitly allows private targets
 * for that kind of fetch (local development) — no host that is not a public name or a globally routable
 * address.
 *
 * Addresses are refused by range, from the IANA IPv4 and IPv6 special-purpose address registries (every
 * entry, including the few marked globally reachable: nothing we fetch lives there), plus multicast and
 * everything IPv6 outside global unicast 2000::/3. IPv6 forms that embed an IPv4 address (IPv4-mapped
 * ::ffff:0:0/96, IPv4-translated ::ffff:0:0:0/96, IPv4-compatible ::/96, 6to4 2002::/16) are judged by the
 * address they embed; NAT64 (64:ff9b::/96, 64:ff9b:1::/48) and Teredo are refused outright, since the
 * embedded address is reached through a translator we cannot see. Hostnames lose their trailing dots
 * first (`localhost.` is `localhost`) and special-use names (RFC 6761/6762, `.internal`, `.home.arpa`)
 * and single-label names (resolved through search domains, e.g. `metadata`) are refused.
 *
 * Workers cannot resolve DNS before fetching (no resolver API, and a DNS-over-HTTPS lookup would need
 * the internet, which local runs may not have), so a public-looking name that resolves to a private
 * address is judged by its name only. On Cloudflare such a fetch cannot reach a private network anyway
 * (Workers egress from Cloudflare's edge); locally it can, which is why the allowances exist only as
 * development flags. Redirects must be followed by hand (`redirect: "manual"`) and every hop checked again.
 */
export type UrlVerdict = { ok: true; url: URL } | { ok: false; reason: string };

const BLOCKED_NAMES = [
  /^localhost$/,
  /\.localhost$/,
  /\.local$/,
  /\.internal$/,
  /\.intranet$/,
  /\.lan$/,
  /\.localdomain$/,
  /\.home\.arpa$/,
  /\.arpa$/,
  /\.test$/,
  /\.invalid$/,
  /\.example$/,
  /\.onion$/,
  /\.alt$/,
];

type Cidr4 = [number, number];
/** IANA IPv4 Special-Purpose Address Registry, plus multicast and limited broadcast. */
const IPV4_BLOCKED: ReadonlyArray<[string, string]> = [
  ["0.0.0.0/8", "'this network'"],
  ["10.0.0.0/8", "private"],
  ["100.64.0.0/10", "shared address space (CGNAT)"],
  ["127.0.0.0/8", "loopback"],
  ["169.254.0.0/16", "link-local"],
  ["172.16.0.0/12", "private"],
  ["192.0.0.0/24", "IETF protocol assignments"],
  ["192.0.2.0/24", "documentation"],
  ["192.31.196.0/24", "AS112"],
  ["192.52.193.0/24", "AMT"],
  ["192.88.99.0/24", "6to4 relay anycast"],
  ["192.168.0.0/16", "private"],
  ["192.175.48.0/24", "AS112"],
  ["198.18.0.0/15", "benchmarking"],
  ["198.51.100.0/24", "documentation"],
  ["203.0.113.0/24", "documentation"],
  ["224.0.0.0/4", "multicast"],
  ["240.0.0.0/4", "reserved"],
  ["255.255.255.255/32", "broadcast"],
];
const IPV4_TABLE: ReadonlyArray<{ net: Cidr4; what: string }> = IPV4_BLOCKED.map(([cidr, what]) => {
  const [ip, bits] = cidr.split("/");
  const n = parseIpv4(ip) as number;
  return { net: [n, Number(bits)], what };
});

/** IANA IPv6 Special-Purpose Address Registry, plus the deprecated and non-unicast blocks. */
const IPV6_BLOCKED: ReadonlyArray<[string, string]> = [
  ["64:ff9b::/96", "NAT64"],
  ["64:ff9b:1::/48", "local-use NAT64"],
  ["100::/64", "discard-only"],
  ["100:0:0:1::/64", "dummy prefix"],
  ["2001::/23", "IETF protocol assignments (Teredo, benchmarking, ORCHID, …)"],
  ["2001:db8::/32", "documentation"],
  ["3fff::/20", "documentation"],
  ["5f00::/16", "segment routing SIDs"],
  ["fc00::/7", "unique local"],
  ["fe80::/10", "link-local"],
  ["fec0::/10", "site-local"],
  ["ff00::/8", "multicast"],
];
const IPV6_TABLE = IPV6_BLOCKED.map(([cidr, what]) => {
  const [ip, bits] = cidr.split("/");
  return { net: parseIpv6(ip) as bigint, bits: Number(bits), what };
});

function parseIpv4(host: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

function parseIpv6(host: string): bigint | null {
  let h = host.toLowerCase();
  // Zone IDs (fe80::1%eth0) only exist for link-local addresses.
  if (h.includes("%")) return null;
  const dotted = /(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/.exec(h);
  if (dotted) {
    const v4 = parseIpv4(dotted[1]);
    if (v4 === null) return null;
    h = `${h.slice(0, -dotted[1].length)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = h.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  let n = 0n;
  for (const g of groups) {
    if (!/^[0-9a-f]{1,4}$/.test(g)) return null;
    n = (n << 16n) | BigInt(Number.parseInt(g, 16));
  }
  return n;
}

function inV6(addr: bigint, net: bigint, bits: number): boolean {
  const shift = BigInt(128 - bits);
  return addr >> shift === net >> shift;
}

function ipv4Verdict(n: number): string | null {
  for (const { net, what } of IPV4_TABLE) {
    const mask = net[1] === 0 ? 0 : (~0 << (32 - net[1])) >>> 0;
    if ((n & mask) >>> 0 === (net[0] & mask) >>> 0) return what;
  }
  return null;
}

function v4String(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

function ipv6Verdict(a: bigint): string | null {
  if (a === 0n) return "unspecified";
  if (a === 1n) return "loopback";
  const low32 = Number(a & 0xffffffffn);
  const embedded = (what: string) => {
    const inner = ipv4Verdict(low32);
    return inner ? `${what} of a ${inner} IPv4 address (${v4String(low32)})` : null;
  };
  // ::ffff:a.b.c.d (mapped) and ::ffff:0:a.b.c.d (translated): the socket would talk to that IPv4 address.
  if (a >> 32n === 0xffffn) return embedded("IPv4-mapped form") ?? null;
  if (a >> 32n === 0xffff0000n) return embedded("IPv4-translated form") ?? null;
  // ::a.b.c.d (IPv4-compatible, deprecated) and everything else in ::/8 (reserved).
  if (a >> 32n === 0n) return embedded("IPv4-compatible form") ?? "deprecated IPv4-compatible address";
  for (const { net, bits, what } of IPV6_TABLE) if (inV6(a, net, bits)) return what;
  if (inV6(a, 0x2002n << 112n, 16)) {
    const v4 = Number((a >> 80n) & 0xffffffffn);
    const inner = ipv4Verdict(v4);
    return inner ? `6to4 form of a ${inner} IPv4 address (${v4String(v4)})` : null;
  }
  // Global unicast is 2000::/3; everything else is reserved or special.
  if (!inV6(a, 0x2000n << 112n, 3)) return "reserved (outside global unicast 2000::/3)";
  return null;
}

/**
 * Why a host (a URL's hostname, IPv6 in brackets or not) is not a public fetch target, or null when
 * it is. Exported for tests and for callers that learn an address some other way.
 */
export function nonPublicReason(hostname: string): string | null {
  const host = hostname
    .toLowerCase()
    .replace(/^\[|\]$/g, "")
    .replace(/\.+$/, "");
  if (host === "") return "empty host";
  if (host.includes(":")) {
    const v6 = parseIpv6(host);
    if (v6 === null) return `'${host}' is not a valid IPv6 address`;
    const why = ipv6Verdict(v6);
    return why ? `address '${host}' is ${why}` : null;
  }
  const v4 = parseIpv4(host);
  if (v4 !== null) {
    const why = ipv4Verdict(v4);
    return why ? `address '${host}' is ${why}` : null;
  }
  // WHATWG URL parsing has already turned numeric forms (2130706433, 0x7f.1) into dotted quads; anything
  // numeric-looking left over is not a hostname we want to guess about.
  if (/^[0-9.]+$/.test(host) || /^0x[0-9a-f.]*$/.test(host)) return `host '${host}' is not a public hostname`;
  if (!host.includes(".")) return `host '${host}' is a single-label name, not a public hostname`;
  if (BLOCKED_NAMES.some((re) => re.test(host))) return `host '${host}' is a special-use name, not public`;
  return null;
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
  const why = nonPublicReason(url.hostname);
  return why ? { ok: false, reason: why } : { ok: true, url };
}
