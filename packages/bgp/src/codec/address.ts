/**
 * IP address text ⇄ octets. Output is canonical: dotted quad for IPv4; RFC 5952 §4 for IPv6
 * (lower case, no leading zeros, the longest run of two or more zero groups compressed, the
 * first one on a tie). IPv4-mapped addresses print in hex (`::ffff:a01:203`), as ipaddr.js and
 * the rest of Tabby print them. Input accepts any valid spelling (mixed case, an embedded
 * dotted quad, uncompressed groups); no zone indexes.
 */

/** Decimal text of every octet value, so formatting allocates only the result. */
export const OCTET_TEXT: readonly string[] = Array.from({ length: 256 }, (_, i) => String(i));

/** Formats four octets at `offset` as a dotted quad. */
export function formatIpv4(bytes: Uint8Array, offset = 0): string {
  return `${OCTET_TEXT[bytes[offset]]}.${OCTET_TEXT[bytes[offset + 1]]}.${OCTET_TEXT[bytes[offset + 2]]}.${OCTET_TEXT[bytes[offset + 3]]}`;
}

/** Formats a 32-bit unsigned value as a dotted quad. */
export function formatIpv4Number(value: number): string {
  return `${OCTET_TEXT[(value >>> 24) & 0xff]}.${OCTET_TEXT[(value >>> 16) & 0xff]}.${OCTET_TEXT[(value >>> 8) & 0xff]}.${OCTET_TEXT[value & 0xff]}`;
}

function parseOctet(text: string): number {
  if (text.length === 0 || text.length > 3) return -1;
  if (text.length > 1 && text.charCodeAt(0) === 48) return -1; // no leading zeros
  let v = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v > 255 ? -1 : v;
}

/** Parses a dotted quad into `out` at `offset`; false when the text is not one. */
function parseIpv4Into(text: string, out: Uint8Array, offset: number): boolean {
  const parts = text.split('.');
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    const v = parseOctet(parts[i]);
    if (v < 0) return false;
    out[offset + i] = v;
  }
  return true;
}

/** Parses a dotted quad; undefined when the text is not one (leading zeros are refused). */
export function parseIpv4(text: string): Uint8Array | undefined {
  const out = new Uint8Array(4);
  return parseIpv4Into(text, out, 0) ? out : undefined;
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** Parses IPv6 text (RFC 4291 §2.2 forms); undefined when invalid. */
export function parseIpv6(text: string): Uint8Array | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  const dbl = text.indexOf('::');
  if (dbl !== -1 && text.indexOf('::', dbl + 1) !== -1) return undefined;
  let head: string[];
  let tail: string[];
  if (dbl === -1) {
    head = text.split(':');
    tail = [];
  } else {
    head = dbl === 0 ? [] : text.slice(0, dbl).split(':');
    const rest = text.slice(dbl + 2);
    tail = rest === '' ? [] : rest.split(':');
  }
  const out = new Uint8Array(16);
  const groups: number[] = [];
  const tailGroups: number[] = [];
  const parsePieces = (pieces: string[], into: number[], last: boolean): boolean => {
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i];
      if (last && i === pieces.length - 1 && p.includes('.')) {
        const v4 = new Uint8Array(4);
        if (!parseIpv4Into(p, v4, 0)) return false;
        into.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
        continue;
      }
      if (!HEX_GROUP.test(p)) return false;
      into.push(parseInt(p, 16));
    }
    return true;
  };
  if (!parsePieces(head, groups, dbl === -1)) return undefined;
  if (!parsePieces(tail, tailGroups, true)) return undefined;
  const total = groups.length + tailGroups.length;
  if (dbl === -1 ? total !== 8 : total > 7) return undefined;
  for (let i = 0; i < groups.length; i++) {
    out[i * 2] = groups[i] >>> 8;
    out[i * 2 + 1] = groups[i] & 0xff;
  }
  const start = 8 - tailGroups.length;
  for (let i = 0; i < tailGroups.length; i++) {
    out[(start + i) * 2] = tailGroups[i] >>> 8;
    out[(start + i) * 2 + 1] = tailGroups[i] & 0xff;
  }
  return out;
}

/** Formats sixteen octets at `offset` as canonical IPv6 text (RFC 5952 §4). */
export function formatIpv6(bytes: Uint8Array, offset = 0): string {
  const g = [0, 0, 0, 0, 0, 0, 0, 0];
  for (let i = 0; i < 8; i++) g[i] = (bytes[offset + i * 2] << 8) | bytes[offset + i * 2 + 1];
  // Longest run of zero groups, at least two long; the first on a tie (RFC 5952 §4.2).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return g.map((v) => v.toString(16)).join(':');
  const left = g.slice(0, bestStart).map((v) => v.toString(16)).join(':');
  const right = g.slice(bestStart + bestLen).map((v) => v.toString(16)).join(':');
  return `${left}::${right}`;
}

/** An address of either family as octets. */
export interface ParsedAddress {
  readonly afi: 1 | 2;
  readonly bytes: Uint8Array;
}

/** Parses an IPv4 or IPv6 address; undefined when it is neither. */
export function parseAddress(text: string): ParsedAddress | undefined {
  if (text.includes(':')) {
    const bytes = parseIpv6(text);
    return bytes ? { afi: 2, bytes } : undefined;
  }
  const bytes = parseIpv4(text);
  return bytes ? { afi: 1, bytes } : undefined;
}

/** The canonical text of an address of either family; undefined when invalid. */
export function canonicalAddress(text: string): string | undefined {
  const a = parseAddress(text);
  if (!a) return undefined;
  return a.afi === 1 ? formatIpv4(a.bytes) : formatIpv6(a.bytes);
}
