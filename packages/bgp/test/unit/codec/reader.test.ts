import { describe, expect, it } from 'vitest';
import { isBgpError } from '../../../src/errors.js';
import { MessageReader, encodeKeepalive, encodeMessage, encodeUpdates } from '../../../src/codec/index.js';
import { Prng, frame, hex } from './helpers.js';

const opts = { fourOctetAs: true };

/** A stream of varied messages: KEEPALIVE, OPEN, large UPDATEs, NOTIFICATION, ROUTE-REFRESH. */
function stream(): Uint8Array[] {
  const msgs: Uint8Array[] = [
    encodeMessage({ type: 'open', version: 4, myAs: 65001, holdTime: 90, bgpId: '10.0.0.1', capabilities: [{ code: 1, afi: 1, safi: 1 }, { code: 65, asn: 65001 }] }, opts),
    encodeKeepalive(),
  ];
  const nlri = Array.from({ length: 3000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
  msgs.push(...encodeUpdates({ afi: 1, attributes: { origin: 0, asPath: [{ type: 2, asns: [65001] }] }, nlri, nextHops: ['10.0.0.1'] }, opts));
  msgs.push(encodeMessage({ type: 'route-refresh', afi: 2, safi: 1 }, opts));
  msgs.push(encodeMessage({ type: 'notification', code: 6, subcode: 2, data: new Uint8Array(0) }, opts));
  return msgs;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function drain(reader: MessageReader, into: Uint8Array[]): void {
  for (let f = reader.next(); f; f = reader.next()) into.push(f.slice());
}

describe('MessageReader framing', () => {
  const msgs = stream();
  const all = concat(msgs);
  const expected = msgs.map(hex);

  it('has a stream worth framing', () => {
    expect(msgs.length).toBeGreaterThan(5);
    expect(all.length).toBeGreaterThan(4096);
  });

  it('frames a stream fed one byte at a time', () => {
    const reader = new MessageReader();
    const out: Uint8Array[] = [];
    for (let i = 0; i < all.length; i++) {
      reader.push(all.subarray(i, i + 1));
      drain(reader, out);
    }
    expect(out.map(hex)).toEqual(expected);
    expect(reader.bufferedLength).toBe(0);
  });

  it('frames many messages pushed in one chunk', () => {
    const reader = new MessageReader();
    reader.push(all);
    const out: Uint8Array[] = [];
    drain(reader, out);
    expect(out.map(hex)).toEqual(expected);
  });

  it.each([1, 2, 3, 42, 1234])('frames random chunk sizes (seed %i)', (seed) => {
    const rng = new Prng(seed);
    const reader = new MessageReader();
    const out: Uint8Array[] = [];
    for (let i = 0; i < all.length; ) {
      const n = 1 + rng.int(rng.next() < 0.5 ? 30 : 5000);
      reader.push(all.subarray(i, i + n));
      i += n;
      if (rng.next() < 0.7) drain(reader, out);
    }
    drain(reader, out);
    expect(out.map(hex)).toEqual(expected);
  });

  it('frames a header split across chunks', () => {
    const ka = encodeKeepalive();
    const reader = new MessageReader();
    reader.push(ka.subarray(0, 10));
    expect(reader.next()).toBeUndefined();
    reader.push(ka.subarray(10, 18));
    expect(reader.next()).toBeUndefined();
    reader.push(Uint8Array.of(...ka.subarray(18), ...ka.subarray(0, 5)));
    expect(hex(reader.next() as Uint8Array)).toBe(hex(ka));
    expect(reader.next()).toBeUndefined();
    expect(reader.bufferedLength).toBe(5);
  });

  it('frames a large burst delivered in 7-byte chunks', () => {
    const big = concat(Array.from({ length: 200 }, () => all));
    const reader = new MessageReader();
    let count = 0;
    for (let i = 0; i < big.length; i += 7) {
      reader.push(big.subarray(i, i + 7));
      for (let f = reader.next(); f; f = reader.next()) count++;
    }
    expect(count).toBe(msgs.length * 200);
  });

  it('rejects a bad header as soon as it is complete, and stays failed', () => {
    const bad = frame(4, [], 19);
    bad[0] = 0;
    const reader = new MessageReader();
    reader.push(bad.subarray(0, 18));
    expect(reader.next()).toBeUndefined();
    reader.push(bad.subarray(18));
    const codes = (): unknown => {
      try {
        reader.next();
      } catch (e) {
        return isBgpError(e) ? [e.notification.code, e.notification.subcode, e.action] : e;
      }
      return undefined;
    };
    expect(codes()).toEqual([1, 1, 'session-reset']);
    reader.push(encodeKeepalive());
    expect(codes()).toEqual([1, 1, 'session-reset']);
  });
});
