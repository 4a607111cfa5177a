/**
 * MP_REACH_NLRI and MP_UNREACH_NLRI values (RFC 4760 §3, §4) for IPv4 and IPv6 unicast. The
 * IPv6 next hop is 16 octets (global) or 32 (global then link-local, RFC 2545 §3); IPv4 NLRI
 * take a 4-octet next hop, or an IPv6 one of 16/32 octets (RFC 8950). Error handling follows
 * RFC 7606 §7.11/§7.12 and §5.3 with RFC 4760 §7: when the AFI/SAFI can be read the family is
 * disabled ("AFI/SAFI disable"), otherwise the session is reset; the NOTIFICATION named is
 * UPDATE Message Error / Optional Attribute Error. Other families (VPN, flowspec, ...) are
 * not understood: the attribute is discarded and the session decides what that means.
 */
import type { Afi, MpReach, MpUnreach } from '../types.js';
import { formatIpv4, formatIpv6, parseAddress } from './address.js';
import type { AttributeDraft, AttributeProblem } from './attribute-model.js';
import { ByteWriter } from './byte-writer.js';
import { AFI_IPV4, AFI_IPV6, SAFI_UNICAST, UpdateSubcode } from './constants.js';
import { EncodeError } from './encode-error.js';
import { decodePrefixes, prefixForEncoding, writePrefix } from './prefix.js';

const OPTIONAL_ATTRIBUTE_ERROR = UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR;

/** True for the families the codec decodes: IPv4 and IPv6 unicast. */
export function isSupportedFamily(afi: number, safi: number): afi is Afi {
  return (afi === AFI_IPV4 || afi === AFI_IPV6) && safi === SAFI_UNICAST;
}

/** The problem for an MP attribute too short to name its family: nothing to disable, so reset. */
function noFamily(name: string, len: number): AttributeProblem {
  return { subcode: OPTIONAL_ATTRIBUTE_ERROR, reason: `${name} of ${len} octets cannot name an AFI/SAFI`, action: 'session-reset' };
}

function unsupported(name: string, afi: number, safi: number): AttributeProblem {
  return { subcode: OPTIONAL_ATTRIBUTE_ERROR, reason: `${name} for unsupported AFI/SAFI ${afi}/${safi} ignored`, action: 'attribute-discard', data: 'none' };
}

function disable(afi: number, safi: number, reason: string): AttributeProblem {
  return { subcode: OPTIONAL_ATTRIBUTE_ERROR, reason, action: 'afisafi-disable', family: { afi, safi } };
}

/** The action for a flag error on an MP attribute: disable its family when it can be read. */
export function mpFlagProblemAction(buf: Uint8Array, start: number, end: number): Pick<AttributeProblem, 'action' | 'family'> {
  if (end - start < 3) return { action: 'session-reset' };
  return { action: 'afisafi-disable', family: { afi: (buf[start] << 8) | buf[start + 1], safi: buf[start + 2] } };
}

function decodeNextHops(afi: Afi, buf: Uint8Array, start: number, len: number): string[] | undefined {
  if (len === 4 && afi === AFI_IPV4) return [formatIpv4(buf, start)];
  if (len === 16) return [formatIpv6(buf, start)];
  if (len === 32) return [formatIpv6(buf, start), formatIpv6(buf, start + 16)];
  return undefined;
}

/** Decodes an MP_REACH_NLRI value into `draft.mpReach`. */
export function decodeMpReach(buf: Uint8Array, start: number, end: number, draft: AttributeDraft): AttributeProblem | undefined {
  const len = end - start;
  if (len < 3) return noFamily('MP_REACH_NLRI', len);
  const afi = (buf[start] << 8) | buf[start + 1];
  const safi = buf[start + 2];
  if (!isSupportedFamily(afi, safi)) return unsupported('MP_REACH_NLRI', afi, safi);
  if (len < 5) return disable(afi, safi, `MP_REACH_NLRI of ${len} octets has no room for a next hop`);
  const nhLen = buf[start + 3];
  // The next hop, then one reserved octet, must fit (RFC 4760 §3).
  if (start + 4 + nhLen + 1 > end) return disable(afi, safi, `next hop length ${nhLen} overruns MP_REACH_NLRI`);
  const nextHops = decodeNextHops(afi, buf, start + 4, nhLen);
  // RFC 7606 §7.11: a next hop length inconsistent with the family makes the NLRI impossible
  // to locate reliably: "session reset" or "AFI/SAFI disable".
  if (!nextHops) return disable(afi, safi, `next hop length ${nhLen} is wrong for AFI ${afi}`);
  let nlri: string[];
  try {
    nlri = decodePrefixes(afi, buf, start + 4 + nhLen + 1, end);
  } catch (err) {
    return disable(afi, safi, `MP_REACH_NLRI NLRI: ${(err as Error).message}`);
  }
  draft.mpReach = { afi, safi, nextHops, nlri };
  return undefined;
}

/** Decodes an MP_UNREACH_NLRI value into `draft.mpUnreach`. */
export function decodeMpUnreach(buf: Uint8Array, start: number, end: number, draft: AttributeDraft): AttributeProblem | undefined {
  const len = end - start;
  if (len < 3) return noFamily('MP_UNREACH_NLRI', len);
  const afi = (buf[start] << 8) | buf[start + 1];
  const safi = buf[start + 2];
  if (!isSupportedFamily(afi, safi)) return unsupported('MP_UNREACH_NLRI', afi, safi);
  let withdrawn: string[];
  try {
    withdrawn = decodePrefixes(afi, buf, start + 3, end);
  } catch (err) {
    return disable(afi, safi, `MP_UNREACH_NLRI withdrawn routes: ${(err as Error).message}`);
  }
  draft.mpUnreach = { afi, safi, withdrawn };
  return undefined;
}

/** Octets of the next hop field for `nextHops` of a family; throws {@link EncodeError} when invalid. */
export function encodeNextHops(afi: Afi, nextHops: readonly string[]): Uint8Array {
  if (nextHops.length === 0 || nextHops.length > 2) throw new EncodeError(`MP_REACH_NLRI needs one or two next hops, got ${nextHops.length}`);
  const parsed = nextHops.map((n) => {
    const a = parseAddress(n);
    if (!a) throw new EncodeError(`next hop ${JSON.stringify(n)} is not an address`);
    return a;
  });
  if (parsed.length === 2 && (parsed[0].afi !== AFI_IPV6 || parsed[1].afi !== AFI_IPV6)) {
    throw new EncodeError('two next hops must both be IPv6 (global, then link-local)');
  }
  if (parsed[0].afi === AFI_IPV4 && afi !== AFI_IPV4) throw new EncodeError('IPv6 routes need an IPv6 next hop');
  const out = new Uint8Array(parsed.reduce((n, a) => n + a.bytes.length, 0));
  let at = 0;
  for (const a of parsed) {
    out.set(a.bytes, at);
    at += a.bytes.length;
  }
  return out;
}

/** The MP_REACH_NLRI value for `mp`. Throws {@link EncodeError} for bad next hops or prefixes. */
export function encodeMpReach(mp: MpReach): Uint8Array {
  const nh = encodeNextHops(mp.afi, mp.nextHops);
  const w = new ByteWriter(8 + nh.length + mp.nlri.length * 9);
  w.u16(mp.afi);
  w.u8(mp.safi);
  w.u8(nh.length);
  w.bytes(nh);
  w.u8(0);
  for (const p of mp.nlri) writePrefix(w, prefixForEncoding(p, mp.afi));
  return w.finish();
}

/** The MP_UNREACH_NLRI value for `mp`. Throws {@link EncodeError} for bad prefixes. */
export function encodeMpUnreach(mp: MpUnreach): Uint8Array {
  const w = new ByteWriter(4 + mp.withdrawn.length * 9);
  w.u16(mp.afi);
  w.u8(mp.safi);
  for (const p of mp.withdrawn) writePrefix(w, prefixForEncoding(p, mp.afi));
  return w.finish();
}
