// Where a webhook may be sent: public unicast addresses only. No private, loopback, link-local,
// shared (CGNAT), metadata, documentation, multicast or reserved ranges, IPv4 or IPv6 (IPv4-mapped,
// NAT64 and 6to4 forms included); a local setting allows loopback alone, for the local receiver.
// Names are resolved and every address checked, at creation and again at send time, where the
// connection goes to the very address that was checked (DNS rebinding cannot swap it).
// Ranges: IANA IPv4/IPv6 Special-Purpose Address Registries (RFC 6890 and updates).
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

const blocked = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // shared address space (CGNAT; 100.100.100.200 is a cloud metadata address)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local (169.254.169.254: Azure, AWS and GCP instance metadata)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  blocked.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['::', 96], // IPv4-compatible (deprecated)
  ['100::', 64], // discard
  ['2001::', 23], // IETF protocol assignments (Teredo included)
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local (fd00:ec2::254: AWS metadata over IPv6)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const) {
  blocked.addSubnet(network, prefix, 'ipv6');
}

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

export function isLoopback(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '').split('%')[0]!;
  const family = isIP(bare);
  return family !== 0 && loopback.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}

/** The IPv4 address an IPv6 address stands for (mapped, NAT64 well-known prefix, 6to4), if any. */
export function embeddedIpv4(address: string): string | undefined {
  const groups = expandIpv6(address);
  if (!groups) return undefined;
  const v4 = (high: number, low: number) => `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
  const zeros = (from: number, to: number) => groups.slice(from, to).every((group) => group === 0);
  if (zeros(0, 5) && groups[5] === 0xffff) return v4(groups[6]!, groups[7]!); // ::ffff:a.b.c.d
  if (groups[0] === 0x64 && groups[1] === 0xff9b && zeros(2, 6)) return v4(groups[6]!, groups[7]!); // 64:ff9b::/96
  if (groups[0] === 0x2002) return v4(groups[1]!, groups[2]!); // 2002:AABB:CCDD::/48
  return undefined;
}

/** Eight 16-bit groups of an IPv6 address (dotted IPv4 tail and zone id handled), or undefined. */
function expandIpv6(address: string): number[] | undefined {
  let text = address.split('%')[0]!.toLowerCase();
  if (isIP(text) !== 6) return undefined;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    text = text.slice(0, -dotted[1]!.length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (part: string) => (part ? part.split(':').map((group) => parseInt(group, 16)) : []);
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const missing = 8 - left.length - right.length;
  return tail === undefined ? left : [...left, ...Array<number>(missing).fill(0), ...right];
}

export type AddressVerdict = { allowed: true } | { allowed: false; reason: string };

/** Whether one IP address may receive a webhook; loopback only when `allowLoopback`. */
export function checkAddress(address: string, options: { allowLoopback: boolean }): AddressVerdict {
  const bare = address.replace(/^\[|\]$/g, '').split('%')[0]!;
  const family = isIP(bare);
  if (family === 0) return { allowed: false, reason: `${address} is not an IP address` };
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (options.allowLoopback && loopback.check(bare, type)) return { allowed: true };
  if (family === 6) {
    const inner = embeddedIpv4(bare);
    if (inner) {
      const verdict = checkAddress(inner, { allowLoopback: false });
      return verdict.allowed ? verdict : { allowed: false, reason: `${address} stands for ${inner}: ${verdict.reason}` };
    }
  }
  if (loopback.check(bare, type)) return { allowed: false, reason: `${address} is a loopback address` };
  if (blocked.check(bare, type)) return { allowed: false, reason: `${address} is in a private, link-local, metadata or reserved range` };
  return { allowed: true };
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to its addresses (the system resolver, as connecting would). */
export type Resolver = (host: string) => Promise<ResolvedAddress[]>;

const RESOLVE_TIMEOUT_MS = 5_000;

export const systemResolver: Resolver = async (host) => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('no answer in time'), { code: 'ETIMEOUT' })), RESOLVE_TIMEOUT_MS);
  });
  try {
    const found = await Promise.race([dnsLookup(host, { all: true, verbatim: true }), timeout]);
    return found.map(({ address, family }) => ({ address, family: family as 4 | 6 }));
  } finally {
    clearTimeout(timer);
  }
};

export class UnsafeTarget extends Error {
  override readonly name = 'UnsafeTarget';
}

/**
 * The address to connect to for `host`: the host itself when it is an IP literal, else the first
 * address it resolves to — after checking that every address it resolves to is allowed (a name
 * with one private address among public ones is refused: the resolver could pick either).
 */
export async function resolveSafeAddress(host: string, options: { allowLoopback: boolean; resolve?: Resolver }): Promise<ResolvedAddress> {
  const bare = host.replace(/^\[|\]$/g, '');
  const literal = isIP(bare);
  const addresses = literal
    ? [{ address: bare, family: literal as 4 | 6 }]
    : await (options.resolve ?? systemResolver)(bare).catch((error: Error & { code?: string }) => {
        throw new UnsafeTarget(`${host} does not resolve (${error.code ?? error.message})`);
      });
  if (addresses.length === 0) throw new UnsafeTarget(`${host} does not resolve`);
  for (const { address } of addresses) {
    const verdict = checkAddress(address, options);
    if (!verdict.allowed) throw new UnsafeTarget(literal ? verdict.reason : `${host} resolves to ${verdict.reason}`);
  }
  return addresses[0]!;
}
