import { describe, expect, it } from 'vitest';
import type { PathAttributes, UpdateMessage } from '../../../src/types.js';
import {
  EncodeError,
  decodeMessage,
  decodeUpdate,
  encodeEndOfRib,
  encodeUpdate,
  encodeUpdates,
  endOfRibFamily,
  isEndOfRib,
} from '../../../src/codec/index.js';
import { A, BASIC, NLRI, Prng, V6_LL, V6_NH, attr, hex, update } from './helpers.js';

const opts = { fourOctetAs: true };
const attrs: PathAttributes = { origin: 0, asPath: [{ type: 2, asns: [65001, 65002] }], nextHop: '10.0.0.1', med: 10, communities: [0xfde90001] };
const { nextHop: _nh, ...attrs6 } = attrs;

describe('UPDATE round trips', () => {
  it.each<[string, UpdateMessage]>([
    ['IPv4 announcement', { type: 'update', withdrawn: [], nlri: ['10.1.0.0/24', '10.2.0.0/16', '0.0.0.0/0', '192.0.2.1/32'], attributes: attrs }],
    ['IPv4 withdraw and announce', { type: 'update', withdrawn: ['10.3.0.0/24'], nlri: ['10.1.0.0/24'], attributes: attrs }],
    [
      'IPv6 MP_REACH with global and link-local next hop',
      { type: 'update', withdrawn: [], nlri: [], attributes: attrs6, mpReach: { afi: 2, safi: 1, nextHops: ['2001:db8::1', 'fe80::1'], nlri: ['fd00:1::/48', '2001:db8:1::/64', '::/0'] } },
    ],
    ['IPv6 MP_REACH with a global next hop', { type: 'update', withdrawn: [], nlri: [], attributes: attrs6, mpReach: { afi: 2, safi: 1, nextHops: ['2001:db8::1'], nlri: ['fd00:1::/48'] } }],
    ['IPv4 unicast via MP_REACH', { type: 'update', withdrawn: [], nlri: [], attributes: attrs6, mpReach: { afi: 1, safi: 1, nextHops: ['10.0.0.1'], nlri: ['10.7.0.0/16'] } }],
    ['IPv6 MP_UNREACH', { type: 'update', withdrawn: [], nlri: [], mpUnreach: { afi: 2, safi: 1, withdrawn: ['fd00:1::/48', 'fd00:2::/48'] } }],
  ])('%s', (_n, msg) => {
    const bytes = encodeUpdate(msg, opts);
    const r = decodeUpdate(bytes, opts);
    expect([r.action, r.errors, r.discarded]).toEqual(['none', [], []]);
    expect(r.message).toEqual(msg);
  });

  it('puts MP_REACH_NLRI first, with a 32-octet next hop for global + link-local', () => {
    const bytes = encodeUpdate({ type: 'update', withdrawn: [], nlri: [], attributes: attrs6, mpReach: { afi: 2, safi: 1, nextHops: ['2001:db8::1', 'fe80::1'], nlri: ['fd00:1::/48'] } }, opts);
    // withdrawn len 0, attr len, then MP_REACH: flags 0x80, type 14, len, AFI 2, SAFI 1, NH len 32
    expect(hex(bytes.subarray(23, 30))).toBe('800e2c00020120');
    expect(hex(bytes.subarray(30, 62))).toBe(hex([...V6_NH, ...V6_LL]));
  });

  it('leaves an IPv6 NEXT_HOP out of an UPDATE without IPv4 NLRI', () => {
    const msg: UpdateMessage = { type: 'update', withdrawn: [], nlri: [], attributes: { ...attrs6, nextHop: '2001:db8::1' }, mpReach: { afi: 2, safi: 1, nextHops: ['2001:db8::1'], nlri: ['fd00:1::/48'] } };
    expect(decodeUpdate(encodeUpdate(msg, opts), opts).message.attributes).toEqual(attrs6);
    expect(() => encodeUpdate({ ...msg, nlri: ['10.0.0.0/8'] }, opts)).toThrow(/NEXT_HOP/);
  });

  it('refuses to encode what cannot be sent', () => {
    expect(() => encodeUpdate({ type: 'update', withdrawn: [], nlri: ['10.0.0.0/8'], attributes: { origin: 0, asPath: [] } }, opts)).toThrow(/NEXT_HOP/);
    expect(() => encodeUpdate({ type: 'update', withdrawn: [], nlri: ['10.0.0.0/8'], attributes: { nextHop: '10.0.0.1' } }, opts)).toThrow(EncodeError);
    expect(() => encodeUpdate({ type: 'update', withdrawn: ['10.0.0.1/8'], nlri: [] }, opts)).toThrow(/host bits/);
    expect(() => encodeUpdate({ type: 'update', withdrawn: Array.from({ length: 1200 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`), nlri: [] }, opts)).toThrow(/exceeds 4096/);
  });

  it('lists every prefix of a treat-as-withdraw UPDATE so all can be withdrawn', () => {
    const frame = update({
      withdrawn: [16, 10, 9],
      attrs: [...attr(0x40, 1, [7]), ...A.asPath(65001), ...A.nextHop(10, 0, 0, 1), ...A.mpReach6(V6_NH, [48, 0xfd, 0, 0, 1, 0, 0]), ...A.mpUnreach6([48, 0xfd, 0, 0, 2, 0, 0])],
      nlri: NLRI,
    });
    const r = decodeUpdate(frame, opts);
    expect(r.action).toBe('treat-as-withdraw');
    expect([r.message.withdrawn, r.message.nlri, r.message.mpReach?.nlri, r.message.mpUnreach?.withdrawn]).toEqual([['10.9.0.0/16'], ['10.1.0.0/24'], ['fd00:1::/48'], ['fd00:2::/48']]);
  });
});

describe('encodeUpdates packs prefixes into UPDATEs of at most maxSize', () => {
  const rng = new Prng(99);
  const v4 = [...new Set(Array.from({ length: 20000 }, () => `${10 + rng.int(50)}.${rng.int(256)}.${rng.int(256)}.0/24`))];
  const v6 = [...new Set(Array.from({ length: 5000 }, () => `fd00:${rng.int(65536).toString(16)}:${rng.int(65536).toString(16)}::/48`))];

  function decodeAll(frames: Uint8Array[]) {
    return frames.map((f) => {
      expect(f.length).toBeLessThanOrEqual(4096);
      const r = decodeMessage(f, opts);
      expect(r.action).toBe('none');
      return r.message as UpdateMessage;
    });
  }

  it('IPv4: NLRI with NEXT_HOP, split at 4096 octets, reassembling to the same set', () => {
    const frames = encodeUpdates({ afi: 1, attributes: attrs, nlri: v4, nextHops: ['10.0.0.9'] }, opts);
    const msgs = decodeAll(frames);
    expect(msgs.flatMap((m) => m.nlri).sort()).toEqual([...v4].sort());
    for (const m of msgs) expect(m.attributes).toEqual({ ...attrs, nextHop: '10.0.0.9' });
    // Every UPDATE but the last is full: the next /24 (4 octets) would not have fitted.
    for (const f of frames.slice(0, -1)) expect(f.length).toBeGreaterThan(4096 - 4);
    expect(frames.length).toBe(Math.ceil((v4.length * 4) / (4096 - (frames[0].length - msgs[0].nlri.length * 4))));
  });

  it('IPv6: MP_REACH with the given next hops, MP_REACH first', () => {
    const frames = encodeUpdates({ afi: 2, attributes: attrs, nlri: v6, nextHops: ['2001:db8::9', 'fe80::9'] }, opts);
    const msgs = decodeAll(frames);
    expect(msgs.flatMap((m) => m.mpReach?.nlri ?? []).sort()).toEqual([...v6].sort());
    for (const m of msgs) {
      expect(m.mpReach?.nextHops).toEqual(['2001:db8::9', 'fe80::9']);
      expect(m.attributes).toEqual(attrs6); // no NEXT_HOP with MP-only NLRI
      expect(m.nlri).toEqual([]);
    }
    for (const f of frames.slice(0, -1)) expect(f.length).toBeGreaterThan(4096 - 7);
  });

  it('withdrawals: Withdrawn Routes for IPv4, MP_UNREACH for IPv6, before announcements', () => {
    const frames = encodeUpdates({ afi: 1, withdrawn: v4.slice(0, 3000), nlri: v4.slice(3000, 3010), attributes: attrs }, opts);
    const msgs = decodeAll(frames);
    expect(msgs.flatMap((m) => m.withdrawn)).toEqual(v4.slice(0, 3000));
    expect(msgs.at(-1)?.nlri).toEqual(v4.slice(3000, 3010));
    expect(msgs.slice(0, -1).every((m) => m.nlri.length === 0 && m.attributes === undefined)).toBe(true);
    const six = decodeAll(encodeUpdates({ afi: 2, withdrawn: v6 }, opts));
    expect(six.flatMap((m) => m.mpUnreach?.withdrawn ?? [])).toEqual(v6);
    expect(six.length).toBeGreaterThan(1);
  });

  it('honours a smaller maxSize and returns nothing for an empty batch', () => {
    const frames = encodeUpdates({ afi: 1, attributes: attrs, nlri: v4.slice(0, 500) }, opts, 512);
    expect(frames.every((f) => f.length <= 512)).toBe(true);
    expect(decodeAll(frames).flatMap((m) => m.nlri)).toEqual(v4.slice(0, 500));
    expect(encodeUpdates({ afi: 2 }, opts)).toEqual([]);
  });

  it('refuses attributes too large to leave room for a prefix', () => {
    const huge: PathAttributes = { ...attrs, communities: Array.from({ length: 1100 }, (_, i) => i) };
    expect(() => encodeUpdates({ afi: 1, attributes: huge, nlri: ['10.0.0.0/8'] }, opts)).toThrow(EncodeError);
  });
});

describe('End-of-RIB (RFC 4724 §2)', () => {
  it.each([
    [1, 1, 'ffffffffffffffffffffffffffffffff00170200000000'],
    [2, 1, 'ffffffffffffffffffffffffffffffff001d0200000006800f03000201'],
  ])('AFI %i SAFI %i', (afi, safi, wire) => {
    const bytes = encodeEndOfRib(afi, safi);
    expect(hex(bytes)).toBe(wire); // the same bytes BIRD sends (vectors/bird-eor-*.hex)
    const r = decodeUpdate(bytes, opts);
    expect([r.endOfRib, endOfRibFamily(r.message), isEndOfRib(r.message)]).toEqual([{ afi, safi }, { afi, safi }, true]);
  });

  it('is not an UPDATE carrying anything else', () => {
    const r = decodeUpdate(update({ attrs: A.mpUnreach6([48, 0xfd, 0, 0, 1, 0, 0]) }), opts);
    expect([r.endOfRib, isEndOfRib(r.message)]).toEqual([undefined, false]);
    expect(isEndOfRib({ type: 'update', withdrawn: ['10.0.0.0/8'], nlri: [] })).toBe(false);
  });

  it('reports the family of a marker the codec does not decode, without calling it IPv4', () => {
    const r = decodeUpdate(update({ attrs: attr(0x80, 15, [0, 25, 65]) }), opts);
    expect([r.endOfRib, isEndOfRib(r.message), r.discarded]).toEqual([{ afi: 25, safi: 65 }, false, [15]]);
  });
});

describe('attribute interning', () => {
  const nlriFor = (i: number) => [24, 10, i >> 8, i & 255];
  it('shares one PathAttributes object between UPDATEs with identical attributes', () => {
    const cache = new Map<string, PathAttributes>();
    const o = { fourOctetAs: true, attributeCache: cache };
    const a = decodeUpdate(update({ attrs: BASIC, nlri: nlriFor(1) }), o);
    const b = decodeUpdate(update({ attrs: BASIC, nlri: nlriFor(2) }), o);
    const c = decodeUpdate(update({ attrs: [...BASIC, ...A.med(5)], nlri: nlriFor(3) }), o);
    expect(a.message.attributes).toBe(b.message.attributes);
    expect(c.message.attributes).not.toBe(a.message.attributes);
    expect(cache.size).toBe(2);
    expect(b.message).toEqual(decodeUpdate(update({ attrs: BASIC, nlri: nlriFor(2) }), opts).message);
  });

  it('keys on the MP next hop but not on the MP NLRI', () => {
    const cache = new Map<string, PathAttributes>();
    const o = { fourOctetAs: true, attributeCache: cache };
    const base = [...A.originIgp, ...A.asPath(65001)];
    const nh2 = [...V6_NH.slice(0, 15), 2];
    const x = decodeUpdate(update({ attrs: [...A.mpReach6(V6_NH, [48, 0xfd, 0, 0, 1, 0, 0]), ...base] }), o);
    const y = decodeUpdate(update({ attrs: [...A.mpReach6(V6_NH, [48, 0xfd, 0, 0, 2, 0, 0]), ...base] }), o);
    const z = decodeUpdate(update({ attrs: [...A.mpReach6(nh2, [48, 0xfd, 0, 0, 3, 0, 0]), ...base] }), o);
    expect(x.message.attributes).toBe(y.message.attributes);
    expect(z.message.attributes).not.toBe(x.message.attributes);
    expect([y.message.mpReach?.nlri, z.message.mpReach?.nextHops]).toEqual([['fd00:2::/48'], ['2001:db8::2']]);
  });

  it('does not cache attributes that had errors, and keys on the AS size', () => {
    const cache = new Map<string, PathAttributes>();
    decodeUpdate(update({ attrs: [...BASIC, ...attr(0x40, 6, [1])], nlri: NLRI }), { fourOctetAs: true, attributeCache: cache });
    expect(cache.size).toBe(0);
    // An AS_PATH that is valid read with 2-octet and with 4-octet AS numbers, meaning different paths.
    const both = [...A.originIgp, ...attr(0x40, 2, [2, 1, 0xfd, 0xe9, 2, 3, 2, 1, 0, 0, 0xfd, 0xea]), ...A.nextHop(10, 0, 0, 1)];
    const r2 = decodeUpdate(update({ attrs: both, nlri: NLRI }), { fourOctetAs: false, attributeCache: cache });
    const r4 = decodeUpdate(update({ attrs: both, nlri: NLRI }), { fourOctetAs: true, attributeCache: cache });
    expect(r2.message.attributes?.asPath).toEqual([{ type: 2, asns: [65001] }, { type: 2, asns: [513, 0, 65002] }]);
    expect(r4.message.attributes?.asPath).toEqual([{ type: 2, asns: [0xfde90203] }, { type: 2, asns: [65002] }]);
    expect(cache.size).toBe(2);
  });
});
