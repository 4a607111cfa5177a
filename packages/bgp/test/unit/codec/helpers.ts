/**
 * Test helpers for the codec: hex, a seeded PRNG, byte builders for hand-crafted messages and
 * a harness that runs bytes through the framing reader and the decoder and reports the outcome
 * as plain data (so tables of cases can compare it with toEqual).
 */
import { readFileSync } from 'node:fs';
import { isBgpError } from '../../../src/errors.js';
import { MessageReader, decodeMessage, type CodecOptions, type MessageDecodeResult } from '../../../src/codec/index.js';

export function hex(bytes: Uint8Array | readonly number[]): string {
  return Buffer.from(bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes)).toString('hex');
}

export function fromHex(text: string): Uint8Array {
  const clean = text.replace(/[^0-9a-fA-F]/g, '');
  if (clean.length % 2 !== 0) throw new Error('odd hex length');
  return Uint8Array.from(Buffer.from(clean, 'hex'));
}

/**
 * Reads a hex file: lines starting with `#` are comments (the note of where the bytes came
 * from), the rest is hex with any whitespace.
 */
export function readHexFile(path: string): { bytes: Uint8Array; notes: string[] } {
  const lines = readFileSync(path, 'utf8').split('\n');
  const notes = lines.filter((l) => l.startsWith('#')).map((l) => l.slice(1).trim());
  const body = lines.filter((l) => !l.startsWith('#')).join('');
  return { bytes: fromHex(body), notes };
}

/** A small deterministic PRNG (mulberry32): same seed, same sequence. */
export class Prng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

/** A frame: marker, length (computed unless given), type, body. */
export function frame(type: number, body: readonly number[] | Uint8Array, length?: number): Uint8Array {
  const b = Array.from(body);
  const len = length ?? 19 + b.length;
  return Uint8Array.from([...new Array<number>(16).fill(0xff), (len >>> 8) & 0xff, len & 0xff, type, ...b]);
}

/** One path attribute; the Extended Length flag is honoured when set (or needed). */
export function attr(flags: number, type: number, value: readonly number[]): number[] {
  const ext = (flags & 0x10) !== 0 || value.length > 255;
  const f = ext ? flags | 0x10 : flags;
  return ext ? [f, type, value.length >>> 8, value.length & 0xff, ...value] : [f, type, value.length, ...value];
}

/** An UPDATE frame from its parts (withdrawn routes, path attributes, NLRI), lengths computed. */
export function update(parts: { withdrawn?: readonly number[]; attrs?: readonly number[]; nlri?: readonly number[] }): Uint8Array {
  const w = parts.withdrawn ?? [];
  const a = parts.attrs ?? [];
  return frame(2, [w.length >>> 8, w.length & 0xff, ...w, a.length >>> 8, a.length & 0xff, ...a, ...(parts.nlri ?? [])]);
}

export const u16 = (v: number): number[] => [(v >>> 8) & 0xff, v & 0xff];
export const u32 = (v: number): number[] => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];

/** Well-formed attributes for hand-made UPDATEs (4-octet AS unless noted). */
export const A = {
  originIgp: attr(0x40, 1, [0]),
  asPath: (...asns: number[]) => attr(0x40, 2, asns.length ? [2, asns.length, ...asns.flatMap(u32)] : []),
  asPath2: (...asns: number[]) => attr(0x40, 2, asns.length ? [2, asns.length, ...asns.flatMap(u16)] : []),
  nextHop: (a: number, b: number, c: number, d: number) => attr(0x40, 3, [a, b, c, d]),
  med: (v: number) => attr(0x80, 4, u32(v)),
  localPref: (v: number) => attr(0x40, 5, u32(v)),
  atomicAggregate: attr(0x40, 6, []),
  communities: (...cs: number[]) => attr(0xc0, 8, cs.flatMap(u32)),
  mpReach6: (nh: readonly number[], nlri: readonly number[]) => attr(0x90, 14, [0, 2, 1, nh.length, ...nh, 0, ...nlri]),
  mpUnreach6: (nlri: readonly number[]) => attr(0x90, 15, [0, 2, 1, ...nlri]),
};

/** The plain attributes an IPv4 announcement needs: ORIGIN IGP, AS_PATH 65001, NEXT_HOP 10.0.0.1. */
export const BASIC = [...A.originIgp, ...A.asPath(65001), ...A.nextHop(10, 0, 0, 1)];
/** NLRI 10.1.0.0/24. */
export const NLRI = [24, 10, 1, 0];
/** 2001:db8::1 as 16 octets. */
export const V6_NH = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
/** fe80::1 as 16 octets. */
export const V6_LL = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

/** The outcome of bytes through reader + decoder, as data. */
export type Outcome =
  | { readonly thrown: { readonly code: number; readonly subcode: number; readonly data: string; readonly action: string } }
  | {
      readonly action: string;
      readonly discarded: readonly number[];
      readonly errors: readonly string[];
      readonly families?: readonly string[];
    };

/** Runs one message through {@link MessageReader} and {@link decodeMessage}. */
export function outcome(bytes: Uint8Array, opts: CodecOptions = { fourOctetAs: true }): Outcome {
  const reader = new MessageReader();
  reader.push(bytes);
  let r: MessageDecodeResult;
  try {
    const f = reader.next();
    if (!f) throw new Error('no whole message');
    r = decodeMessage(f, opts);
  } catch (err) {
    if (!isBgpError(err)) throw err;
    return { thrown: { code: err.notification.code, subcode: err.notification.subcode, data: hex(err.notification.data), action: err.action } };
  }
  const base = {
    action: r.action,
    discarded: [...r.discarded],
    errors: r.errors.map((e) => `${e.notification.code}/${e.notification.subcode} ${e.action} ${hex(e.notification.data)}`.trim()),
  };
  return r.disabledFamilies.length > 0 ? { ...base, families: r.disabledFamilies.map((f) => `${f.afi}/${f.safi}`) } : base;
}
