import { describe, expect, it } from 'vitest';
import type { AsPathSegment, PathAttributes } from '../../../src/types.js';
import {
  ATTRIBUTE_TABLE,
  AS_TRANS,
  asPathContains,
  asPathLength,
  decodeUpdate,
  encodeUpdate,
  formatAttributes,
  mergeAs4Path,
} from '../../../src/codec/index.js';
import { A, BASIC, NLRI, attr, hex, u16, u32, update } from './helpers.js';

const seq = (...asns: number[]): AsPathSegment => ({ type: 2, asns });
const set = (...asns: number[]): AsPathSegment => ({ type: 1, asns });
const confedSeq = (...asns: number[]): AsPathSegment => ({ type: 3, asns });

/** The Path Attributes field of an UPDATE encoding `attributes` (no NLRI). */
function attributeBytes(attributes: PathAttributes, fourOctetAs = true): string {
  const f = encodeUpdate({ type: 'update', withdrawn: [], nlri: [], attributes }, { fourOctetAs });
  return hex(f.subarray(23));
}

function roundTrip(attributes: PathAttributes, fourOctetAs = true): PathAttributes | undefined {
  const opts = { fourOctetAs };
  const r = decodeUpdate(encodeUpdate({ type: 'update', withdrawn: [], nlri: ['10.9.0.0/16'], attributes }, opts), opts);
  expect([r.action, r.errors.map((e) => e.message)]).toEqual(['none', []]);
  return r.message.attributes;
}

const base: PathAttributes = { origin: 0, asPath: [seq(65001)], nextHop: '10.0.0.1' };

describe('attribute descriptor table', () => {
  it('has one row per type code, in order, with the RFC 7606 actions', () => {
    const types = ATTRIBUTE_TABLE.map((d) => d.type);
    expect(types).toEqual([...types].sort((a, b) => a - b));
    expect(new Set(types).size).toBe(types.length);
    expect(Object.fromEntries(ATTRIBUTE_TABLE.map((d) => [d.name, `${d.category} ${d.onMalformed}`]))).toEqual({
      ORIGIN: 'well-known-mandatory treat-as-withdraw',
      AS_PATH: 'well-known-mandatory treat-as-withdraw',
      NEXT_HOP: 'well-known-mandatory treat-as-withdraw',
      MULTI_EXIT_DISC: 'optional-non-transitive treat-as-withdraw',
      LOCAL_PREF: 'well-known-discretionary treat-as-withdraw',
      ATOMIC_AGGREGATE: 'well-known-discretionary attribute-discard',
      AGGREGATOR: 'optional-transitive attribute-discard',
      COMMUNITIES: 'optional-transitive treat-as-withdraw',
      ORIGINATOR_ID: 'optional-non-transitive treat-as-withdraw',
      CLUSTER_LIST: 'optional-non-transitive treat-as-withdraw',
      MP_REACH_NLRI: 'optional-non-transitive afisafi-disable',
      MP_UNREACH_NLRI: 'optional-non-transitive afisafi-disable',
      AS4_PATH: 'optional-transitive attribute-discard',
      AS4_AGGREGATOR: 'optional-transitive attribute-discard',
      LARGE_COMMUNITY: 'optional-transitive treat-as-withdraw',
    });
  });
});

describe('each attribute on the wire (4-octet AS session)', () => {
  it.each<[string, PathAttributes, string]>([
    ['ORIGIN', { origin: 2 }, '40010102'],
    ['AS_PATH sequence', { asPath: [seq(65001, 4200000001)] }, '40020a02020000fde9fa56ea01'],
    ['AS_PATH set and confederation segments', { asPath: [confedSeq(64512), seq(65001), set(1, 2)] }, '4002160301' + '0000fc00' + '0201' + '0000fde9' + '0102' + '00000001' + '00000002'],
    ['empty AS_PATH (iBGP origination)', { asPath: [] }, '400200'],
    ['NEXT_HOP', { nextHop: '192.0.2.1' }, '400304c0000201'],
    ['MULTI_EXIT_DISC', { med: 100 }, '80040400000064'],
    ['LOCAL_PREF', { localPref: 200 }, '400504000000c8'],
    ['ATOMIC_AGGREGATE', { atomicAggregate: true }, '400600'],
    ['AGGREGATOR', { aggregator: { asn: 4200000001, address: '10.0.0.9' } }, 'c00708fa56ea010a000009'],
    ['COMMUNITIES', { communities: [0xfde90064, 0xffffff01] }, 'c00808fde90064ffffff01'],
    ['ORIGINATOR_ID', { originatorId: '10.0.0.7' }, '800904' + '0a000007'],
    ['CLUSTER_LIST', { clusterList: ['10.0.0.1', '10.0.0.2'] }, '800a08' + '0a000001' + '0a000002'],
    // RFC 8092 §3: type 32, optional transitive, 12 octets per value (global, local 1, local 2).
    ['LARGE_COMMUNITY', { largeCommunities: [[65001, 1, 2], [4200000001, 0xffffffff, 0]] }, 'c02018' + '0000fde9' + '00000001' + '00000002' + 'fa56ea01' + 'ffffffff' + '00000000'],
    ['unknown optional transitive, passed on with Partial', { unknown: [{ flags: 0xc0, type: 99, value: Uint8Array.of(1, 2, 3) }] }, 'e06303010203'],
  ])('%s', (_name, attributes, wire) => {
    expect(attributeBytes(attributes)).toBe(wire);
    const back = roundTrip({ ...base, ...attributes });
    const want = { ...base, ...attributes };
    if (want.unknown) want.unknown = want.unknown.map((u) => ({ ...u, flags: u.flags | 0x20 }));
    expect(back).toEqual(want);
  });

  it('round-trips every attribute at once', () => {
    const all: PathAttributes = {
      origin: 1,
      asPath: [seq(65001, 65002), set(65010, 65011)],
      nextHop: '10.0.0.1',
      med: 0,
      localPref: 4294967295,
      atomicAggregate: true,
      aggregator: { asn: 65001, address: '10.0.0.1' },
      communities: [1, 2, 3],
      originatorId: '10.0.0.5',
      clusterList: ['10.0.0.6'],
      largeCommunities: [[65001, 1, 2]],
      unknown: [{ flags: 0xe0, type: 99, value: new Uint8Array(12) }],
    };
    expect(roundTrip(all)).toEqual(all);
  });

  it('sets the Extended Length flag exactly when a value exceeds 255 octets', () => {
    const communities = Array.from({ length: 100 }, (_, i) => 0xfde90000 + i);
    const wire = attributeBytes({ communities });
    expect(wire.slice(0, 8)).toBe('d0080190'); // flags 0xd0 = optional transitive + extended, length 400
    expect(roundTrip({ ...base, communities })?.communities).toEqual(communities);
    expect(attributeBytes({ communities: communities.slice(0, 63) }).slice(0, 6)).toBe('c008fc');
    expect(attributeBytes({ communities: communities.slice(0, 64) }).slice(0, 8)).toBe('d0080100');
  });

  it('accepts the Extended Length flag on a short value', () => {
    const r = decodeUpdate(update({ attrs: [...attr(0x50, 1, [0]), ...A.asPath(65001), ...A.nextHop(10, 0, 0, 1)], nlri: NLRI }), { fourOctetAs: true });
    expect([r.action, r.message.attributes?.origin]).toEqual(['none', 0]);
  });

  it('drops an unknown optional non-transitive attribute and keeps an unknown transitive one as received', () => {
    const r = decodeUpdate(update({ attrs: [...BASIC, ...attr(0x80, 98, [1]), ...attr(0xc0, 99, [7, 7])], nlri: NLRI }), { fourOctetAs: true });
    expect(r.discarded).toEqual([98]);
    expect(r.message.attributes?.unknown).toEqual([{ flags: 0xc0, type: 99, value: Uint8Array.of(7, 7) }]);
  });
});

describe('4-octet AS numbers and a 2-octet peer (RFC 6793)', () => {
  const two = { fourOctetAs: false };

  it('sends AS_TRANS in AS_PATH and AGGREGATOR plus AS4_PATH and AS4_AGGREGATOR', () => {
    const attributes: PathAttributes = { asPath: [confedSeq(64512), seq(65001, 4200000001, 65002)], aggregator: { asn: 4200000009, address: '10.0.0.9' } };
    expect(attributeBytes(attributes, false)).toBe(
      '40020c' + '0301fc00' + '0203' + 'fde9' + hex(u16(AS_TRANS)) + 'fdea' + // AS_PATH, 2-octet
        'c00706' + hex(u16(AS_TRANS)) + '0a000009' + // AGGREGATOR with AS_TRANS
        'c0110e' + '0203' + '0000fde9' + 'fa56ea01' + '0000fdea' + // AS4_PATH: no confederation segment
        'c01208' + 'fa56ea09' + '0a000009', // AS4_AGGREGATOR
    );
    expect(roundTrip({ ...base, ...attributes }, false)).toEqual({ ...base, ...attributes });
  });

  it('sends no AS4_PATH / AS4_AGGREGATOR when every AS fits 2 octets', () => {
    const attributes: PathAttributes = { asPath: [seq(65001, 65002)], aggregator: { asn: 65003, address: '10.0.0.9' } };
    expect(attributeBytes(attributes, false)).toBe('400206' + '0202fde9fdea' + 'c00706fdeb0a000009');
    expect(roundTrip({ ...base, ...attributes }, false)).toEqual({ ...base, ...attributes });
  });

  it('never sends AS4_* between 4-octet speakers, and discards them when received', () => {
    expect(attributeBytes({ asPath: [seq(4200000001)] })).toBe('40020602' + '01fa56ea01');
    const r = decodeUpdate(update({ attrs: [...BASIC, ...attr(0xc0, 17, [2, 1, ...u32(7)])], nlri: NLRI }), { fourOctetAs: true });
    expect([r.action, r.discarded, r.message.attributes?.asPath]).toEqual(['none', [17], [seq(65001)]]);
  });

  it.each<[string, AsPathSegment[], AsPathSegment[], AsPathSegment[]]>([
    ['AS4_PATH covers the whole path', [seq(65001, AS_TRANS)], [seq(65001, 4200000001)], [seq(65001, 4200000001)]],
    ['an OLD speaker prepended', [seq(65010, 65001, AS_TRANS)], [seq(65001, 4200000001)], [seq(65010, 65001, 4200000001)]],
    ['AS_PATH shorter than AS4_PATH: AS4_PATH ignored', [seq(AS_TRANS)], [seq(65001, 4200000001)], [seq(AS_TRANS)]],
    ['an AS_SET counts as one', [seq(65010), set(1, 2), seq(AS_TRANS)], [seq(4200000001)], [seq(65010), set(1, 2), seq(4200000001)]],
    ['a leading confederation segment is kept', [confedSeq(64512), seq(65010, AS_TRANS)], [seq(4200000001)], [confedSeq(64512), seq(65010, 4200000001)]],
    ['part of a sequence', [seq(65010, 65011, AS_TRANS, AS_TRANS)], [seq(65011, 4200000001, 4200000002)], [seq(65010, 65011, 4200000001, 4200000002)]],
  ])('merges AS4_PATH into AS_PATH (RFC 6793 §4.2.3): %s', (_n, asPath, as4Path, merged) => {
    expect(mergeAs4Path(asPath, as4Path)).toEqual(merged);
    const wire = (segs: AsPathSegment[], size: 2 | 4): number[] => segs.flatMap((s) => [s.type, s.asns.length, ...s.asns.flatMap(size === 2 ? u16 : u32)]);
    const r = decodeUpdate(update({ attrs: [...A.originIgp, ...attr(0x40, 2, wire(asPath, 2)), ...A.nextHop(10, 0, 0, 1), ...attr(0xc0, 17, wire(as4Path, 4))], nlri: NLRI }), two);
    expect(r.message.attributes?.asPath).toEqual(merged);
  });

  it('ignores AS4_AGGREGATOR and AS4_PATH when AGGREGATOR names a real AS', () => {
    const r = decodeUpdate(
      update({
        attrs: [...A.originIgp, ...A.asPath2(65010, AS_TRANS), ...A.nextHop(10, 0, 0, 1), ...attr(0xc0, 7, [...u16(65010), 10, 0, 0, 9]), ...attr(0xc0, 17, [2, 1, ...u32(4200000001)]), ...attr(0xc0, 18, [...u32(4200000001), 10, 0, 0, 8])],
        nlri: NLRI,
      }),
      two,
    );
    expect([r.message.attributes?.asPath, r.message.attributes?.aggregator]).toEqual([[seq(65010, AS_TRANS)], { asn: 65010, address: '10.0.0.9' }]);
  });

  it('drops confederation segments found in AS4_PATH', () => {
    const r = decodeUpdate(update({ attrs: [...A.originIgp, ...A.asPath2(65010, AS_TRANS), ...A.nextHop(10, 0, 0, 1), ...attr(0xc0, 17, [3, 1, ...u32(64512), 2, 1, ...u32(4200000001)])], nlri: NLRI }), two);
    expect(r.message.attributes?.asPath).toEqual([seq(65010, 4200000001)]);
  });
});

describe('AS_PATH helpers', () => {
  const path: AsPathSegment[] = [confedSeq(64512, 64513), seq(65001, 65002), set(65003, 65004)];
  it('measures length for best path (set = 1, confederation = 0)', () => {
    expect(asPathLength(path)).toBe(3);
  });
  it('finds an AS anywhere for loop detection', () => {
    expect([65002, 65004, 64513, 65005].map((a) => asPathContains(path, a))).toEqual([true, true, true, false]);
    expect(asPathContains(undefined, 1)).toBe(false);
  });
  it('formats attributes for logs', () => {
    expect(formatAttributes({ attributes: { ...base, asPath: path, communities: [0xffffff01, 0xfde90064], med: 5 } })).toBe(
      'origin=IGP as-path=(64512 64513) 65001 65002 {65003,65004} next-hop=10.0.0.1 med=5 communities=no-export,65001:100',
    );
  });
});

describe('LARGE_COMMUNITY (RFC 8092)', () => {
  it('decodes a value GoBGP sends (flags 0xc0, type 32) and keeps it through a 2-octet session', () => {
    const value = [...u32(64512), ...u32(100), ...u32(200)];
    for (const fourOctetAs of [true, false]) {
      const asPath = fourOctetAs ? A.asPath(65001) : A.asPath2(65001);
      const r = decodeUpdate(update({ attrs: [...A.originIgp, ...asPath, ...A.nextHop(10, 0, 0, 1), ...attr(0xc0, 32, value)], nlri: NLRI }), { fourOctetAs });
      expect([r.action, r.message.attributes?.largeCommunities]).toEqual(['none', [[64512, 100, 200]]]);
    }
  });

  it('silently removes repeated values, first occurrence kept (§5), and sends none twice', () => {
    const value = [...u32(1), ...u32(2), ...u32(3), ...u32(4), ...u32(5), ...u32(6), ...u32(1), ...u32(2), ...u32(3)];
    const r = decodeUpdate(update({ attrs: [...BASIC, ...attr(0xc0, 32, value)], nlri: NLRI }), { fourOctetAs: true });
    expect([r.action, r.message.attributes?.largeCommunities]).toEqual(['none', [[1, 2, 3], [4, 5, 6]]]);
    expect(attributeBytes({ largeCommunities: [[1, 2, 3], [1, 2, 3]] })).toBe('c0200c' + '00000001' + '00000002' + '00000003');
  });

  it('is sent with Extended Length past 21 values', () => {
    const largeCommunities = Array.from({ length: 22 }, (_, i) => [65001, i, i] as const);
    expect(attributeBytes({ largeCommunities }).slice(0, 8)).toBe('d0200108');
    expect(roundTrip({ ...base, largeCommunities })?.largeCommunities).toEqual(largeCommunities);
  });

  it('refuses to encode a part out of range', () => {
    expect(() => attributeBytes({ largeCommunities: [[1, 2, 2 ** 32]] })).toThrow(/large community local data part 2/);
  });

  it('formats as global:local1:local2', () => {
    expect(formatAttributes({ attributes: { largeCommunities: [[65001, 1, 2], [4200000001, 0, 4294967295]] } })).toBe('large-communities=65001:1:2,4200000001:0:4294967295');
  });
});
