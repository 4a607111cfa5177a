/**
 * The one path attribute descriptor table: per type code its name, category (which fixes the
 * Optional/Transitive flags), RFC 7606 action on malformation, decoder, encoder and log
 * format. The UPDATE decoder walks the attributes and asks this table; the encoder writes
 * every row that has a value. Types not in the table are "unrecognized" (RFC 4271 §5):
 * optional transitive ones are kept raw, optional non-transitive ones dropped, well-known
 * ones are an error.
 *
 * Deliberate choices (see also the package README):
 * - NEXT_HOP's semantic check (0.0.0.0/8, multicast, class E) needs to know whether the UPDATE
 *   carries IPv4 NLRI (RFC 4760 §3: otherwise NEXT_HOP is ignored), so the UPDATE decoder
 *   does it, not this table.
 * - LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST from an external peer are to be discarded
 *   (RFC 7606 §7.5, §7.9, §7.10); the codec does not know the peer is external, so the
 *   session does that.
 */
import { AS_CONFED_SEQUENCE, AS_CONFED_SET, type LargeCommunity, type Origin } from '../types.js';
import { formatAsPath, as4PathOf, decodeAsPath, encodeAsPath, needsAs4Path } from './as-path.js';
import { formatIpv4, parseIpv4 } from './address.js';
import type { AttributeContext, AttributeDescriptor, AttributeProblem, AttributeSource } from './attribute-model.js';
import { ByteWriter } from './byte-writer.js';
import { AS_TRANS, AttrType, ORIGIN_NAMES, UpdateSubcode, WellKnownCommunity } from './constants.js';
import { EncodeError } from './encode-error.js';
import { decodeMpReach, decodeMpUnreach, encodeMpReach, encodeMpUnreach } from './mp-nlri.js';

const EMPTY = new Uint8Array(0);

function u32(buf: Uint8Array, at: number): number {
  return ((buf[at] << 24) | (buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3]) >>> 0;
}

function u32Bytes(value: number, what: string): Uint8Array {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new EncodeError(`${what} ${value} out of range`);
  return Uint8Array.of(value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
}

function ipv4Bytes(text: string, what: string): Uint8Array {
  const b = parseIpv4(text);
  if (!b) throw new EncodeError(`${what} ${JSON.stringify(text)} is not an IPv4 address`);
  return b;
}

function lengthError(name: string, len: number, want: string): AttributeProblem {
  return { subcode: UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, reason: `${name} length ${len}, must be ${want}` };
}

/** Log text of a community: well-known names (RFC 1997), else `asn:value`. */
export function formatCommunity(c: number): string {
  switch (c) {
    case WellKnownCommunity.NO_EXPORT:
      return 'no-export';
    case WellKnownCommunity.NO_ADVERTISE:
      return 'no-advertise';
    case WellKnownCommunity.NO_EXPORT_SUBCONFED:
      return 'no-export-subconfed';
    default:
      return `${c >>> 16}:${c & 0xffff}`;
  }
}

function aggregatorValue(asn: number, address: string, asSize: 2 | 4): Uint8Array {
  const addr = ipv4Bytes(address, 'aggregator address');
  const asBytes = u32Bytes(asn, 'aggregator AS');
  const out = new Uint8Array(asSize + 4);
  if (asSize === 4) out.set(asBytes, 0);
  else {
    const as2 = asn > 0xffff ? AS_TRANS : asn;
    out[0] = as2 >>> 8;
    out[1] = as2 & 0xff;
  }
  out.set(addr, asSize);
  return out;
}

const ORIGIN: AttributeDescriptor = {
  type: AttrType.ORIGIN,
  name: 'ORIGIN',
  category: 'well-known-mandatory',
  onMalformed: 'treat-as-withdraw',
  reference: 'RFC 4271 §5.1.1; RFC 7606 §7.1',
  decode(buf, start, end, draft) {
    if (end - start !== 1) return lengthError('ORIGIN', end - start, '1');
    const v = buf[start];
    if (v > 2) return { subcode: UpdateSubcode.INVALID_ORIGIN_ATTRIBUTE, reason: `undefined ORIGIN value ${v}` };
    draft.origin = v as Origin;
    return undefined;
  },
  encode: ({ attributes: a }) => {
    if (a.origin === undefined) return undefined;
    if (a.origin !== 0 && a.origin !== 1 && a.origin !== 2) throw new EncodeError(`ORIGIN ${String(a.origin)} undefined`);
    return Uint8Array.of(a.origin);
  },
  format: ({ attributes: a }) => (a.origin === undefined ? undefined : `origin=${ORIGIN_NAMES[a.origin]}`),
};

const AS_PATH: AttributeDescriptor = {
  type: AttrType.AS_PATH,
  name: 'AS_PATH',
  category: 'well-known-mandatory',
  onMalformed: 'treat-as-withdraw',
  reference: 'RFC 4271 §5.1.2, RFC 5065 §3, RFC 6793 §4; RFC 7606 §7.2',
  decode(buf, start, end, draft, ctx) {
    const r = decodeAsPath(buf, start, end, ctx.fourOctetAs ? 4 : 2);
    // RFC 4271 §6.3 gives Malformed AS_PATH no data.
    if (typeof r === 'string') return { subcode: UpdateSubcode.MALFORMED_AS_PATH, reason: r, data: 'none' };
    draft.asPath = r;
    return undefined;
  },
  encode: ({ attributes: a }, ctx) => {
    if (!a.asPath) return undefined;
    const w = new ByteWriter(64);
    encodeAsPath(a.asPath, ctx.fourOctetAs ? 4 : 2, w);
    return w.finish();
  },
  format: ({ attributes: a }) => (a.asPath ? `as-path=${formatAsPath(a.asPath)}` : undefined),
};

const NEXT_HOP: AttributeDescriptor = {
  type: AttrType.NEXT_HOP,
  name: 'NEXT_HOP',
  category: 'well-known-mandatory',
  onMalformed: 'treat-as-withdraw',
  reference: 'RFC 4271 §5.1.3, RFC 4760 §3; RFC 7606 §7.3',
  decode(buf, start, end, draft) {
    if (end - start !== 4) return lengthError('NEXT_HOP', end - start, '4');
    draft.nextHop = formatIpv4(buf, start);
    return undefined;
  },
  encode: ({ attributes: a }) => (a.nextHop === undefined ? undefined : ipv4Bytes(a.nextHop, 'NEXT_HOP')),
  format: ({ attributes: a }) => (a.nextHop === undefined ? undefined : `next-hop=${a.nextHop}`),
};

const MULTI_EXIT_DISC: AttributeDescriptor = {
  type: AttrType.MULTI_EXIT_DISC,
  name: 'MULTI_EXIT_DISC',
  category: 'optional-non-transitive',
  onMalformed: 'treat-as-withdraw',
  reference: 'RFC 4271 §5.1.4; RFC 7606 §7.4',
  decode(buf, start, end, draft) {
    if (end - start !== 4) return lengthError('MULTI_EXIT_DISC', end - start, '4');
    draft.med = u32(buf, start);
    return undefined;
  },
  encode: ({ attributes: a }) => (a.med === undefined ? undefined : u32Bytes(a.med, 'MULTI_EXIT_DISC')),
  format: ({ attributes: a }) => (a.med === undefined ? undefined : `med=${a.med}`),
};

const LOCAL_PREF: AttributeDescriptor = {
  type: AttrType.LOCAL_PREF,
  name: 'LOCAL_PREF',
  category: 'well-known-discretionary',
  onMalformed: 'treat-as-withdraw',
  reference: 'RFC 4271 §5.1.5; RFC 7606 §7.5',
  decode(buf, start, end, draft) {
    if (end - start !== 4) return lengthError('LOCAL_PREF', end - start, '4');
    draft.localPref = u32(buf, start);
    return undefined;
  },
  encode: ({ attributes: a }) => (a.localPref === undefined ? undefined : u32Bytes(a.localPref, 'LOCAL_PREF')),
  format: ({ attributes: a }) => (a.localPref === undefined ? undefined : `local-pref=${a.localPref}`),
};

const ATOMIC_AGGREGATE: AttributeDescriptor = {
  type: AttrType.ATOMIC_AGGREGATE,
  name: 'ATOMIC_AGGREGATE',
  category: 'well-known-discretionary',
  onMalformed: 'attribute-discard',
  reference: 'RFC 4271 §5.1.6; RFC 7606 §7.6',
  decode(_buf, start, end, draft) {
    if (end !== start) return lengthError('ATOMIC_AGGREGATE', end - start, '0');
    draft.atomicAggregate = true;
    return undefined;
  },
  encode: ({ attributes: a }) => (a.atomicAggregate ? EMPTY : undefined),
  format: ({ attributes: a }) => (a.atomicAggregate ? 'atomic-aggregate' : undefined),
};

const AGGREGATOR: AttributeDescriptor = {
  type: AttrType.AGGREGATOR,
  name: 'AGGREGATOR',
  category: 'optional-transitive',
  onMalformed: 'attribute-discard',
  reference: 'RFC 4271 §5.1.7, RFC 6793 §4; RFC 7606 §7.7',
  decode(buf, start, end, draft, ctx) {
    const want = ctx.fourOctetAs ? 8 : 6;
    if (end - start !== want) return lengthError('AGGREGATOR', end - start, String(want));
    const asn = ctx.fourOctetAs ? u32(buf, start) : (buf[start] << 8) | buf[start + 1];
    draft.aggregator = { asn, address: formatIpv4(buf, end - 4) };
    return undefined;
  },
  encode: ({ attributes: a }, ctx) => (a.aggregator ? aggregatorValue(a.aggregator.asn, a.aggregator.address, ctx.fourOctetAs ? 4 : 2) : undefined),
  format: ({ attributes: a }) => (a.aggregator ? `aggregator=${a.aggregator.asn}:${a.aggregator.address}` : undefined),
};

const COMMUNITIES: AttributeDescriptor = {
  type: AttrType.COMMUNITIES,
  name: 'COMMUNITIES',
  category: 'optional-transitive',
  onMalformed: 'treat-as-withdraw',
  reference: 'RFC 1997; RFC 7606 §7.8',
  decode(buf, start, end, draft) {
    const len = end - start;
    if (len === 0 || len % 4 !== 0) return lengthError('COMMUNITIES', len, 'a non-zero multiple of 4');
    const out: number[] = new Array<number>(len / 4);
    for (let i = 0; i < out.length; i++) out[i] = u32(buf, start + i * 4);
    draft.communities = out;
    return undefined;
  },
  encode: ({ attributes: a }) => {
    if (!a.communities || a.communities.length === 0) return undefined;
    const out = new Uint8Array(a.communities.length * 4);
    a.communities.forEach((c, i) => out.set(u32Bytes(c, 'community'), i * 4));
    return out;
  },
  format: ({ attributes: a }) => (a.communities && a.communities.length > 0 ? `communities=${a.communities.map(formatCommunity).join(',')}` : undefined),
};

const ORIGINATOR_ID: AttributeDescriptor = {
  type: AttrType.ORIGINATOR_ID,
  name: 'ORIGINATOR_ID',
  category: 'optional-non-transitive',
  onMalformed: 'treat-as-withdraw',
  reference: 'RFC 4456 §8; RFC 7606 §7.9',
  decode(buf, start, end, draft) {
    if (end - start !== 4) return lengthError('ORIGINATOR_ID', end - start, '4');
    draft.originatorId = formatIpv4(buf, start);
    return undefined;
  },
  encode: ({ attributes: a }) => (a.originatorId === undefined ? undefined : ipv4Bytes(a.originatorId, 'ORIGINATOR_ID')),
  format: ({ attributes: a }) => (a.originatorId === undefined ? undefined : `originator-id=${a.originatorId}`),
};

const CLUSTER_LIST: AttributeDescriptor = {
  type: AttrType.CLUSTER_LIST,
  name: 'CLUSTER_LIST',
  category: 'optional-non-transitive',
  onMalformed: 'treat-as-withdraw',
  reference: 'RFC 4456 §8; RFC 7606 §7.10',
  decode(buf, start, end, draft) {
    const len = end - start;
    if (len === 0 || len % 4 !== 0) return lengthError('CLUSTER_LIST', len, 'a non-zero multiple of 4');
    const out: string[] = [];
    for (let p = start; p < end; p += 4) out.push(formatIpv4(buf, p));
    draft.clusterList = out;
    return undefined;
  },
  encode: ({ attributes: a }) => {
    if (!a.clusterList || a.clusterList.length === 0) return undefined;
    const out = new Uint8Array(a.clusterList.length * 4);
    a.clusterList.forEach((c, i) => out.set(ipv4Bytes(c, 'CLUSTER_LIST id'), i * 4));
    return out;
  },
  format: ({ attributes: a }) => (a.clusterList && a.clusterList.length > 0 ? `cluster-list=${a.clusterList.join(',')}` : undefined),
};

const MP_REACH_NLRI: AttributeDescriptor = {
  type: AttrType.MP_REACH_NLRI,
  name: 'MP_REACH_NLRI',
  category: 'optional-non-transitive',
  onMalformed: 'afisafi-disable',
  reference: 'RFC 4760 §3, §7; RFC 2545 §3; RFC 7606 §7.11, §5.3',
  decode: (buf, start, end, draft) => decodeMpReach(buf, start, end, draft),
  encode: ({ mpReach }) => (mpReach ? encodeMpReach(mpReach) : undefined),
  format: ({ mpReach }) => (mpReach ? `mp-reach=${mpReach.afi}/${mpReach.safi} via ${mpReach.nextHops.join(',')} [${mpReach.nlri.length} prefixes]` : undefined),
};

const MP_UNREACH_NLRI: AttributeDescriptor = {
  type: AttrType.MP_UNREACH_NLRI,
  name: 'MP_UNREACH_NLRI',
  category: 'optional-non-transitive',
  onMalformed: 'afisafi-disable',
  reference: 'RFC 4760 §4, §7; RFC 7606 §7.12, §5.3',
  decode: (buf, start, end, draft) => decodeMpUnreach(buf, start, end, draft),
  encode: ({ mpUnreach }) => (mpUnreach ? encodeMpUnreach(mpUnreach) : undefined),
  format: ({ mpUnreach }) => (mpUnreach ? `mp-unreach=${mpUnreach.afi}/${mpUnreach.safi} [${mpUnreach.withdrawn.length} prefixes]` : undefined),
};

/** RFC 6793 §4.1: between two 4-octet speakers AS4_* attributes are discarded (and logged). */
function fromFourOctetSpeaker(name: string, ctx: AttributeContext): AttributeProblem | undefined {
  if (!ctx.fourOctetAs) return undefined;
  return { subcode: UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, reason: `${name} from a 4-octet AS speaker discarded (RFC 6793 §4.1)`, data: 'none' };
}

const AS4_PATH: AttributeDescriptor = {
  type: AttrType.AS4_PATH,
  name: 'AS4_PATH',
  category: 'optional-transitive',
  onMalformed: 'attribute-discard',
  reference: 'RFC 6793 §3, §4.2, §6',
  decode(buf, start, end, draft, ctx) {
    const skip = fromFourOctetSpeaker('AS4_PATH', ctx);
    if (skip) return skip;
    const r = decodeAsPath(buf, start, end, 4);
    if (typeof r === 'string') return { subcode: UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, reason: `AS4_PATH: ${r}` };
    // RFC 6793 §6: confederation segments in AS4_PATH are discarded, the rest is used.
    draft.as4Path = r.filter((s) => s.type !== AS_CONFED_SEQUENCE && s.type !== AS_CONFED_SET);
    return undefined;
  },
  encode: ({ attributes: a }, ctx) => {
    if (ctx.fourOctetAs || !a.asPath || !needsAs4Path(a.asPath)) return undefined;
    const w = new ByteWriter(64);
    encodeAsPath(as4PathOf(a.asPath), 4, w);
    return w.finish();
  },
  format: () => undefined,
};

const AS4_AGGREGATOR: AttributeDescriptor = {
  type: AttrType.AS4_AGGREGATOR,
  name: 'AS4_AGGREGATOR',
  category: 'optional-transitive',
  onMalformed: 'attribute-discard',
  reference: 'RFC 6793 §3, §4.2, §6',
  decode(buf, start, end, draft, ctx) {
    const skip = fromFourOctetSpeaker('AS4_AGGREGATOR', ctx);
    if (skip) return skip;
    if (end - start !== 8) return lengthError('AS4_AGGREGATOR', end - start, '8');
    draft.as4Aggregator = { asn: u32(buf, start), address: formatIpv4(buf, start + 4) };
    return undefined;
  },
  encode: ({ attributes: a }, ctx) => {
    if (ctx.fourOctetAs || !a.aggregator || a.aggregator.asn <= 0xffff) return undefined;
    return aggregatorValue(a.aggregator.asn, a.aggregator.address, 4);
  },
  format: () => undefined,
};

/** Log and config text of a large community: `global:local1:local2` (RFC 8092 §3). */
export function formatLargeCommunity(c: LargeCommunity): string {
  return `${c[0]}:${c[1]}:${c[2]}`;
}

/** The large communities without repeats, first occurrence kept (RFC 8092 §5). */
function uniqueLargeCommunities(list: readonly LargeCommunity[]): readonly LargeCommunity[] {
  if (list.length < 2) return list;
  const seen = new Set<string>();
  const out: LargeCommunity[] = [];
  for (const c of list) {
    const k = formatLargeCommunity(c);
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(c);
  }
  return out.length === list.length ? list : out;
}

const LARGE_COMMUNITY: AttributeDescriptor = {
  type: AttrType.LARGE_COMMUNITY,
  name: 'LARGE_COMMUNITY',
  category: 'optional-transitive',
  onMalformed: 'treat-as-withdraw',
  reference: 'RFC 8092 §3, §5',
  decode(buf, start, end, draft) {
    const len = end - start;
    // RFC 8092 §5: a length that is not a non-zero multiple of 12 is malformed: treat-as-withdraw.
    if (len === 0 || len % 12 !== 0) return lengthError('LARGE_COMMUNITY', len, 'a non-zero multiple of 12');
    const out: LargeCommunity[] = [];
    for (let p = start; p < end; p += 12) out.push([u32(buf, p), u32(buf, p + 4), u32(buf, p + 8)]);
    // RFC 8092 §5: redundant values are silently removed.
    draft.largeCommunities = uniqueLargeCommunities(out) as LargeCommunity[];
    return undefined;
  },
  encode: ({ attributes: a }) => {
    if (!a.largeCommunities || a.largeCommunities.length === 0) return undefined;
    // RFC 8092 §5: duplicate values SHOULD NOT be transmitted.
    const list = uniqueLargeCommunities(a.largeCommunities);
    const out = new Uint8Array(list.length * 12);
    list.forEach((c, i) => {
      if (!Array.isArray(c) || c.length !== 3) throw new EncodeError(`large community ${JSON.stringify(c)} must have 3 parts`);
      out.set(u32Bytes(c[0], 'large community global administrator'), i * 12);
      out.set(u32Bytes(c[1], 'large community local data part 1'), i * 12 + 4);
      out.set(u32Bytes(c[2], 'large community local data part 2'), i * 12 + 8);
    });
    return out;
  },
  format: ({ attributes: a }) => (a.largeCommunities && a.largeCommunities.length > 0 ? `large-communities=${a.largeCommunities.map(formatLargeCommunity).join(',')}` : undefined),
};

/** Every attribute the codec understands, in type-code order. */
export const ATTRIBUTE_TABLE: readonly AttributeDescriptor[] = [
  ORIGIN,
  AS_PATH,
  NEXT_HOP,
  MULTI_EXIT_DISC,
  LOCAL_PREF,
  ATOMIC_AGGREGATE,
  AGGREGATOR,
  COMMUNITIES,
  ORIGINATOR_ID,
  CLUSTER_LIST,
  MP_REACH_NLRI,
  MP_UNREACH_NLRI,
  AS4_PATH,
  AS4_AGGREGATOR,
  LARGE_COMMUNITY,
];

const BY_TYPE: readonly (AttributeDescriptor | undefined)[] = (() => {
  const a: (AttributeDescriptor | undefined)[] = new Array<AttributeDescriptor | undefined>(256).fill(undefined);
  for (const d of ATTRIBUTE_TABLE) a[d.type] = d;
  return a;
})();

/** The descriptor of a type code, or undefined when the codec does not understand it. */
export function attributeDescriptor(type: number): AttributeDescriptor | undefined {
  return BY_TYPE[type];
}

/** The RFC name of an attribute type (`AS_PATH`), or `type N` when unknown. */
export function attributeName(type: number): string {
  return BY_TYPE[type]?.name ?? `type ${type}`;
}

/** Log text of a set of attributes (and MP attributes), one `key=value` per attribute present. */
export function formatAttributes(src: AttributeSource): string {
  const parts: string[] = [];
  for (const d of ATTRIBUTE_TABLE) {
    const t = d.format(src);
    if (t !== undefined) parts.push(t);
  }
  for (const u of src.attributes.unknown ?? []) parts.push(`${attributeName(u.type)}=<${u.value.length} octets, flags 0x${u.flags.toString(16)}>`);
  return parts.join(' ');
}
