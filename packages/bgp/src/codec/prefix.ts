/**
 * Prefixes in NLRI encoding (RFC 4271 §4.3, RFC 4760 §5): a length octet, then the fewest
 * octets that hold that many bits. Decoding yields canonical text with host bits cleared (the
 * trailing bits on the wire are irrelevant, RFC 4271 §4.3); a length over 32 (IPv4) or 128
 * (IPv6), or a prefix running past the field, is an error. IPv4 decoding is the hot path of a
 * full-table load and allocates nothing but the result strings (flat ones).
 */
import type { Afi, Prefix } from '../types.js';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from './address.js';
import type { ByteWriter } from './byte-writer.js';
import { ErrorCode, UpdateSubcode } from './constants.js';
import { decodeError } from './decode-error.js';
import { EncodeError } from './encode-error.js';

const LENGTH_SUFFIX: readonly string[] = Array.from({ length: 129 }, (_, i) => `/${i}`);

/** Scratch for IPv4 prefix text ("255.255.255.255/32" is 18 characters). */
const text4 = Buffer.alloc(18);

function putDecimal(at: number, x: number): number {
  if (x >= 100) {
    text4[at++] = 48 + ((x / 100) | 0);
    text4[at++] = 48 + (((x / 10) | 0) % 10);
  } else if (x >= 10) {
    text4[at++] = 48 + ((x / 10) | 0);
  }
  text4[at++] = 48 + (x % 10);
  return at;
}

/**
 * Canonical text of an IPv4 prefix. Written as one flat string: joining the parts with `+`
 * would make a rope that V8 flattens on the first Map lookup and then keeps beside the flat
 * copy, about 32 bytes more per route in a full table.
 */
function ipv4PrefixText(v: number, len: number): Prefix {
  let at = putDecimal(0, v >>> 24);
  text4[at++] = 46;
  at = putDecimal(at, (v >>> 16) & 0xff);
  text4[at++] = 46;
  at = putDecimal(at, (v >>> 8) & 0xff);
  text4[at++] = 46;
  at = putDecimal(at, v & 0xff);
  text4[at++] = 47;
  at = putDecimal(at, len);
  return text4.toString('latin1', 0, at);
}

/** A parsed prefix: family, length and the address octets with host bits cleared. */
export interface ParsedPrefix {
  readonly afi: Afi;
  readonly length: number;
  /** 4 or 16 octets, host bits cleared. */
  readonly bytes: Uint8Array;
  /** False when the text had host bits set (they are cleared in `bytes`). */
  readonly exact: boolean;
}

function maskInPlace(bytes: Uint8Array, length: number): boolean {
  let exact = true;
  for (let i = 0; i < bytes.length; i++) {
    const bitsHere = length - i * 8;
    const keep = bitsHere >= 8 ? 0xff : bitsHere <= 0 ? 0 : (0xff << (8 - bitsHere)) & 0xff;
    if ((bytes[i] & ~keep & 0xff) !== 0) exact = false;
    bytes[i] &= keep;
  }
  return exact;
}

/** Parses `ADDR/LEN` of either family; undefined when the text is not a prefix. */
export function parsePrefix(text: string): ParsedPrefix | undefined {
  const slash = text.indexOf('/');
  if (slash <= 0) return undefined;
  const lenText = text.slice(slash + 1);
  if (!/^(0|[1-9]\d{0,2})$/.test(lenText)) return undefined;
  const length = Number(lenText);
  const addr = text.slice(0, slash);
  const v6 = addr.includes(':');
  const bytes = v6 ? parseIpv6(addr) : parseIpv4(addr);
  if (!bytes || length > (v6 ? 128 : 32)) return undefined;
  const exact = maskInPlace(bytes, length);
  return { afi: v6 ? 2 : 1, length, bytes, exact };
}

/** Canonical text of a parsed prefix. */
export function formatPrefix(p: Pick<ParsedPrefix, 'afi' | 'length' | 'bytes'>): Prefix {
  return (p.afi === 1 ? formatIpv4(p.bytes) : formatIpv6(p.bytes)) + LENGTH_SUFFIX[p.length];
}

/** The canonical spelling of a prefix (host bits cleared); undefined when not a prefix. */
export function canonicalPrefix(text: string): Prefix | undefined {
  const p = parsePrefix(text);
  return p ? formatPrefix(p) : undefined;
}

/** The family of prefix text, judged by its spelling (a colon means IPv6). */
export function prefixAfi(prefix: Prefix): Afi {
  return prefix.includes(':') ? 2 : 1;
}

/**
 * Parses a prefix for encoding: it must be valid, of family `afi` when given, and have no host
 * bits set (the model never carries them). Throws {@link EncodeError} otherwise.
 */
export function prefixForEncoding(prefix: Prefix, afi?: Afi): ParsedPrefix {
  const p = parsePrefix(prefix);
  if (!p) throw new EncodeError(`not a prefix: ${JSON.stringify(prefix)}`);
  if (!p.exact) throw new EncodeError(`prefix ${prefix} has host bits set`);
  if (afi !== undefined && p.afi !== afi) throw new EncodeError(`prefix ${prefix} is not of AFI ${afi}`);
  return p;
}

/** Octets a parsed prefix takes on the wire (length octet included). */
export function wireLength(p: Pick<ParsedPrefix, 'length'>): number {
  return 1 + ((p.length + 7) >>> 3);
}

/** Writes a parsed prefix in NLRI encoding. */
export function writePrefix(w: ByteWriter, p: Pick<ParsedPrefix, 'length' | 'bytes'>): void {
  w.u8(p.length);
  const n = (p.length + 7) >>> 3;
  for (let i = 0; i < n; i++) w.u8(p.bytes[i]);
}

/** One prefix in NLRI encoding. Throws {@link EncodeError} for invalid text or host bits. */
export function encodePrefix(prefix: Prefix): Uint8Array {
  const p = prefixForEncoding(prefix);
  const out = new Uint8Array(wireLength(p));
  out[0] = p.length;
  out.set(p.bytes.subarray(0, out.length - 1), 1);
  return out;
}

function invalidNetworkField(detail: string) {
  // RFC 4271 §6.3: a syntactically incorrect NLRI field is UPDATE Message Error / Invalid
  // Network Field; RFC 7606 §5.3 keeps "session reset" for it (callers decoding MP_REACH /
  // MP_UNREACH turn it into AFI/SAFI disable).
  return decodeError(ErrorCode.UPDATE_MESSAGE, UpdateSubcode.INVALID_NETWORK_FIELD, detail);
}

/** Decodes IPv4 prefixes in `buf[start, end)`, appending canonical text to `out` (see {@link decodeIpv4KeysInto}). */
export function decodeIpv4PrefixesInto(buf: Uint8Array, start: number, end: number, out: Prefix[]): void {
  const keys: Ipv4Key[] = [];
  decodeIpv4KeysInto(buf, start, end, keys);
  for (const k of keys) out.push(ipv4KeyText(k));
}

/**
 * An IPv4 prefix as one number, for tables of a full feed: `length * 2^32 + address` (host bits
 * clear). Exact in a double, and decoding one allocates nothing.
 */
export type Ipv4Key = number;

const TWO_32 = 4294967296;

/** The key of an IPv4 prefix of `length` bits at `address` (host bits already clear). */
export function ipv4Key(address: number, length: number): Ipv4Key {
  return length * TWO_32 + (address >>> 0);
}

/** The prefix length of a key. */
export function ipv4KeyLength(key: Ipv4Key): number {
  return Math.floor(key / TWO_32);
}

/** The address of a key (unsigned 32-bit). */
export function ipv4KeyAddress(key: Ipv4Key): number {
  return key % TWO_32;
}

/** Canonical text of a key ("10.1.0.0/16"). */
export function ipv4KeyText(key: Ipv4Key): Prefix {
  return ipv4PrefixText(key % TWO_32, Math.floor(key / TWO_32));
}

/**
 * The key of canonical IPv4 prefix text; undefined when the text is not a dotted quad with a
 * length of 0-32 and host bits clear (the form the codec and the RIB carry).
 */
export function ipv4KeyOf(prefix: Prefix): Ipv4Key | undefined {
  let v = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  let i = 0;
  const n = prefix.length;
  for (; i < n; i++) {
    const c = prefix.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return undefined; // leading zero
      octet = octet * 10 + (c - 48);
      if (octet > 255 || ++digits > 3) return undefined;
    } else if (c === 46 && dots < 3 && digits > 0) {
      v = v * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c === 47 && dots === 3 && digits > 0) {
      break;
    } else {
      return undefined;
    }
  }
  if (i >= n || dots !== 3) return undefined;
  v = v * 256 + octet;
  let len = 0;
  const lenStart = ++i;
  for (; i < n; i++) {
    const c = prefix.charCodeAt(i) - 48;
    if (c < 0 || c > 9 || i - lenStart > 1) return undefined;
    len = len * 10 + c;
  }
  if (i === lenStart || len > 32 || (i - lenStart === 2 && prefix.charCodeAt(lenStart) === 48)) return undefined;
  if (len < 32 && v % 2 ** (32 - len) !== 0) return undefined;
  return len * TWO_32 + v;
}

/**
 * Decodes IPv4 prefixes in `buf[start, end)` as keys (see {@link Ipv4Key}), appending to
 * `out`; the same checks as {@link decodeIpv4PrefixesInto}, without a string per prefix.
 */
export function decodeIpv4KeysInto(buf: Uint8Array, start: number, end: number, out: Ipv4Key[]): void {
  let pos = start;
  while (pos < end) {
    const len = buf[pos];
    if (len > 32) throw invalidNetworkField(`IPv4 prefix length ${len} > 32`);
    const n = (len + 7) >>> 3;
    const next = pos + 1 + n;
    if (next > end) throw invalidNetworkField(`IPv4 prefix /${len} runs past the field`);
    let v = 0;
    if (n > 0) {
      v = buf[pos + 1] << 24;
      if (n > 1) {
        v |= buf[pos + 2] << 16;
        if (n > 2) {
          v |= buf[pos + 3] << 8;
          if (n > 3) v |= buf[pos + 4];
        }
      }
      if (len < 32) v &= -1 << (32 - len);
    }
    out.push(len * TWO_32 + (v >>> 0));
    pos = next;
  }
}

const scratch6 = new Uint8Array(16);

/** Decodes IPv6 prefixes in `buf[start, end)`, appending canonical text to `out`. */
export function decodeIpv6PrefixesInto(buf: Uint8Array, start: number, end: number, out: Prefix[]): void {
  let pos = start;
  while (pos < end) {
    const len = buf[pos];
    if (len > 128) throw invalidNetworkField(`IPv6 prefix length ${len} > 128`);
    const n = (len + 7) >>> 3;
    const next = pos + 1 + n;
    if (next > end) throw invalidNetworkField(`IPv6 prefix /${len} runs past the field`);
    scratch6.fill(0);
    for (let i = 0; i < n; i++) scratch6[i] = buf[pos + 1 + i];
    const rem = len & 7;
    if (rem !== 0) scratch6[n - 1] &= (0xff << (8 - rem)) & 0xff;
    out.push(formatIpv6(scratch6) + LENGTH_SUFFIX[len]);
    pos = next;
  }
}

/**
 * Decodes the prefixes of a family in `buf[start, end)`. Throws a {@link BgpError} UPDATE
 * Message Error / Invalid Network Field (action session-reset) when a length is too large or a
 * prefix runs past `end`.
 */
export function decodePrefixes(afi: Afi, buf: Uint8Array, start = 0, end = buf.length): Prefix[] {
  const out: Prefix[] = [];
  if (afi === 1) decodeIpv4PrefixesInto(buf, start, end, out);
  else decodeIpv6PrefixesInto(buf, start, end, out);
  return out;
}
