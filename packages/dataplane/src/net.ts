/**
 * Address helpers. IPv6 goes through @tabby/api's strict parsers; IPv4, which is nearly every
 * route a node holds, has a fast path here that allocates no BigInt (a reconcile canonicalizes
 * every route of the table, tens of thousands on a large node).
 */
import { cidrContains, parseIP as apiParseIP, parseIPOrCIDR, type ParsedCIDR, type ParsedIP } from '@tabby/api';

export type { ParsedCIDR, ParsedIP };

/** Strictly parses an address (@tabby/api's parser: family, canonical text, value). */
export const parseIP = apiParseIP;

/** A dotted quad with no leading zeros: the canonical IPv4 text (what @tabby/api accepts). */
const V4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

function v4Value(m: RegExpExecArray): number {
  return ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
}

function v4Text(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

function v4Mask(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

/** A network in canonical form. */
export interface Cidr {
  readonly family: 4 | 6;
  readonly prefix: number;
  /** `ADDR/LEN` with host bits cleared, IPv6 in RFC 5952 form. */
  readonly canonical: string;
  /** True when the text had no host bits set. */
  readonly strictlyMasked: boolean;
}

/** The canonical text of an IPv4 or IPv6 address, or undefined when it is not one. */
export function canonicalIP(text: string): string | undefined {
  const t = text.trim();
  if (V4.test(t)) return t;
  return apiParseIP(t)?.text;
}

/** The family of an address, or undefined. */
export function ipFamily(text: string): 4 | 6 | undefined {
  const t = text.trim();
  if (V4.test(t)) return 4;
  return apiParseIP(t)?.family;
}

/** Parses `ADDR/LEN` or a bare address (as /32 or /128), ignoring surrounding blanks. */
export function parseCidr(text: string): Cidr | undefined {
  const t = text.trim();
  const slash = t.indexOf('/');
  const addr = slash < 0 ? t : t.slice(0, slash);
  const m = V4.exec(addr);
  if (m) {
    const lenText = slash < 0 ? '32' : t.slice(slash + 1);
    if (!/^\d{1,2}$/.test(lenText) || Number(lenText) > 32) return undefined;
    const prefix = Number(lenText);
    const value = v4Value(m);
    const network = (value & v4Mask(prefix)) >>> 0;
    return { family: 4, prefix, canonical: `${network === value ? addr : v4Text(network)}/${prefix}`, strictlyMasked: network === value };
  }
  const c = parseIPOrCIDR(t);
  return c ? { family: c.family, prefix: c.prefix, canonical: c.canonical, strictlyMasked: c.strictlyMasked } : undefined;
}

/** A network that answers whether it holds an address. */
export class Network {
  private constructor(
    private readonly cidr: ParsedCIDR,
    readonly prefix: number,
  ) {}

  static parse(text: string): Network | undefined {
    const c = parseIPOrCIDR(text.trim());
    return c ? new Network(c, c.prefix) : undefined;
  }

  contains(ip: ParsedIP): boolean {
    return cidrContains(this.cidr, ip);
  }
}

/** fe80::/10: an IPv6 gateway in it is only meaningful with an interface. */
export const LINK_LOCAL_PREFIX_V6 = Network.parse('fe80::/10') as Network;
