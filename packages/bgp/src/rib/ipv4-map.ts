import type { Ipv4Key } from '../codec/prefix.js';

const TWO_32 = 4294967296;
/** Marks an empty slot in `lengths` (a prefix length is 0-32). */
const EMPTY = 255;
const MIN_BITS = 4;

/**
 * A map from IPv4 prefixes given as {@link Ipv4Key} (length * 2^32 + address): an
 * open-addressing hash table on typed arrays (addresses, lengths) beside one array of values,
 * linear probing, deletion by backward shift (no tombstones), at most half full. A full table
 * of a million routes is three flat arrays: no object, string or boxed number per route for
 * the garbage collector to trace, and one probe sequence per lookup or insert.
 *
 * Iteration order is the slots' (arbitrary). Iterators must not live across changes of the map;
 * {@link keySnapshot} gives the keys as they are for a walk that spans many turns.
 */
export class Ipv4Map<V> {
  private bits = MIN_BITS;
  private addresses = new Uint32Array(1 << MIN_BITS);
  private lengths = new Uint8Array(1 << MIN_BITS).fill(EMPTY);
  private values: (V | undefined)[] = new Array<V | undefined>(1 << MIN_BITS);
  private count = 0;

  get size(): number {
    return this.count;
  }

  private home(address: number, length: number): number {
    return Math.imul(address ^ Math.imul(length + 1, 0x27d4eb2d), 0x9e3779b1) >>> (32 - this.bits);
  }

  /** The slot holding a key, or -1. */
  private find(key: Ipv4Key): number {
    const length = Math.floor(key / TWO_32);
    const address = key % TWO_32;
    const mask = (1 << this.bits) - 1;
    const lengths = this.lengths;
    const addresses = this.addresses;
    for (let i = this.home(address, length); ; i = (i + 1) & mask) {
      const l = lengths[i];
      if (l === EMPTY) return -1;
      if (l === length && addresses[i] === address) return i;
    }
  }

  get(key: Ipv4Key): V | undefined {
    const i = this.find(key);
    return i < 0 ? undefined : this.values[i];
  }

  has(key: Ipv4Key): boolean {
    return this.find(key) >= 0;
  }

  set(key: Ipv4Key, value: V): void {
    if ((this.count + 1) * 2 > 1 << this.bits) this.grow();
    const length = Math.floor(key / TWO_32);
    const address = key % TWO_32;
    const mask = (1 << this.bits) - 1;
    const lengths = this.lengths;
    const addresses = this.addresses;
    for (let i = this.home(address, length); ; i = (i + 1) & mask) {
      const l = lengths[i];
      if (l === EMPTY) {
        lengths[i] = length;
        addresses[i] = address;
        this.values[i] = value;
        this.count++;
        return;
      }
      if (l === length && addresses[i] === address) {
        this.values[i] = value;
        return;
      }
    }
  }

  /** Removes a key; true when it was there. */
  delete(key: Ipv4Key): boolean {
    let i = this.find(key);
    if (i < 0) return false;
    const mask = (1 << this.bits) - 1;
    const lengths = this.lengths;
    const addresses = this.addresses;
    const values = this.values;
    // Backward shift: pull later members of the probe run into the hole when their home allows.
    for (let j = (i + 1) & mask; lengths[j] !== EMPTY; j = (j + 1) & mask) {
      const h = this.home(addresses[j], lengths[j]);
      // j's home is cyclically outside (i, j]: it may move to i.
      if (i <= j ? h <= i || h > j : h <= i && h > j) {
        lengths[i] = lengths[j];
        addresses[i] = addresses[j];
        values[i] = values[j];
        i = j;
      }
    }
    lengths[i] = EMPTY;
    values[i] = undefined;
    this.count--;
    return true;
  }

  clear(): void {
    this.bits = MIN_BITS;
    this.addresses = new Uint32Array(1 << MIN_BITS);
    this.lengths = new Uint8Array(1 << MIN_BITS).fill(EMPTY);
    this.values = new Array<V | undefined>(1 << MIN_BITS);
    this.count = 0;
  }

  private grow(): void {
    const { addresses, lengths, values } = this;
    this.bits++;
    const size = 1 << this.bits;
    this.addresses = new Uint32Array(size);
    this.lengths = new Uint8Array(size).fill(EMPTY);
    this.values = new Array<V | undefined>(size);
    const mask = size - 1;
    const na = this.addresses;
    const nl = this.lengths;
    const nv = this.values;
    for (let i = 0; i < lengths.length; i++) {
      const length = lengths[i];
      if (length === EMPTY) continue;
      const address = addresses[i];
      let j = this.home(address, length);
      while (nl[j] !== EMPTY) j = (j + 1) & mask;
      nl[j] = length;
      na[j] = address;
      nv[j] = values[i];
    }
  }

  /** Calls `f` for every entry (no array per entry, unlike {@link entries}); `f` must not change the map. */
  forEach(f: (value: V, key: Ipv4Key) => void): void {
    const { addresses, lengths, values } = this;
    for (let i = 0; i < lengths.length; i++) if (lengths[i] !== EMPTY) f(values[i] as V, lengths[i] * TWO_32 + addresses[i]);
  }

  *entries(): IterableIterator<[Ipv4Key, V]> {
    const { addresses, lengths, values } = this;
    for (let i = 0; i < lengths.length; i++) if (lengths[i] !== EMPTY) yield [lengths[i] * TWO_32 + addresses[i], values[i] as V];
  }

  *keys(): IterableIterator<Ipv4Key> {
    const { addresses, lengths } = this;
    for (let i = 0; i < lengths.length; i++) if (lengths[i] !== EMPTY) yield lengths[i] * TWO_32 + addresses[i];
  }

  /**
   * The keys as they are now in address order (a shorter prefix first at the same address), in
   * one flat array: for a walk that spans changes of the map, and for listings people read.
   */
  sortedKeySnapshot(): Float64Array {
    const out = new Float64Array(this.count);
    const { addresses, lengths } = this;
    let n = 0;
    for (let i = 0; i < lengths.length; i++) if (lengths[i] !== EMPTY) out[n++] = addresses[i] * 64 + lengths[i];
    out.sort();
    for (let i = 0; i < n; i++) {
      const length = out[i] % 64;
      out[i] = length * TWO_32 + (out[i] - length) / 64;
    }
    return out;
  }

  /** The keys as they are now, in one flat array: for a walk that spans changes of the map. */
  keySnapshot(): Float64Array {
    const out = new Float64Array(this.count);
    const { addresses, lengths } = this;
    let n = 0;
    for (let i = 0; i < lengths.length; i++) if (lengths[i] !== EMPTY) out[n++] = lengths[i] * TWO_32 + addresses[i];
    return out;
  }
}
