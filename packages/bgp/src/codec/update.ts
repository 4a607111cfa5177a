/**
 * UPDATE (RFC 4271 §4.3) with multiprotocol NLRI (RFC 4760) and the revised error handling of
 * RFC 7606; End-of-RIB markers (RFC 4724 §2); packing many prefixes into as few UPDATEs as
 * fit.
 */
import type { BgpError } from '../errors.js';
import type { Afi, PathAttributes, Prefix, Safi, UpdateMessage } from '../types.js';
import { attributeCacheKey, encodeAttributes, finishAttributes, walkAttributes, type AttributeDecode, type Family } from './attributes.js';
import { parseIpv4 } from './address.js';
import { ByteWriter } from './byte-writer.js';
import { AFI_IPV4, AttrFlag, AttrType, BGP_MARKER, ErrorCode, HEADER_LENGTH, HeaderSubcode, MAX_MESSAGE_LENGTH, MessageType, SAFI_UNICAST, UpdateSubcode } from './constants.js';
import { decodeError, u16Bytes } from './decode-error.js';
import { EncodeError } from './encode-error.js';
import { encodeNextHops } from './mp-nlri.js';
import type { CodecOptions } from './options.js';
import { decodeIpv4KeysInto, decodeIpv4PrefixesInto, ipv4Key, ipv4KeyOf, prefixForEncoding, wireLength, writePrefix, type Ipv4Key, type ParsedPrefix } from './prefix.js';

/** What the session must do with a decoded UPDATE (RFC 7606 §2), weakest to strongest. */
export type UpdateAction = 'none' | 'treat-as-withdraw' | 'afisafi-disable';

/** The result of {@link decodeUpdate}. */
export interface UpdateDecodeResult {
  /**
   * The UPDATE as far as it could be decoded. With `treat-as-withdraw` it still lists every
   * prefix (withdrawn, NLRI, MP_REACH and MP_UNREACH) so the caller can withdraw them all;
   * its `attributes` must then not be installed.
   */
  readonly message: UpdateMessage;
  /**
   * `none`: apply the message. `treat-as-withdraw`: withdraw every prefix it lists.
   * `afisafi-disable`: drop all routes of {@link disabledFamilies} and ignore that family for
   * the rest of the session; the rest of the message is to be treated as withdrawn (the
   * strongest approach governs the whole UPDATE, RFC 7606 §3.h).
   */
  readonly action: UpdateAction;
  /** The families to disable when `action` is `afisafi-disable`. */
  readonly disabledFamilies: readonly Family[];
  /** Attribute type codes dropped: malformed "attribute discard" ones, repeats, unrecognized non-transitive ones, AS4_* from a 4-octet peer. */
  readonly discarded: readonly number[];
  /** What went wrong, for logs; each is ready for the wire but none needs a NOTIFICATION. */
  readonly errors: readonly BgpError[];
  /** Set when the UPDATE is an End-of-RIB marker (RFC 4724 §2), for any family. */
  readonly endOfRib?: Family;
  /** With {@link CodecOptions.ipv4Keys}: the IPv4 Withdrawn Routes and NLRI fields as keys. */
  readonly ipv4?: { readonly withdrawn: readonly Ipv4Key[]; readonly nlri: readonly Ipv4Key[] };
}

/** The attributes of an UPDATE whose attributes were all dropped or not understood. */
const NO_ATTRIBUTES: PathAttributes = Object.freeze({});

/**
 * True when the field held an attribute other than a decoded MP_REACH_NLRI / MP_UNREACH_NLRI:
 * then `attributes` is set (possibly empty), so a message whose only attribute was, say, an
 * MP_UNREACH_NLRI of a family not decoded is not mistaken for an IPv4 End-of-RIB.
 */
function hasOtherAttributes(walk: AttributeDecode): boolean {
  const { seen } = walk;
  if (seen[AttrType.MP_REACH_NLRI] !== 0 && !walk.mpReach) return true;
  if (seen[AttrType.MP_UNREACH_NLRI] !== 0 && !walk.mpUnreach) return true;
  for (let t = 0; t < 256; t++) if (seen[t] !== 0 && t !== AttrType.MP_REACH_NLRI && t !== AttrType.MP_UNREACH_NLRI) return true;
  return false;
}

function u16(buf: Uint8Array, at: number): number {
  return (buf[at] << 8) | buf[at + 1];
}

/** RFC 4271 §5.1.3 / §6.3: a NEXT_HOP that is not a valid host address (0/8, multicast, class E, broadcast). */
function isInvalidNextHop(firstOctet: number): boolean {
  return firstOctet === 0 || firstOctet >= 224;
}

/**
 * Decodes an UPDATE frame (header included).
 *
 * Throws a {@link BgpError} when the session must be reset: Withdrawn Routes Length or Total
 * Attribute Length too large (Malformed Attribute List, RFC 7606 §3.b), an invalid Withdrawn
 * Routes or NLRI field (Invalid Network Field, RFC 7606 §5.3), a repeated MP_REACH_NLRI /
 * MP_UNREACH_NLRI (§3.g), an unrecognized well-known attribute, an MP attribute too short to
 * name its family, or a treat-as-withdraw error in an UPDATE without NLRI or MP_REACH_NLRI,
 * where nothing could be withdrawn reliably (§5.2). Everything else is reported in the
 * result ({@link UpdateDecodeResult.action}, `errors`, `discarded`).
 *
 * Interning: with `opts.attributeCache`, the key is the raw Path Attributes octets except
 * MP_REACH_NLRI and MP_UNREACH_NLRI, plus MP_REACH_NLRI's AFI/SAFI/next hop octets, plus the
 * AS size. A hit returns the cached {@link PathAttributes} object itself (so every route
 * decoded from identical attributes shares one object, and identity implies equal next hop);
 * a miss decodes and stores the result when it had no errors or discards. Entries are never
 * evicted by the codec.
 */
export function decodeUpdate(frame: Uint8Array, opts: CodecOptions): UpdateDecodeResult {
  const len = frame.length;
  if (len < 23) throw decodeError(ErrorCode.MESSAGE_HEADER, HeaderSubcode.BAD_MESSAGE_LENGTH, `UPDATE length ${len}, must be at least 23`, u16Bytes(len));
  const wEnd = 21 + u16(frame, 19);
  if (wEnd + 2 > len) throw decodeError(ErrorCode.UPDATE_MESSAGE, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, 'Withdrawn Routes Length exceeds the message');
  const aStart = wEnd + 2;
  const aEnd = aStart + u16(frame, wEnd);
  if (aEnd > len) throw decodeError(ErrorCode.UPDATE_MESSAGE, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, 'Total Path Attribute Length exceeds the message');

  const withdrawn: Prefix[] = [];
  const nlri: Prefix[] = [];
  let keys: { withdrawn: Ipv4Key[]; nlri: Ipv4Key[] } | undefined;
  if (opts.ipv4Keys) {
    keys = { withdrawn: [], nlri: [] };
    decodeIpv4KeysInto(frame, 21, wEnd, keys.withdrawn);
    decodeIpv4KeysInto(frame, aEnd, len, keys.nlri);
  } else {
    decodeIpv4PrefixesInto(frame, 21, wEnd, withdrawn);
    decodeIpv4PrefixesInto(frame, aEnd, len, nlri);
  }
  const nlriCount = keys ? keys.nlri.length : nlri.length;

  const ctx = { fourOctetAs: opts.fourOctetAs };
  const cache = opts.attributeCache;
  let attributes: PathAttributes | undefined;
  let walk: ReturnType<typeof walkAttributes> | undefined;
  let key: string | undefined;
  if (cache && aEnd > aStart) {
    key = attributeCacheKey(frame, aStart, aEnd, ctx.fourOctetAs);
    const hit = key === undefined ? undefined : cache.get(key);
    if (hit) {
      walk = walkAttributes(frame, aStart, aEnd, ctx, true);
      attributes = hit;
    }
  }
  if (!walk) {
    walk = walkAttributes(frame, aStart, aEnd, ctx, false);
    attributes = finishAttributes(walk.draft, ctx);
    if (key !== undefined && attributes && walk.errors.length === 0 && walk.discarded.length === 0) cache?.set(key, attributes);
  }
  const { seen, mpReach, mpUnreach } = walk;
  const errors = walk.errors;
  let treatAsWithdraw = walk.treatAsWithdraw;
  const announces = nlriCount > 0 || seen[AttrType.MP_REACH_NLRI] !== 0;

  if (announces && !walk.truncated) {
    // RFC 7606 §3.d: a missing well-known mandatory attribute is "treat-as-withdraw"; NEXT_HOP
    // is mandatory only with NLRI in the NLRI field (RFC 4760 §3). RFC 4271 §6.3: data is
    // the missing type code. (After an overrun the rest is unknown, not missing.)
    const mandatory = nlriCount > 0 ? [AttrType.ORIGIN, AttrType.AS_PATH, AttrType.NEXT_HOP] : [AttrType.ORIGIN, AttrType.AS_PATH];
    for (const type of mandatory) {
      if (seen[type] !== 0) continue;
      errors.push(decodeError(ErrorCode.UPDATE_MESSAGE, UpdateSubcode.MISSING_WELL_KNOWN_ATTRIBUTE, `attribute type ${type} missing`, Uint8Array.of(type), 'treat-as-withdraw'));
      treatAsWithdraw = true;
    }
  }
  if (nlriCount > 0 && walk.nextHopRaw && attributes?.nextHop !== undefined) {
    const raw = walk.nextHopRaw;
    if (isInvalidNextHop(raw[raw.length - 4])) {
      // RFC 4271 §6.3: a semantically incorrect NEXT_HOP is logged and the routes ignored (no
      // NOTIFICATION); RFC 7606 §7.3 handles NEXT_HOP errors with "treat-as-withdraw".
      errors.push(decodeError(ErrorCode.UPDATE_MESSAGE, UpdateSubcode.INVALID_NEXT_HOP_ATTRIBUTE, `NEXT_HOP ${attributes.nextHop} is not a host address`, raw, 'treat-as-withdraw'));
      treatAsWithdraw = true;
    }
  }
  if (treatAsWithdraw && !announces) {
    // RFC 7606 §5.2: with no NLRI and no MP_REACH_NLRI there is nothing that could be reliably
    // withdrawn (an MP_REACH_NLRI may hide behind the error): "session reset".
    const first = errors.find((e) => e.action === 'treat-as-withdraw') as BgpError;
    throw decodeError(first.notification.code, first.notification.subcode, `${first.message} (UPDATE without NLRI: session reset, RFC 7606 §5.2)`, first.notification.data);
  }

  const message: { -readonly [K in keyof UpdateMessage]: UpdateMessage[K] } = { type: 'update', withdrawn, nlri };
  if (attributes) message.attributes = attributes;
  else if (hasOtherAttributes(walk)) message.attributes = NO_ATTRIBUTES;
  if (mpReach) message.mpReach = mpReach;
  if (mpUnreach) message.mpUnreach = mpUnreach;
  const action: UpdateAction = walk.families.length > 0 ? 'afisafi-disable' : treatAsWithdraw ? 'treat-as-withdraw' : 'none';
  const result: { -readonly [K in keyof UpdateDecodeResult]: UpdateDecodeResult[K] } = { message, action, disabledFamilies: walk.families, discarded: walk.discarded, errors };
  const eor = endOfRibOnWire(frame, wEnd, aStart, aEnd);
  if (eor) result.endOfRib = eor;
  if (keys) result.ipv4 = keys;
  return result;
}

/** RFC 4724 §2 on the raw frame: an empty UPDATE, or one holding only an empty MP_UNREACH_NLRI. */
function endOfRibOnWire(frame: Uint8Array, wEnd: number, aStart: number, aEnd: number): Family | undefined {
  if (wEnd !== 21 || aEnd !== frame.length) return undefined;
  if (aEnd === aStart) return { afi: AFI_IPV4, safi: SAFI_UNICAST };
  const flags = frame[aStart];
  const hdr = (flags & AttrFlag.EXTENDED_LENGTH) !== 0 ? 4 : 3;
  if (frame[aStart + 1] !== AttrType.MP_UNREACH_NLRI || aEnd - aStart !== hdr + 3) return undefined;
  const vlen = hdr === 4 ? u16(frame, aStart + 2) : frame[aStart + 2];
  if (vlen !== 3) return undefined;
  return { afi: u16(frame, aStart + hdr), safi: frame[aStart + hdr + 2] };
}

/**
 * The family a decoded or built UPDATE marks the End-of-RIB of (RFC 4724 §2): IPv4 unicast
 * for an empty UPDATE, the MP_UNREACH_NLRI's family for one holding only an empty
 * MP_UNREACH_NLRI; undefined otherwise. (A decoded UPDATE also reports it as
 * {@link UpdateDecodeResult.endOfRib}, which sees families the codec does not decode.)
 */
export function endOfRibFamily(msg: UpdateMessage): Family | undefined {
  if (msg.withdrawn.length > 0 || msg.nlri.length > 0 || msg.attributes !== undefined || msg.mpReach !== undefined) return undefined;
  if (!msg.mpUnreach) return { afi: AFI_IPV4, safi: SAFI_UNICAST };
  return msg.mpUnreach.withdrawn.length === 0 ? { afi: msg.mpUnreach.afi, safi: msg.mpUnreach.safi } : undefined;
}

/** True when a decoded or built UPDATE is an End-of-RIB marker (see {@link endOfRibFamily}). */
export function isEndOfRib(msg: UpdateMessage): boolean {
  return endOfRibFamily(msg) !== undefined;
}

/** The End-of-RIB marker of a family (RFC 4724 §2): an empty UPDATE for IPv4 unicast, else an empty MP_UNREACH_NLRI. */
export function encodeEndOfRib(afi: number, safi: number = SAFI_UNICAST): Uint8Array {
  if (afi === AFI_IPV4 && safi === SAFI_UNICAST) return frameOf(Uint8Array.of(0, 0, 0, 0));
  return frameOf(Uint8Array.of(0, 0, 0, 6, AttrFlag.OPTIONAL, AttrType.MP_UNREACH_NLRI, 3, afi >>> 8, afi & 0xff, safi));
}

function frameOf(body: Uint8Array): Uint8Array {
  const length = HEADER_LENGTH + body.length;
  const out = new Uint8Array(length);
  out.set(BGP_MARKER, 0);
  out[16] = length >>> 8;
  out[17] = length & 0xff;
  out[18] = MessageType.UPDATE;
  out.set(body, HEADER_LENGTH);
  return out;
}

function beginUpdate(w: ByteWriter): void {
  w.bytes(BGP_MARKER);
  w.u16(0);
  w.u8(MessageType.UPDATE);
}

function endMessage(w: ByteWriter, maxSize: number): Uint8Array {
  if (w.length > maxSize) throw new EncodeError(`UPDATE of ${w.length} octets exceeds ${maxSize}`);
  w.patchU16(16, w.length);
  return w.finish();
}

function requireAttributes(a: PathAttributes | undefined, ipv4Nlri: boolean): void {
  if (!a || a.origin === undefined || !a.asPath) throw new EncodeError('an UPDATE announcing routes needs ORIGIN and AS_PATH');
  if (ipv4Nlri && a.nextHop === undefined) throw new EncodeError('IPv4 NLRI need a NEXT_HOP');
}

/**
 * Encodes an UPDATE frame as given (withdrawn, attributes, MP attributes, NLRI); an IPv6
 * `attributes.nextHop` is left out when there are no IPv4 NLRI (it belongs in MP_REACH). Throws
 * {@link EncodeError} when the message announces routes without ORIGIN/AS_PATH (or IPv4 NLRI
 * without NEXT_HOP), holds an invalid value, or exceeds 4096 octets.
 */
export function encodeUpdate(msg: UpdateMessage, opts: CodecOptions): Uint8Array {
  if (msg.nlri.length > 0 || (msg.mpReach && msg.mpReach.nlri.length > 0)) requireAttributes(msg.attributes, msg.nlri.length > 0);
  const w = new ByteWriter(512);
  beginUpdate(w);
  const wAt = w.length;
  w.u16(0);
  for (const p of msg.withdrawn) writePrefix(w, prefixForEncoding(p, AFI_IPV4));
  w.patchU16(wAt, w.length - wAt - 2);
  const aAt = w.length;
  w.u16(0);
  let attributes = msg.attributes ?? {};
  if (msg.nlri.length === 0 && attributes.nextHop !== undefined && !parseIpv4(attributes.nextHop)) {
    // NEXT_HOP only serves NLRI in the NLRI field (RFC 4760 §3); a model that keeps an IPv6
    // next hop there for MP routes does not get it written as one.
    const { nextHop: _dropped, ...rest } = attributes;
    attributes = rest;
  }
  encodeAttributes({ attributes, mpReach: msg.mpReach, mpUnreach: msg.mpUnreach }, { fourOctetAs: opts.fourOctetAs }, w);
  const tal = w.length - aAt - 2;
  if (tal > 0xffff) throw new EncodeError('path attributes exceed 65535 octets');
  w.patchU16(aAt, tal);
  for (const p of msg.nlri) writePrefix(w, prefixForEncoding(p, AFI_IPV4));
  return endMessage(w, MAX_MESSAGE_LENGTH);
}

/** Routes of one family sharing attributes, to be packed into UPDATEs by {@link encodeUpdates}. */
export interface RouteBatch {
  readonly afi: Afi;
  /** Defaults to unicast. */
  readonly safi?: Safi;
  /** Attributes of the announced routes; required when `nlri` is not empty. */
  readonly attributes?: PathAttributes;
  /** Prefixes to announce. */
  readonly nlri?: readonly Prefix[];
  /** Prefixes to withdraw. */
  readonly withdrawn?: readonly Prefix[];
  /** IPv4 unicast only: more prefixes to announce, as keys (sent after `nlri`). */
  readonly nlriKeys?: readonly Ipv4Key[];
  /** IPv4 unicast only: more prefixes to withdraw, as keys (sent after `withdrawn`). */
  readonly withdrawnKeys?: readonly Ipv4Key[];
  /**
   * Next hop(s) of the announced routes: IPv4 — one address, sent as NEXT_HOP (defaults to
   * `attributes.nextHop`); IPv6 — the global address, optionally followed by a link-local one
   * (required for IPv6 announcements).
   */
  readonly nextHops?: readonly string[];
}

/** Greedily groups prefixes so each group's wire size (by `size`) stays within `budget`. */
function pack<P>(prefixes: readonly P[], budget: number, size: (p: P) => number): P[][] {
  const groups: P[][] = [];
  let cur: P[] = [];
  let used = 0;
  for (const p of prefixes) {
    const n = size(p);
    if (n > budget) throw new EncodeError(`no room for prefixes: ${budget} octets left in an UPDATE`);
    if (used + n > budget) {
      groups.push(cur);
      cur = [];
      used = 0;
    }
    cur.push(p);
    used += n;
  }
  if (cur.length > 0) groups.push(cur);
  return groups;
}

function writeMpHeader(w: ByteWriter, type: number, valueLength: number): void {
  if (valueLength > 255) {
    w.u8(AttrFlag.OPTIONAL | AttrFlag.EXTENDED_LENGTH);
    w.u8(type);
    w.u16(valueLength);
  } else {
    w.u8(AttrFlag.OPTIONAL);
    w.u8(type);
    w.u8(valueLength);
  }
}

function groupLength(group: readonly ParsedPrefix[]): number {
  let n = 0;
  for (const p of group) n += wireLength(p);
  return n;
}

const TWO_32 = 4294967296;

/**
 * An IPv4 prefix to encode, as its key: canonical text takes the allocation-free path (a full
 * table is millions of these); anything else goes through {@link prefixForEncoding}, which
 * throws the same errors as for every family.
 */
function ipv4ForEncoding(prefix: Prefix): Ipv4Key {
  const k = ipv4KeyOf(prefix);
  if (k !== undefined) return k;
  const p = prefixForEncoding(prefix, AFI_IPV4);
  return ipv4Key(((p.bytes[0] << 24) | (p.bytes[1] << 16) | (p.bytes[2] << 8) | p.bytes[3]) >>> 0, p.length);
}

function keyWireLength(k: Ipv4Key): number {
  return 1 + ((Math.floor(k / TWO_32) + 7) >>> 3);
}

function keysLength(group: readonly Ipv4Key[]): number {
  let n = 0;
  for (const k of group) n += keyWireLength(k);
  return n;
}

function writeKey(w: ByteWriter, k: Ipv4Key): void {
  const len = Math.floor(k / TWO_32);
  const a = k % TWO_32;
  w.u8(len);
  const n = (len + 7) >>> 3;
  for (let i = 0; i < n; i++) w.u8(Math.floor(a / 2 ** (24 - 8 * i)) & 0xff);
}

/**
 * Writers {@link encodeUpdates} reuses: a full table is ~100k UPDATEs, and a fresh 4 KiB buffer
 * for each (its content is copied out by `finish`) was most of the garbage of sending one.
 */
const frames = new ByteWriter(MAX_MESSAGE_LENGTH);
const attributeBytes = new ByteWriter(256);

function frameWriter(): ByteWriter {
  frames.reset();
  return frames;
}

function attributeWriter(): ByteWriter {
  attributeBytes.reset();
  return attributeBytes;
}

/**
 * Packs a batch into as few UPDATE frames of at most `maxSize` octets as fit: first the
 * withdrawals (IPv4 in the Withdrawn Routes field, IPv6 in MP_UNREACH_NLRI), then the
 * announcements (IPv4 in the NLRI field with NEXT_HOP, IPv6 in MP_REACH_NLRI with
 * `nextHops`), each UPDATE carrying one kind only (RFC 7606 §5.1). The attributes are encoded
 * once and repeated in every announcing UPDATE. Throws {@link EncodeError} for invalid input
 * or attributes too large to leave room for a prefix.
 */
export function encodeUpdates(batch: RouteBatch, opts: CodecOptions, maxSize: number = MAX_MESSAGE_LENGTH): Uint8Array[] {
  if (!Number.isInteger(maxSize) || maxSize < 64 || maxSize > 0xffff) throw new EncodeError(`maxSize ${maxSize} out of range`);
  const afi = batch.afi;
  const safi = batch.safi ?? SAFI_UNICAST;
  const ctx = { fourOctetAs: opts.fourOctetAs };
  const out: Uint8Array[] = [];
  const base = HEADER_LENGTH + 4;

  const v4 = afi === AFI_IPV4 && safi === SAFI_UNICAST;
  if (!v4 && (batch.nlriKeys !== undefined || batch.withdrawnKeys !== undefined)) throw new EncodeError('prefix keys are IPv4 unicast only');
  if (v4) {
    const withdrawnKeys = (batch.withdrawn ?? []).map(ipv4ForEncoding);
    if (batch.withdrawnKeys) for (const k of batch.withdrawnKeys) withdrawnKeys.push(k);
    for (const group of pack(withdrawnKeys, maxSize - base, keyWireLength)) {
      const w = frameWriter();
      beginUpdate(w);
      w.u16(keysLength(group));
      for (const k of group) writeKey(w, k);
      w.u16(0);
      out.push(endMessage(w, maxSize));
    }
  } else {
    const withdrawn = (batch.withdrawn ?? []).map((p) => prefixForEncoding(p, afi));
    for (const group of pack(withdrawn, maxSize - base - 4 - 3, wireLength)) {
      const w = frameWriter();
      beginUpdate(w);
      w.u16(0);
      const value = 3 + groupLength(group);
      w.u16((value > 255 ? 4 : 3) + value);
      writeMpHeader(w, AttrType.MP_UNREACH_NLRI, value);
      w.u16(afi);
      w.u8(safi);
      for (const p of group) writePrefix(w, p);
      out.push(endMessage(w, maxSize));
    }
  }

  if ((batch.nlri?.length ?? 0) === 0 && (batch.nlriKeys?.length ?? 0) === 0) return out;
  const given = batch.attributes ?? {};
  const attrs = attributeWriter();
  if (v4) {
    const keys = (batch.nlri ?? []).map(ipv4ForEncoding);
    if (batch.nlriKeys) for (const k of batch.nlriKeys) keys.push(k);
    const nextHop = batch.nextHops?.[0] ?? given.nextHop;
    const attributes: PathAttributes = nextHop === undefined ? given : { ...given, nextHop };
    requireAttributes(attributes, true);
    encodeAttributes({ attributes }, ctx, attrs);
    const attrBytes = attrs.finish();
    for (const group of pack(keys, maxSize - base - attrBytes.length, keyWireLength)) {
      const w = frameWriter();
      beginUpdate(w);
      w.u16(0);
      w.u16(attrBytes.length);
      w.bytes(attrBytes);
      for (const k of group) writeKey(w, k);
      out.push(endMessage(w, maxSize));
    }
    return out;
  }
  const nlri = (batch.nlri ?? []).map((p) => prefixForEncoding(p, afi));
  // RFC 4760 §3: an UPDATE carrying only MP NLRI SHOULD NOT carry NEXT_HOP.
  const { nextHop: _ignored, ...attributes } = given;
  requireAttributes(attributes, false);
  encodeAttributes({ attributes }, ctx, attrs);
  const attrBytes = attrs.finish();
  const nh = encodeNextHops(afi, batch.nextHops ?? []);
  const mpFixed = 5 + nh.length;
  for (const group of pack(nlri, maxSize - base - attrBytes.length - 4 - mpFixed, wireLength)) {
    const w = frameWriter();
    beginUpdate(w);
    w.u16(0);
    const value = mpFixed + groupLength(group);
    w.u16((value > 255 ? 4 : 3) + value + attrBytes.length);
    // RFC 7606 §5.1: MP_REACH_NLRI first.
    writeMpHeader(w, AttrType.MP_REACH_NLRI, value);
    w.u16(afi);
    w.u8(safi);
    w.u8(nh.length);
    w.bytes(nh);
    w.u8(0);
    for (const p of group) writePrefix(w, p);
    w.bytes(attrBytes);
    out.push(endMessage(w, maxSize));
  }
  return out;
}
