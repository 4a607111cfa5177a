/**
 * The Loc-RIB's IPv4 table (open addressing, backward-shift deletion): it must agree with a
 * plain Map through any sequence of inserts, overwrites and deletes, across growth, with keys
 * that collide on purpose (one address at every length, neighbouring /32s).
 */
import { describe, expect, it } from 'vitest';
import { ipv4Key } from '../../../src/codec/prefix.js';
import { Ipv4Map } from '../../../src/rib/ipv4-map.js';
import { Prng } from '../codec/helpers.js';

describe('Ipv4Map', () => {
  it('agrees with a Map through 200,000 random operations (inserts, overwrites, deletes, growth)', () => {
    const rand = new Prng(4271);
    const m = new Ipv4Map<number>();
    const ref = new Map<number, number>();
    // A small key space so deletes hit, overwrites happen and probe runs get long.
    const keys: number[] = [];
    for (let i = 0; i < 5000; i++) {
      const len = [0, 8, 16, 24, 24, 24, 31, 32][Math.floor(rand.next() * 8)];
      const addr = len === 0 ? 0 : Math.floor(rand.next() * 2 ** len) * 2 ** (32 - len);
      keys.push(ipv4Key(addr, len));
    }
    for (let op = 0; op < 200_000; op++) {
      const k = keys[Math.floor(rand.next() * keys.length)];
      const r = rand.next();
      if (r < 0.55) {
        m.set(k, op);
        ref.set(k, op);
      } else if (r < 0.9) {
        expect(m.delete(k)).toBe(ref.delete(k));
      } else {
        expect(m.get(k)).toBe(ref.get(k));
        expect(m.has(k)).toBe(ref.has(k));
      }
      if (op % 20_000 === 0) expect(m.size).toBe(ref.size);
    }
    expect(m.size).toBe(ref.size);
    for (const [k, v] of ref) expect(m.get(k)).toBe(v);
    expect(new Map(m.entries())).toEqual(ref);
    expect([...m.keySnapshot()].sort((a, b) => a - b)).toEqual([...ref.keys()].sort((a, b) => a - b));
  });

  it('keeps one address at every prefix length apart, and empties back to nothing', () => {
    const m = new Ipv4Map<string>();
    for (let len = 0; len <= 32; len++) m.set(ipv4Key(0, len), `/${len}`);
    for (let i = 0; i < 1000; i++) m.set(ipv4Key(0xc0000200 + i, 32), `h${i}`);
    expect(m.size).toBe(1033);
    for (let len = 0; len <= 32; len++) expect(m.get(ipv4Key(0, len))).toBe(`/${len}`);
    for (let i = 0; i < 1000; i += 2) expect(m.delete(ipv4Key(0xc0000200 + i, 32))).toBe(true);
    for (let i = 1; i < 1000; i += 2) expect(m.get(ipv4Key(0xc0000200 + i, 32))).toBe(`h${i}`);
    for (const k of m.keySnapshot()) m.delete(k);
    expect(m.size).toBe(0);
    expect([...m.entries()]).toEqual([]);
  });
});
