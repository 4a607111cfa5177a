import ipaddr from 'ipaddr.js';

/** An IP address family. */
export type IPFamily = 4 | 6;

/** A parsed address: family, canonical text and its value as an integer. */
export interface ParsedIP {
  readonly family: IPFamily;
  readonly text: string;
  readonly value: bigint;
}

/** A parsed CIDR: the address as written, the prefix length and the masked network. */
export interface ParsedCIDR {
  readonly family: IPFamily;
  readonly address: ParsedIP;
  readonly prefix: number;
  /** Network address value (host bits cleared). */
  readonly network: bigint;
  /** Canonical masked form, e.g. `10.0.0.0/16`, `fd00::/64`. */
  readonly canonical: string;
  /** True when the written address had no host bits set. */
  readonly strictlyMasked: boolean;
}

const V4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function toBigInt(bytes: number[]): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

/** Strictly parses an IPv4 dotted quad or an IPv6 address (no zone, no brackets). */
export function parseIP(text: string): ParsedIP | undefined {
  if (V4.test(text)) {
    const a = ipaddr.IPv4.parse(text);
    return { family: 4, text: a.toString(), value: toBigInt(a.toByteArray()) };
  }
  if (text.includes(':') && !text.includes('%') && ipaddr.IPv6.isValid(text)) {
    const a = ipaddr.IPv6.parse(text);
    return { family: 6, text: a.toString(), value: toBigInt(a.toByteArray()) };
  }
  return undefined;
}

function bits(family: IPFamily): number {
  return family === 4 ? 32 : 128;
}

/** Formats an integer address of a family. */
export function formatIP(family: IPFamily, value: bigint): string {
  const n = family === 4 ? 4 : 16;
  const bytes: number[] = [];
  for (let i = n - 1; i >= 0; i--) bytes.push(Number((value >> BigInt(i * 8)) & 0xffn));
  return family === 4 ? ipaddr.fromByteArray(bytes).toString() : ipaddr.fromByteArray(bytes).toString();
}

/** Mask value of a prefix length in a family. */
function maskOf(family: IPFamily, prefix: number): bigint {
  const total = BigInt(bits(family));
  return prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << (total - BigInt(prefix));
}

/** Parses `ADDR/LEN` strictly (a dotted quad or IPv6, then a decimal length in range). */
export function parseCIDR(text: string): ParsedCIDR | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const address = parseIP(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (!address || !/^\d{1,3}$/.test(lenText)) return undefined;
  const prefix = Number(lenText);
  if (prefix > bits(address.family)) return undefined;
  const network = address.value & maskOf(address.family, prefix);
  return {
    family: address.family,
    address,
    prefix,
    network,
    canonical: `${formatIP(address.family, network)}/${prefix}`,
    strictlyMasked: network === address.value,
  };
}

/** Parses an address with an optional prefix (`10.0.0.5` or `10.0.0.5/24`). */
export function parseIPOrCIDR(text: string): ParsedCIDR | undefined {
  if (text.includes('/')) return parseCIDR(text);
  const ip = parseIP(text);
  return ip ? parseCIDR(`${ip.text}/${bits(ip.family)}`) : undefined;
}

/** True when the two networks share any address. */
export function cidrsOverlap(a: ParsedCIDR, b: ParsedCIDR): boolean {
  if (a.family !== b.family) return false;
  const p = Math.min(a.prefix, b.prefix);
  const m = maskOf(a.family, p);
  return (a.network & m) === (b.network & m);
}

/** True when `ip` lies inside `cidr`. */
export function cidrContains(cidr: ParsedCIDR, ip: ParsedIP): boolean {
  return cidr.family === ip.family && (ip.value & maskOf(cidr.family, cidr.prefix)) === cidr.network;
}

/** Number of addresses in a prefix. */
export function cidrSize(cidr: ParsedCIDR): bigint {
  return 1n << BigInt(bits(cidr.family) - cidr.prefix);
}

/** The last address of a network. */
export function cidrLast(cidr: ParsedCIDR): bigint {
  return cidr.network + cidrSize(cidr) - 1n;
}

export const LINK_LOCAL_V4 = parseCIDR('169.254.0.0/16') as ParsedCIDR;
export const LINK_LOCAL_V6 = parseCIDR('fe80::/10') as ParsedCIDR;

/** Result of parsing a BGPPeer peerIP: `IP`, `IPv4:port` or `[IPv6]:port`. */
export interface PeerAddress {
  readonly ip: ParsedIP;
  readonly port?: number;
}

/** Parses a peerIP as Calico does (validateIPPort); undefined when invalid. */
export function parsePeerAddress(text: string): PeerAddress | undefined {
  let m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(text);
  if (!m) {
    const v6 = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(text);
    if (v6) m = v6;
  }
  if (m) {
    const ip = parseIP(m[1]);
    const port = Number(m[2]);
    if (!ip || !/^\d{1,5}$/.test(m[2]) || port < 1 || port > 65535) return undefined;
    return { ip, port };
  }
  const ip = parseIP(text);
  return ip ? { ip } : undefined;
}
