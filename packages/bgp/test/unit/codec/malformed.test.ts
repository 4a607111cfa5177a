/**
 * The malformed-input suite: one table of crafted messages, each with the exact outcome — the
 * NOTIFICATION (code, subcode, data) and action of a thrown BgpError, or the RFC 7606 action,
 * the discarded attribute types and the errors reported for an UPDATE that is not fatal.
 */
import { describe, expect, it } from 'vitest';
import type { CodecOptions } from '../../../src/codec/index.js';
import { A, BASIC, NLRI, V6_NH, attr, frame, hex, outcome, u16, u32, update, type Outcome } from './helpers.js';

/** An OPEN body: version, AS, hold time, BGP identifier, optional parameters. */
function open(o: { version?: number; as?: number; hold?: number; id?: number[]; params?: number[]; optLen?: number } = {}): Uint8Array {
  const params = o.params ?? [2, 6, 65, 4, ...u32(65001)];
  return frame(1, [o.version ?? 4, ...u16(o.as ?? 65001), ...u16(o.hold ?? 90), ...(o.id ?? [10, 0, 0, 1]), o.optLen ?? params.length, ...params]);
}

const thrown = (code: number, subcode: number, data = '', action = 'session-reset'): Outcome => ({ thrown: { code, subcode, data, action } });
const result = (action: string, discarded: number[] = [], errors: string[] = [], families?: string[]): Outcome =>
  families ? { action, discarded, errors, families } : { action, discarded, errors };

const ORIGIN_ONLY_AS = [...A.originIgp, ...A.asPath(65001)];
const TWO: CodecOptions = { fourOctetAs: false };

/** A keepalive frame with one octet changed. */
function keepaliveWith(at: number, value: number): Uint8Array {
  const f = frame(4, []);
  f[at] = value;
  return f;
}

interface Case {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly opts?: CodecOptions;
  readonly expect: Outcome;
}

const routeRefresh24 = frame(5, [0, 1, 0, 1, 0]);

const CASES: readonly Case[] = [
  // ---- Message header (RFC 4271 §6.1) ----
  { name: 'marker not all ones', bytes: keepaliveWith(3, 0xfe), expect: thrown(1, 1) },
  { name: 'length 18, below the header', bytes: frame(4, [], 18), expect: thrown(1, 2, '0012') },
  { name: 'length 4097, above the maximum', bytes: frame(2, new Array<number>(4078).fill(0), 4097), expect: thrown(1, 2, '1001') },
  { name: 'KEEPALIVE with a body', bytes: frame(4, [0]), expect: thrown(1, 2, '0014') },
  { name: 'OPEN shorter than 29', bytes: frame(1, [4, 0xfd, 0xe9, 0, 90, 10, 0, 0, 1]), expect: thrown(1, 2, '001c') },
  { name: 'UPDATE shorter than 23', bytes: frame(2, [0, 0, 0]), expect: thrown(1, 2, '0016') },
  { name: 'NOTIFICATION shorter than 21', bytes: frame(3, [6]), expect: thrown(1, 2, '0014') },
  { name: 'ROUTE-REFRESH shorter than 23', bytes: frame(5, [0, 1, 0]), expect: thrown(1, 2, '0016') },
  { name: 'ROUTE-REFRESH longer than 23 (RFC 7313 §5: data is the message)', bytes: routeRefresh24, expect: thrown(7, 1, hex(routeRefresh24)) },
  { name: 'unknown message type 6', bytes: frame(6, []), expect: thrown(1, 3, '06') },
  { name: 'message type 0', bytes: frame(0, []), expect: thrown(1, 3, '00') },

  // ---- OPEN (RFC 4271 §6.2, RFC 5492) ----
  { name: 'OPEN version 3 (data: largest supported version)', bytes: open({ version: 3 }), expect: thrown(2, 1, '0004') },
  { name: 'OPEN hold time 1', bytes: open({ hold: 1 }), expect: thrown(2, 6) },
  { name: 'OPEN hold time 2', bytes: open({ hold: 2 }), expect: thrown(2, 6) },
  { name: 'OPEN hold time 0 is fine', bytes: open({ hold: 0 }), expect: result('none') },
  { name: 'OPEN BGP Identifier 0.0.0.0', bytes: open({ id: [0, 0, 0, 0] }), expect: thrown(2, 3) },
  { name: 'OPEN optional parameter type 1 (authentication)', bytes: open({ params: [1, 1, 0] }), expect: thrown(2, 4) },
  { name: 'OPEN capability running past its parameter', bytes: open({ params: [2, 4, 65, 4, 0, 0] }), expect: thrown(2, 0) },
  { name: 'OPEN truncated capability header', bytes: open({ params: [2, 1, 65] }), expect: thrown(2, 0) },
  { name: 'OPEN 4-octet AS capability of length 2', bytes: open({ params: [2, 4, 65, 2, 0xfd, 0xe9] }), expect: thrown(2, 0) },
  { name: 'OPEN multiprotocol capability of length 3', bytes: open({ params: [2, 5, 1, 3, 0, 1, 1] }), expect: thrown(2, 0) },
  { name: 'OPEN graceful restart capability of length 3', bytes: open({ params: [2, 5, 64, 3, 0, 120, 0] }), expect: thrown(2, 0) },
  { name: 'OPEN optional parameter running past Opt Parm Len', bytes: open({ params: [2, 9, 65, 4, 0, 0, 0xfd, 0xe9] }), expect: thrown(2, 0) },
  { name: 'OPEN Opt Parm Len disagreeing with the message length', bytes: open({ optLen: 7 }), expect: thrown(1, 2, '0025') },
  { name: 'OPEN several parameters, several capabilities each', bytes: open({ params: [2, 8, 1, 4, 0, 1, 0, 1, 2, 0, 2, 6, 65, 4, ...u32(65001)] }), expect: result('none') },

  // ---- UPDATE structure (RFC 4271 §6.3, RFC 7606 §3-§5) ----
  { name: 'Withdrawn Routes Length beyond the message', bytes: frame(2, [0, 9, 0, 0]), expect: thrown(3, 1) },
  { name: 'Total Attribute Length beyond the message (attribute list overruns)', bytes: frame(2, [0, 0, 0, 40, ...BASIC]), expect: thrown(3, 1) },
  { name: 'attribute overrunning the attributes, with NLRI (RFC 7606 §4)', bytes: frame(2, [0, 0, 0, 14, ...A.originIgp, 0x40, 2, 10, 2, 1, 0, 0, 0xfd, 0xe9, ...NLRI]), expect: result('treat-as-withdraw', [], ['3/1 treat-as-withdraw']) },
  { name: 'attribute overrunning the attributes, no NLRI (RFC 7606 §5.2)', bytes: frame(2, [0, 0, 0, 14, ...A.originIgp, 0x40, 2, 10, 2, 1, 0, 0, 0xfd, 0xe9]), expect: thrown(3, 1) },
  { name: 'two octets left after the last attribute, with NLRI', bytes: update({ attrs: [...BASIC, 0x40, 1], nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/1 treat-as-withdraw']) },
  { name: 'NLRI prefix length 33', bytes: update({ attrs: BASIC, nlri: [33, 10, 0, 0, 0, 0] }), expect: thrown(3, 10) },
  { name: 'NLRI truncated prefix', bytes: update({ attrs: BASIC, nlri: [24, 10, 1] }), expect: thrown(3, 10) },
  { name: 'withdrawn prefix length 33', bytes: update({ withdrawn: [33, 10, 0, 0, 0, 0] }), expect: thrown(3, 10) },
  { name: 'withdrawn truncated prefix', bytes: update({ withdrawn: [16, 10] }), expect: thrown(3, 10) },

  // ---- Attribute flags (RFC 7606 §3.c) ----
  { name: 'ORIGIN with the Optional bit', bytes: update({ attrs: [...attr(0xc0, 1, [0]), ...A.asPath(65001), ...A.nextHop(10, 0, 0, 1)], nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/4 treat-as-withdraw c0010100']) },
  { name: 'AS_PATH without the Transitive bit', bytes: update({ attrs: [...A.originIgp, ...attr(0x00, 2, []), ...A.nextHop(10, 0, 0, 1)], nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/4 treat-as-withdraw 000200']) },
  { name: 'LOCAL_PREF marked optional', bytes: update({ attrs: [...BASIC, ...attr(0xc0, 5, u32(100))], nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/4 treat-as-withdraw c0050400000064']) },
  { name: 'COMMUNITIES marked non-transitive', bytes: update({ attrs: [...BASIC, ...attr(0x80, 8, u32(1))], nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/4 treat-as-withdraw 80080400000001']) },
  { name: 'ATOMIC_AGGREGATE marked optional: flag errors are treat-as-withdraw (§3.c)', bytes: update({ attrs: [...BASIC, ...attr(0xc0, 6, [])], nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/4 treat-as-withdraw c00600']) },
  { name: 'AS4_PATH marked non-transitive from a 2-octet peer', opts: TWO, bytes: update({ attrs: [...A.originIgp, ...A.asPath2(65001), ...A.nextHop(10, 0, 0, 1), ...attr(0x80, 17, [2, 1, ...u32(1)])], nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/4 treat-as-withdraw 80110602' + '0100000001']) },
  { name: 'MP_REACH_NLRI marked transitive: AFI/SAFI disable', bytes: update({ attrs: [...ORIGIN_ONLY_AS, ...attr(0xc0, 14, [0, 2, 1, 16, ...V6_NH, 0])] }), expect: result('afisafi-disable', [], [`3/4 afisafi-disable ${hex(attr(0xc0, 14, [0, 2, 1, 16, ...V6_NH, 0]))}`], ['2/1']) },

  // ---- Attribute length (RFC 7606 §7) ----
  { name: 'ORIGIN length 2', bytes: update({ attrs: [...attr(0x40, 1, [0, 0]), ...A.asPath(65001), ...A.nextHop(10, 0, 0, 1)], nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/5 treat-as-withdraw 4001020000']) },
  { name: 'ORIGIN length 0', bytes: update({ attrs: [...attr(0x40, 1, []), ...A.asPath(65001), ...A.nextHop(10, 0, 0, 1)], nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/5 treat-as-withdraw 400100']) },
  { name: 'NEXT_HOP length 5', bytes: update({ attrs: [...ORIGIN_ONLY_AS, ...attr(0x40, 3, [10, 0, 0, 1, 0])], nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/5 treat-as-withdraw 4003050a00000100']) },
  { name: 'MULTI_EXIT_DISC length 3', bytes: update({ attrs: [...BASIC, ...attr(0x80, 4, [0, 0, 1])], nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/5 treat-as-withdraw 800403000001']) },
  { name: 'LOCAL_PREF length 5', bytes: update({ attrs: [...BASIC, ...attr(0x40, 5, [0, 0, 0, 0, 1])], nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/5 treat-as-withdraw 4005050000000001']) },
  { name: 'ATOMIC_AGGREGATE length 1: attribute discard', bytes: update({ attrs: [...BASIC, ...attr(0x40, 6, [0])], nlri: NLRI }), expect: result('none', [6], ['3/5 attribute-discard 40060100']) },
  { name: 'AGGREGATOR length 7 (4-octet session): attribute discard', bytes: update({ attrs: [...BASIC, ...attr(0xc0, 7, [0, 0, 0xfd, 10, 0, 0, 1])], nlri: NLRI }), expect: result('none', [7], ['3/5 attribute-discard c007070000fd0a000001']) },
  { name: 'AGGREGATOR length 8 on a 2-octet session: attribute discard', opts: TWO, bytes: update({ attrs: [...A.originIgp, ...A.asPath2(65001), ...A.nextHop(10, 0, 0, 1), ...attr(0xc0, 7, [0, 0, 0xfd, 0xe9, 10, 0, 0, 1])], nlri: NLRI }), expect: result('none', [7], ['3/5 attribute-discard c007080000fde90a000001']) },
  { name: 'COMMUNITIES length 5', bytes: update({ attrs: [...BASIC, ...attr(0xc0, 8, [0, 0, 0, 1, 0])], nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/5 treat-as-withdraw c008050000000100']) },
  { name: 'COMMUNITIES length 0', bytes: update({ attrs: [...BASIC, ...attr(0xc0, 8, [])], nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/5 treat-as-withdraw c00800']) },
  // RFC 8092 §5: a LARGE_COMMUNITY length that is not a non-zero multiple of 12 is treat-as-withdraw.
  { name: 'LARGE_COMMUNITY length 13', bytes: update({ attrs: [...BASIC, ...attr(0xc0, 32, new Array<number>(13).fill(1))], nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/5 treat-as-withdraw c0200d' + '01'.repeat(13)]) },
  { name: 'LARGE_COMMUNITY length 8', bytes: update({ attrs: [...BASIC, ...attr(0xc0, 32, new Array<number>(8).fill(0))], nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/5 treat-as-withdraw c02008' + '00'.repeat(8)]) },
  { name: 'LARGE_COMMUNITY length 0', bytes: update({ attrs: [...BASIC, ...attr(0xc0, 32, [])], nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/5 treat-as-withdraw c02000']) },
  { name: 'LARGE_COMMUNITY marked non-transitive', bytes: update({ attrs: [...BASIC, ...attr(0x80, 32, new Array<number>(12).fill(0))], nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/4 treat-as-withdraw 80200c' + '00'.repeat(12)]) },
  { name: 'ORIGINATOR_ID length 3', bytes: update({ attrs: [...BASIC, ...attr(0x80, 9, [10, 0, 0])], nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/5 treat-as-withdraw 8009030a0000']) },
  { name: 'CLUSTER_LIST length 6', bytes: update({ attrs: [...BASIC, ...attr(0x80, 10, [10, 0, 0, 1, 0, 0])], nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/5 treat-as-withdraw 800a060a0000010000']) },
  { name: 'AS4_AGGREGATOR length 6 from a 2-octet peer: attribute discard', opts: TWO, bytes: update({ attrs: [...A.originIgp, ...A.asPath2(65001), ...A.nextHop(10, 0, 0, 1), ...attr(0xc0, 18, [0, 1, 10, 0, 0, 1])], nlri: NLRI }), expect: result('none', [18], ['3/5 attribute-discard c0120600010a000001']) },

  // ---- Missing well-known mandatory attributes (RFC 7606 §3.d) ----
  { name: 'missing ORIGIN', bytes: update({ attrs: [...A.asPath(65001), ...A.nextHop(10, 0, 0, 1)], nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/3 treat-as-withdraw 01']) },
  { name: 'missing AS_PATH', bytes: update({ attrs: [...A.originIgp, ...A.nextHop(10, 0, 0, 1)], nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/3 treat-as-withdraw 02']) },
  { name: 'missing NEXT_HOP with IPv4 NLRI', bytes: update({ attrs: ORIGIN_ONLY_AS, nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/3 treat-as-withdraw 03']) },
  { name: 'no attributes at all with IPv4 NLRI', bytes: update({ nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/3 treat-as-withdraw 01', '3/3 treat-as-withdraw 02', '3/3 treat-as-withdraw 03']) },
  { name: 'NEXT_HOP not needed with MP_REACH only', bytes: update({ attrs: [...A.mpReach6(V6_NH, [48, 0xfd, 0, 0, 1, 0, 0]), ...ORIGIN_ONLY_AS] }), expect: result('none') },
  { name: 'missing AS_PATH with MP_REACH', bytes: update({ attrs: [...A.mpReach6(V6_NH, [48, 0xfd, 0, 0, 1, 0, 0]), ...A.originIgp] }), expect: result('treat-as-withdraw', [], ['3/3 treat-as-withdraw 02']) },
  { name: 'withdrawal without attributes is fine', bytes: update({ withdrawn: NLRI }), expect: result('none') },

  // ---- AS_PATH (RFC 7606 §7.2; RFC 4271 §6.3 gives Malformed AS_PATH no data) ----
  { name: 'AS_PATH segment type 5', bytes: update({ attrs: [...A.originIgp, ...attr(0x40, 2, [5, 1, ...u32(65001)]), ...A.nextHop(10, 0, 0, 1)], nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/11 treat-as-withdraw']) },
  { name: 'AS_PATH segment overrunning the attribute', bytes: update({ attrs: [...A.originIgp, ...attr(0x40, 2, [2, 2, ...u32(65001)]), ...A.nextHop(10, 0, 0, 1)], nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/11 treat-as-withdraw']) },
  { name: 'AS_PATH segment with zero AS numbers', bytes: update({ attrs: [...A.originIgp, ...attr(0x40, 2, [2, 0]), ...A.nextHop(10, 0, 0, 1)], nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/11 treat-as-withdraw']) },
  { name: 'AS_PATH with one octet after the last segment', bytes: update({ attrs: [...A.originIgp, ...attr(0x40, 2, [2, 1, ...u32(65001), 2]), ...A.nextHop(10, 0, 0, 1)], nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/11 treat-as-withdraw']) },
  { name: 'AS_PATH confederation segments are accepted', bytes: update({ attrs: [...A.originIgp, ...attr(0x40, 2, [3, 1, ...u32(64512), 4, 1, ...u32(64513), 2, 1, ...u32(65001)]), ...A.nextHop(10, 0, 0, 1)], nlri: NLRI }), expect: result('none') },
  { name: 'AS_PATH loop is not a decode error', bytes: update({ attrs: [...A.originIgp, ...A.asPath(65001, 65002, 65001), ...A.nextHop(10, 0, 0, 1)], nlri: NLRI }), expect: result('none') },
  { name: 'malformed AS4_PATH from a 2-octet peer: attribute discard', opts: TWO, bytes: update({ attrs: [...A.originIgp, ...A.asPath2(65001), ...A.nextHop(10, 0, 0, 1), ...attr(0xc0, 17, [2, 2, ...u32(1)])], nlri: NLRI }), expect: result('none', [17], ['3/9 attribute-discard c011060202' + '00000001']) },
  { name: 'AS4_PATH from a 4-octet peer: discarded', bytes: update({ attrs: [...BASIC, ...attr(0xc0, 17, [2, 1, ...u32(1)])], nlri: NLRI }), expect: result('none', [17], ['3/9 attribute-discard']) },

  // ---- Attribute values ----
  { name: 'ORIGIN value 3', bytes: update({ attrs: [...attr(0x40, 1, [3]), ...A.asPath(65001), ...A.nextHop(10, 0, 0, 1)], nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/6 treat-as-withdraw 40010103']) },
  { name: 'NEXT_HOP 0.0.0.0 with IPv4 NLRI', bytes: update({ attrs: [...ORIGIN_ONLY_AS, ...A.nextHop(0, 0, 0, 0)], nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/8 treat-as-withdraw 40030400000000']) },
  { name: 'NEXT_HOP 224.0.0.5 (multicast) with IPv4 NLRI', bytes: update({ attrs: [...ORIGIN_ONLY_AS, ...A.nextHop(224, 0, 0, 5)], nlri: NLRI }), expect: result('treat-as-withdraw', [], ['3/8 treat-as-withdraw 400304e0000005']) },
  { name: 'NEXT_HOP 0.0.0.0 without IPv4 NLRI is ignored (RFC 4760 §3)', bytes: update({ attrs: [...A.mpReach6(V6_NH, [48, 0xfd, 0, 0, 1, 0, 0]), ...ORIGIN_ONLY_AS, ...A.nextHop(0, 0, 0, 0)] }), expect: result('none') },
  { name: 'bad ORIGIN in an UPDATE without NLRI: session reset (RFC 7606 §5.2)', bytes: update({ attrs: [...attr(0x40, 1, [9]), ...A.asPath(65001)] }), expect: thrown(3, 6, '40010109') },

  // ---- Repeated and unrecognized attributes (RFC 7606 §3.g, RFC 4271 §6.3) ----
  { name: 'repeated ORIGIN: later ones discarded', bytes: update({ attrs: [...BASIC, ...attr(0x40, 1, [2])], nlri: NLRI }), expect: result('none', [1], ['3/1 attribute-discard']) },
  { name: 'repeated COMMUNITIES: later ones discarded', bytes: update({ attrs: [...BASIC, ...A.communities(1), ...A.communities(2)], nlri: NLRI }), expect: result('none', [8], ['3/1 attribute-discard']) },
  { name: 'repeated MP_REACH_NLRI', bytes: update({ attrs: [...A.mpReach6(V6_NH, []), ...A.mpReach6(V6_NH, []), ...ORIGIN_ONLY_AS] }), expect: thrown(3, 1) },
  { name: 'repeated MP_UNREACH_NLRI', bytes: update({ attrs: [...A.mpUnreach6([]), ...A.mpUnreach6([])] }), expect: thrown(3, 1) },
  { name: 'unrecognized well-known attribute 99 (data: the attribute)', bytes: update({ attrs: [...BASIC, ...attr(0x40, 99, [1, 2])], nlri: NLRI }), expect: thrown(3, 2, '4063020102') },
  { name: 'unrecognized optional non-transitive attribute: dropped', bytes: update({ attrs: [...BASIC, ...attr(0x80, 99, [1])], nlri: NLRI }), expect: result('none', [99]) },
  { name: 'treat-as-withdraw is stronger than attribute discard', bytes: update({ attrs: [...attr(0x40, 1, [5]), ...A.asPath(65001), ...A.nextHop(10, 0, 0, 1), ...attr(0x40, 6, [0])], nlri: NLRI }), expect: result('treat-as-withdraw', [6], ['3/6 treat-as-withdraw 40010105', '3/5 attribute-discard 40060100']) },

  // ---- MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 7606 §7.11, §7.12; RFC 4760 §7) ----
  { name: 'MP_REACH IPv6 with a 4-octet next hop', bytes: update({ attrs: [...attr(0x80, 14, [0, 2, 1, 4, 10, 0, 0, 1, 0, 48, 0xfd, 0, 0, 1, 0, 0]), ...ORIGIN_ONLY_AS] }), expect: result('afisafi-disable', [], ['3/9 afisafi-disable 800e10' + '00020104' + '0a000001' + '00' + '30fd0000010000'], ['2/1']) },
  { name: 'MP_REACH next hop length overrunning the attribute', bytes: update({ attrs: [...attr(0x80, 14, [0, 2, 1, 32, ...V6_NH, 0]), ...ORIGIN_ONLY_AS] }), expect: result('afisafi-disable', [], [`3/9 afisafi-disable 800e15000201` + `20${hex(V6_NH)}00`], ['2/1']) },
  { name: 'MP_REACH of 2 octets (no AFI/SAFI)', bytes: update({ attrs: [...attr(0x80, 14, [0, 2]), ...ORIGIN_ONLY_AS] }), expect: thrown(3, 9, '800e020002') },
  { name: 'MP_REACH IPv6 prefix length 129', bytes: update({ attrs: [...A.mpReach6(V6_NH, [129, ...new Array<number>(17).fill(0)]), ...ORIGIN_ONLY_AS] }), expect: result('afisafi-disable', [], [`3/9 afisafi-disable 900e0027000201` + `10${hex(V6_NH)}00` + `81${'00'.repeat(17)}`], ['2/1']) },
  { name: 'MP_UNREACH truncated prefix', bytes: update({ attrs: A.mpUnreach6([48, 0xfd, 0]) }), expect: result('afisafi-disable', [], ['3/9 afisafi-disable 900f0006000201' + '30fd00'], ['2/1']) },
  { name: 'MP_REACH of an unsupported family: ignored', bytes: update({ attrs: [...attr(0x80, 14, [0, 25, 65, 4, 10, 0, 0, 1, 0]), ...ORIGIN_ONLY_AS] }), expect: result('none', [14], ['3/9 attribute-discard']) },
];

describe('malformed input: one table of crafted messages and exact outcomes', () => {
  it('has the suite size the report quotes', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(80);
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(outcome(c.bytes, c.opts)).toEqual(c.expect);
  });
});
