/**
 * The Path Attributes field of an UPDATE (RFC 4271 §4.3), driven by {@link ATTRIBUTE_TABLE}.
 *
 * Decoding walks the attributes and applies RFC 7606: flag errors are "treat-as-withdraw"
 * (§3.c; MP attributes: AFI/SAFI disable), malformed values take the descriptor's approach; a repeated attribute is discarded after its first
 * occurrence, except MP_REACH_NLRI / MP_UNREACH_NLRI, whose repetition resets the session
 * (§3.g); an attribute overrunning the field ends the walk with "treat-as-withdraw" (§4); an
 * unrecognized well-known attribute resets the session (RFC 4271 §6.3); unrecognized optional
 * attributes are kept (transitive) or dropped (non-transitive) (RFC 4271 §5). Session-reset
 * errors are thrown; the others are reported for the UPDATE decoder to weigh.
 *
 * Encoding writes MP_REACH_NLRI / MP_UNREACH_NLRI first (RFC 7606 §5.1), then the others by
 * type code, with the Extended Length bit exactly when a value exceeds 255 octets; kept
 * unrecognized attributes get the Partial bit (RFC 4271 §5).
 */
import { Buffer } from 'node:buffer';
import type { BgpError } from '../errors.js';
import type { MpReach, MpUnreach, PathAttributes, RawAttribute } from '../types.js';
import { mergeAs4Path } from './as-path.js';
import { categoryFlags, type AttributeContext, type AttributeDraft, type AttributeProblem, type AttributeSource } from './attribute-model.js';
import { ATTRIBUTE_TABLE, attributeDescriptor, attributeName } from './attribute-table.js';
import type { ByteWriter } from './byte-writer.js';
import { AS_TRANS, AttrFlag, AttrType, ErrorCode, UpdateSubcode } from './constants.js';
import { decodeError } from './decode-error.js';
import { EncodeError } from './encode-error.js';
import { mpFlagProblemAction } from './mp-nlri.js';

/** An address family to disable (RFC 7606 "AFI/SAFI disable"). */
export interface Family {
  readonly afi: number;
  readonly safi: number;
}

/** What the walk found. */
export interface AttributeDecode {
  /** The decoded attributes; undefined when the field held none besides MP_* ones. */
  attributes: PathAttributes | undefined;
  mpReach: MpReach | undefined;
  mpUnreach: MpUnreach | undefined;
  /** Type codes met at least once (malformed or not). */
  readonly seen: Uint8Array;
  /** Errors found, none of them session-reset (those are thrown). */
  readonly errors: BgpError[];
  /** Type codes dropped: attribute-discard, repeats, unrecognized non-transitive. */
  readonly discarded: number[];
  /** Families to disable. */
  readonly families: Family[];
  /** Some error calls for treat-as-withdraw. */
  treatAsWithdraw: boolean;
  /** The first NEXT_HOP attribute as received (flags, type, length, value). */
  nextHopRaw: Uint8Array | undefined;
  /** The walk stopped at an attribute overrunning the field (RFC 7606 §4); later attributes are unknown. */
  truncated: boolean;
}

const EMPTY = new Uint8Array(0);

function isMp(type: number): boolean {
  return type === AttrType.MP_REACH_NLRI || type === AttrType.MP_UNREACH_NLRI;
}

function record(out: AttributeDecode, type: number, name: string, action: BgpError['action'], p: AttributeProblem, raw: Uint8Array): void {
  const err = decodeError(ErrorCode.UPDATE_MESSAGE, p.subcode, `${name}: ${p.reason}`, p.data === 'none' ? EMPTY : raw, action);
  if (action === 'session-reset') throw err;
  out.errors.push(err);
  if (action === 'attribute-discard') out.discarded.push(type);
  else if (action === 'treat-as-withdraw') out.treatAsWithdraw = true;
  else if (p.family) out.families.push(p.family);
}

/**
 * Decodes the attributes in `buf[start, end)`. Throws a {@link BgpError} for session-reset
 * conditions; reports the rest in the result. `draft` may carry attributes already known (an
 * attribute-cache hit), in which case only MP_* attributes are decoded.
 */
export function walkAttributes(buf: Uint8Array, start: number, end: number, ctx: AttributeContext, onlyMp: boolean): AttributeDecode & { draft: AttributeDraft } {
  const draft: AttributeDraft = {};
  const out: AttributeDecode & { draft: AttributeDraft } = {
    attributes: undefined,
    mpReach: undefined,
    mpUnreach: undefined,
    seen: new Uint8Array(256),
    errors: [],
    discarded: [],
    families: [],
    treatAsWithdraw: false,
    nextHopRaw: undefined,
    truncated: false,
    draft,
  };
  let pos = start;
  while (pos < end) {
    const left = end - pos;
    const flags = buf[pos];
    const ext = (flags & AttrFlag.EXTENDED_LENGTH) !== 0;
    const hdr = ext ? 4 : 3;
    const type = left >= 2 ? buf[pos + 1] : 0;
    const len = left < hdr ? -1 : ext ? (buf[pos + 2] << 8) | buf[pos + 3] : buf[pos + 2];
    if (len < 0 || pos + hdr + len > end) {
      // RFC 7606 §4: an attribute overrunning the field, or a header that does not fit, is
      // "treat-as-withdraw"; Total Attribute Length still locates the NLRI.
      const why = len < 0 ? `${left} octet(s) left, too few for an attribute header` : `${attributeName(type)} length ${len} overruns the path attributes`;
      record(out, type, 'path attributes', 'treat-as-withdraw', { subcode: UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, reason: why, data: 'none' }, EMPTY);
      out.truncated = true;
      break;
    }
    const vstart = pos + hdr;
    const vend = vstart + len;
    const raw = buf.subarray(pos, vend);
    pos = vend;
    if (out.seen[type] !== 0) {
      if (isMp(type)) {
        // RFC 7606 §3.g: a repeated MP_REACH_NLRI / MP_UNREACH_NLRI is a Malformed Attribute List.
        throw decodeError(ErrorCode.UPDATE_MESSAGE, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, `${attributeName(type)} appears more than once`);
      }
      // RFC 7606 §3.g: other repeats are discarded, the first occurrence is kept.
      record(out, type, attributeName(type), 'attribute-discard', { subcode: UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, reason: 'repeated; all but the first discarded', data: 'none' }, raw);
      continue;
    }
    out.seen[type] = 1;
    if (type === AttrType.NEXT_HOP) out.nextHopRaw = raw;
    if (onlyMp && !isMp(type)) continue;
    const d = attributeDescriptor(type);
    if (!d) {
      if ((flags & AttrFlag.OPTIONAL) === 0) {
        // RFC 4271 §6.3: Unrecognized Well-known Attribute, data = the attribute.
        throw decodeError(ErrorCode.UPDATE_MESSAGE, UpdateSubcode.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE, `type ${type}`, raw);
      }
      if ((flags & AttrFlag.TRANSITIVE) !== 0) (draft.unknown ??= []).push({ flags, type, value: buf.slice(vstart, vend) });
      else out.discarded.push(type);
      continue;
    }
    const want = categoryFlags(d.category);
    if ((flags & (AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE)) !== want) {
      // RFC 7606 §3.c: Optional/Transitive bits in conflict make the attribute malformed and
      // call for "treat-as-withdraw", unless the attribute's own specification says otherwise
      // (MP_REACH_NLRI / MP_UNREACH_NLRI: RFC 7606 §5.3, AFI/SAFI disable or session reset).
      const p: AttributeProblem = {
        subcode: UpdateSubcode.ATTRIBUTE_FLAGS_ERROR,
        reason: `flags 0x${flags.toString(16)}, Optional/Transitive must be 0x${want.toString(16)}`,
        ...(isMp(type) ? mpFlagProblemAction(buf, vstart, vend) : {}),
      };
      record(out, type, d.name, p.action ?? 'treat-as-withdraw', p, raw);
      continue;
    }
    const p = d.decode(buf, vstart, vend, draft, ctx);
    if (p) record(out, type, d.name, p.action ?? d.onMalformed, p, raw);
  }
  out.mpReach = draft.mpReach;
  out.mpUnreach = draft.mpUnreach;
  return out;
}

/**
 * Turns a draft into {@link PathAttributes}, rebuilding AS_PATH and AGGREGATOR from AS4_PATH
 * and AS4_AGGREGATOR for a 2-octet peer (RFC 6793 §4.2.3). Undefined when nothing is set.
 */
export function finishAttributes(draft: AttributeDraft, ctx: AttributeContext): PathAttributes | undefined {
  let asPath = draft.asPath;
  let aggregator = draft.aggregator;
  if (!ctx.fourOctetAs) {
    let useAs4Path = true;
    if (draft.as4Aggregator && aggregator) {
      // An AGGREGATOR holding a real AS means an OLD speaker aggregated after the NEW one:
      // AS4_AGGREGATOR and AS4_PATH are both stale and ignored.
      if (aggregator.asn !== AS_TRANS) useAs4Path = false;
      else aggregator = draft.as4Aggregator;
    }
    if (useAs4Path && draft.as4Path && asPath) asPath = mergeAs4Path(asPath, draft.as4Path);
  }
  const a: { -readonly [K in keyof PathAttributes]: PathAttributes[K] } = {};
  if (draft.origin !== undefined) a.origin = draft.origin;
  if (asPath !== undefined) a.asPath = asPath;
  if (draft.nextHop !== undefined) a.nextHop = draft.nextHop;
  if (draft.med !== undefined) a.med = draft.med;
  if (draft.localPref !== undefined) a.localPref = draft.localPref;
  if (draft.atomicAggregate) a.atomicAggregate = true;
  if (aggregator !== undefined) a.aggregator = aggregator;
  if (draft.communities !== undefined) a.communities = draft.communities;
  if (draft.largeCommunities !== undefined) a.largeCommunities = draft.largeCommunities;
  if (draft.originatorId !== undefined) a.originatorId = draft.originatorId;
  if (draft.clusterList !== undefined) a.clusterList = draft.clusterList;
  // Sorted by type code, the order they are sent in (RFC 4271 §5), so a decoded model is the
  // same whatever order the peer used.
  if (draft.unknown !== undefined) a.unknown = draft.unknown.length > 1 ? draft.unknown.sort((x, y) => x.type - y.type) : draft.unknown;
  return Object.keys(a).length > 0 ? a : undefined;
}

/** Latin-1 text of octets: a compact, exact map key. */
function keyText(buf: Uint8Array, start: number, end: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('latin1');
}

/**
 * The attribute-cache key of `buf[start, end)`: the octets of every attribute but MP_REACH_NLRI
 * and MP_UNREACH_NLRI, plus MP_REACH_NLRI's AFI, SAFI and next hop, plus the AS size.
 * Undefined when the field does not frame cleanly or repeats an MP attribute (then it is
 * decoded the long way, which reports the error).
 */
export function attributeCacheKey(buf: Uint8Array, start: number, end: number, fourOctetAs: boolean): string | undefined {
  let key = fourOctetAs ? '4' : '2';
  let runStart = start;
  let pos = start;
  let mpSeen = 0;
  while (pos < end) {
    if (end - pos < 3) return undefined;
    const flags = buf[pos];
    const type = buf[pos + 1];
    const ext = (flags & AttrFlag.EXTENDED_LENGTH) !== 0;
    if (ext && end - pos < 4) return undefined;
    const hdr = ext ? 4 : 3;
    const len = ext ? (buf[pos + 2] << 8) | buf[pos + 3] : buf[pos + 2];
    const vend = pos + hdr + len;
    if (vend > end) return undefined;
    if (isMp(type)) {
      const bit = type === AttrType.MP_REACH_NLRI ? 1 : 2;
      if ((mpSeen & bit) !== 0) return undefined;
      mpSeen |= bit;
      if (pos > runStart) key += keyText(buf, runStart, pos);
      if (type === AttrType.MP_REACH_NLRI) {
        const vstart = pos + hdr;
        const nhEnd = vend - vstart >= 4 ? Math.min(vend, vstart + 4 + buf[vstart + 3]) : vend;
        key += '\u0100' + keyText(buf, vstart, nhEnd) + '\u0101';
      }
      runStart = vend;
    }
    pos = vend;
  }
  if (end > runStart) key += keyText(buf, runStart, end);
  return key;
}

interface Encoded {
  readonly type: number;
  readonly flags: number;
  readonly value: Uint8Array;
}

function rawForEncoding(u: RawAttribute): Encoded {
  if ((u.flags & AttrFlag.OPTIONAL) === 0 || (u.flags & AttrFlag.TRANSITIVE) === 0) {
    throw new EncodeError(`unrecognized attribute ${u.type} must be optional transitive to be passed on`);
  }
  if (attributeDescriptor(u.type)) throw new EncodeError(`attribute ${attributeName(u.type)} cannot be passed on raw`);
  // RFC 4271 §5: an unrecognized optional transitive attribute is passed on with Partial set.
  return { type: u.type, flags: (u.flags & (AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE)) | AttrFlag.PARTIAL, value: u.value };
}

/**
 * Writes the Path Attributes field for `src`. Throws {@link EncodeError} when a value is
 * invalid or longer than 65535 octets, or a raw attribute cannot be passed on.
 */
export function encodeAttributes(src: AttributeSource, ctx: AttributeContext, w: ByteWriter): void {
  const items: Encoded[] = [];
  for (const d of ATTRIBUTE_TABLE) {
    const value = d.encode(src, ctx);
    if (value !== undefined) items.push({ type: d.type, flags: categoryFlags(d.category), value });
  }
  const seen = new Set<number>();
  for (const u of src.attributes.unknown ?? []) {
    if (seen.has(u.type)) throw new EncodeError(`unrecognized attribute ${u.type} given twice`);
    seen.add(u.type);
    items.push(rawForEncoding(u));
  }
  items.sort((x, y) => (isMp(x.type) === isMp(y.type) ? x.type - y.type : isMp(x.type) ? -1 : 1));
  for (const it of items) {
    const len = it.value.length;
    if (len > 0xffff) throw new EncodeError(`${attributeName(it.type)} value of ${len} octets is too long`);
    if (len > 255) {
      w.u8(it.flags | AttrFlag.EXTENDED_LENGTH);
      w.u8(it.type);
      w.u16(len);
    } else {
      w.u8(it.flags);
      w.u8(it.type);
      w.u8(len);
    }
    w.bytes(it.value);
  }
}
