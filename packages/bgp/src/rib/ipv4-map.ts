import type { Ipv4Key } from '../codec/prefix.js';

const TWO_32 = 4294967296;

/**
 * A map from IPv4 prefixes given as {@link Ipv4Key} (length * 2^32 + address): one Map per
 * prefix length keyed by the network bits (`address >>> (32 - length)`), small integers up to
 * /30, so no key is allocated and none is hashed as text. A full table of /24s costs a Map
 * entry per route. Iteration is by prefix length, then in insertion order.
 */
export class Ipv4Map<V> {
  private readonly byLength: Map<number, V>[] = Array.from({ length: 33 }, () => new Map<number, V>());
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(key: Ipv4Key): V | undefined {
    const len = Math.floor(key / TWO_32);
    return this.byLength[len].get(len === 0 ? 0 : (key % TWO_32) >>> (32 - len));
  }

  has(key: Ipv4Key): boolean {
    const len = Math.floor(key / TWO_32);
    return this.byLength[len].has(len === 0 ? 0 : (key % TWO_32) >>> (32 - len));
  }

  set(key: Ipv4Key, value: V): void {
    const len = Math.floor(key / TWO_32);
    const m = this.byLength[len];
    const before = m.size;
    m.set(len === 0 ? 0 : (key % TWO_32) >>> (32 - len), value);
    this.count += m.size - before;
  }

  /** Removes a key; true when it was there. */
  delete(key: Ipv4Key): boolean {
    const len = Math.floor(key / TWO_32);
    if (!this.byLength[len].delete(len === 0 ? 0 : (key % TWO_32) >>> (32 - len))) return false;
    this.count--;
    return true;
  }

  clear(): void {
    for (const m of this.byLength) m.clear();
    this.count = 0;
  }

  *entries(): IterableIterator<[Ipv4Key, V]> {
    for (let len = 0; len <= 32; len++) {
      const m = this.byLength[len];
      if (m.size === 0) continue;
      const scale = 2 ** (32 - len);
      for (const [bits, v] of m) yield [len * TWO_32 + bits * scale, v];
    }
  }

  *keys(): IterableIterator<Ipv4Key> {
    for (let len = 0; len <= 32; len++) {
      const m = this.byLength[len];
      if (m.size === 0) continue;
      const scale = 2 ** (32 - len);
      for (const bits of m.keys()) yield len * TWO_32 + bits * scale;
    }
  }
}
