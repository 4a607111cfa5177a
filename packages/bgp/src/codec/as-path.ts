/**
 * AS_PATH and AS4_PATH values (RFC 4271 §4.3 and §5.1.2, RFC 5065 §3 confederation segments,
 * RFC 6793 §3 and §4.2): decoding with the RFC 7606 §7.2 malformation rules, encoding with
 * 2- or 4-octet AS numbers, the RFC 6793 §4.2.3 reconstruction of a path received from a
 * 2-octet speaker, and helpers the RIB needs (length for best path, membership for loop
 * detection).
 */
import { AS_CONFED_SEQUENCE, AS_CONFED_SET, AS_SEQUENCE, AS_SET, type AsPathSegment } from '../types.js';
import type { ByteWriter } from './byte-writer.js';
import { AS_TRANS } from './constants.js';
import { EncodeError } from './encode-error.js';

function isConfed(type: number): boolean {
  return type === AS_CONFED_SEQUENCE || type === AS_CONFED_SET;
}

/**
 * Decodes path segments from `buf[start, end)` with `asSize`-octet AS numbers. Returns the
 * segments, or the reason the value is malformed (RFC 7606 §7.2): an unknown segment type, a
 * segment with zero ASes, a segment overrunning the attribute, or a lone trailing octet.
 */
export function decodeAsPath(buf: Uint8Array, start: number, end: number, asSize: 2 | 4): AsPathSegment[] | string {
  const segments: AsPathSegment[] = [];
  let pos = start;
  while (pos < end) {
    if (end - pos < 2) return 'one octet left after the last segment';
    const type = buf[pos];
    const count = buf[pos + 1];
    if (type < AS_SET || type > AS_CONFED_SET) return `unknown segment type ${type}`;
    if (count === 0) return 'segment with zero AS numbers';
    const next = pos + 2 + count * asSize;
    if (next > end) return `segment of ${count} AS numbers overruns the attribute`;
    const asns: number[] = new Array<number>(count);
    let p = pos + 2;
    if (asSize === 4) {
      for (let i = 0; i < count; i++, p += 4) asns[i] = ((buf[p] << 24) | (buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3]) >>> 0;
    } else {
      for (let i = 0; i < count; i++, p += 2) asns[i] = (buf[p] << 8) | buf[p + 1];
    }
    segments.push({ type, asns });
    pos = next;
  }
  return segments;
}

function checkAsn(asn: number): void {
  if (!Number.isInteger(asn) || asn < 0 || asn > 0xffffffff) throw new EncodeError(`AS number ${asn} out of range`);
}

/**
 * Writes path segments with `asSize`-octet AS numbers; with 2 octets an AS above 65535 is
 * written as AS_TRANS (RFC 6793 §4.2.2). Sequences longer than 255 are split into several
 * segments; a longer set, or an unknown segment type, throws {@link EncodeError}.
 */
export function encodeAsPath(segments: readonly AsPathSegment[], asSize: 2 | 4, w: ByteWriter): void {
  for (const seg of segments) {
    if (seg.type < AS_SET || seg.type > AS_CONFED_SET) throw new EncodeError(`unknown AS_PATH segment type ${seg.type}`);
    if (seg.asns.length === 0) continue;
    const isSet = seg.type === AS_SET || seg.type === AS_CONFED_SET;
    if (isSet && seg.asns.length > 255) throw new EncodeError(`AS_SET of ${seg.asns.length} AS numbers does not fit one segment`);
    for (let i = 0; i < seg.asns.length; i += 255) {
      const part = seg.asns.slice(i, i + 255);
      w.u8(seg.type);
      w.u8(part.length);
      for (const asn of part) {
        checkAsn(asn);
        if (asSize === 4) w.u32(asn);
        else w.u16(asn > 0xffff ? AS_TRANS : asn);
      }
    }
  }
}

/**
 * Path length for best-path selection (RFC 4271 §9.1.2.2 a, RFC 5065 §5.3): an AS_SET counts
 * as one, confederation segments count zero.
 */
export function asPathLength(asPath: readonly AsPathSegment[]): number {
  let n = 0;
  for (const seg of asPath) {
    if (seg.type === AS_SEQUENCE) n += seg.asns.length;
    else if (seg.type === AS_SET) n += 1;
  }
  return n;
}

/**
 * True when `asn` appears anywhere in the path, sets and confederation segments included: the
 * AS loop check of RFC 4271 §9.1.2. The codec never rejects loops; the RIB calls this.
 */
export function asPathContains(asPath: readonly AsPathSegment[] | undefined, asn: number): boolean {
  if (!asPath) return false;
  for (const seg of asPath) if (seg.asns.includes(asn)) return true;
  return false;
}

/** True when a 2-octet peer needs AS4_PATH: an AS above 65535 outside confederation segments (RFC 6793 §4.2.2). */
export function needsAs4Path(asPath: readonly AsPathSegment[]): boolean {
  for (const seg of asPath) {
    if (isConfed(seg.type)) continue;
    for (const asn of seg.asns) if (asn > 0xffff) return true;
  }
  return false;
}

/** The AS4_PATH for a path: confederation segments left out (RFC 6793 §3). */
export function as4PathOf(asPath: readonly AsPathSegment[]): AsPathSegment[] {
  return asPath.filter((s) => !isConfed(s.type));
}

/**
 * Rebuilds the path of a route from a 2-octet speaker (RFC 6793 §4.2.3): when AS_PATH holds
 * fewer AS numbers than AS4_PATH, AS4_PATH is ignored; otherwise the leading AS numbers of
 * AS_PATH that AS4_PATH lacks are prepended to it, with confederation segments that lead or
 * adjoin a prepended segment. Counting follows {@link asPathLength}.
 */
export function mergeAs4Path(asPath: readonly AsPathSegment[], as4Path: readonly AsPathSegment[]): AsPathSegment[] {
  const n2 = asPathLength(asPath);
  const n4 = asPathLength(as4Path);
  if (n2 < n4) return [...asPath];
  let need = n2 - n4;
  const lead: AsPathSegment[] = [];
  let prevTaken = false;
  for (let i = 0; i < asPath.length; i++) {
    const seg = asPath[i];
    if (isConfed(seg.type)) {
      if (i === 0 || need > 0 || prevTaken) {
        lead.push(seg);
        prevTaken = true;
        continue;
      }
      break;
    }
    if (need === 0) break;
    if (seg.type === AS_SET) {
      lead.push(seg);
      need -= 1;
    } else {
      const take = Math.min(seg.asns.length, need);
      lead.push(take === seg.asns.length ? seg : { type: seg.type, asns: seg.asns.slice(0, take) });
      need -= take;
    }
    prevTaken = true;
  }
  const out = [...lead];
  let rest = as4Path;
  const last = out[out.length - 1];
  const first = as4Path[0];
  if (last && first && last.type === AS_SEQUENCE && first.type === AS_SEQUENCE && last.asns.length + first.asns.length <= 255) {
    out[out.length - 1] = { type: AS_SEQUENCE, asns: [...last.asns, ...first.asns] };
    rest = as4Path.slice(1);
  }
  return [...out, ...rest];
}

/**
 * Log text of a path: sequences as space-separated numbers, `{a,b}` for an AS_SET, `(a b)` for
 * an AS_CONFED_SEQUENCE and `[a,b]` for an AS_CONFED_SET.
 */
export function formatAsPath(asPath: readonly AsPathSegment[]): string {
  return asPath
    .map((s) => {
      switch (s.type) {
        case AS_SET:
          return `{${s.asns.join(',')}}`;
        case AS_CONFED_SEQUENCE:
          return `(${s.asns.join(' ')})`;
        case AS_CONFED_SET:
          return `[${s.asns.join(',')}]`;
        default:
          return s.asns.join(' ');
      }
    })
    .join(' ');
}
