/**
 * Codec throughput: decodes UPDATEs carrying 1,000,000 IPv4 prefixes (a full-table-sized burst
 * with a realistic attribute mix) through MessageReader and decodeMessage, without and with the
 * attribute cache. Prints figures; asserts nothing. Run: npm run bench:codec -w @tabby/bench
 */
import { MessageReader, decodeMessage, encodeUpdates, type CodecOptions, type PathAttributes } from '@tabby/bgp';

/** Deterministic generator (mulberry32) so every run decodes the same bytes. */
class Prng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }
}

const PREFIXES = 1_000_000;

function buildBurst(): { bytes: Uint8Array; updates: number; sets: number } {
  const rng = new Prng(2024);
  const asPool = Array.from({ length: 400 }, () => (rng.next() < 0.2 ? 4200000000 + rng.int(100000) : 1 + rng.int(64000)));
  const sets: PathAttributes[] = Array.from({ length: 3000 }, () => ({
    origin: rng.next() < 0.9 ? 0 : 2,
    asPath: [{ type: 2, asns: [65002, ...Array.from({ length: rng.int(6) }, () => rng.pick(asPool))] }],
    nextHop: `10.0.0.${1 + rng.int(4)}`,
    ...(rng.next() < 0.3 ? { med: rng.int(1000) } : {}),
    ...(rng.next() < 0.6 ? { communities: Array.from({ length: 1 + rng.int(4) }, () => (65002 * 65536 + rng.int(1000)) >>> 0) } : {}),
  }));
  const frames: Uint8Array[] = [];
  const opts = { fourOctetAs: true };
  let made = 0;
  while (made < PREFIXES) {
    const n = Math.min(PREFIXES - made, 1 + rng.int(rng.next() < 0.1 ? 400 : 30));
    const nlri: string[] = [];
    for (let i = 0; i < n; i++) {
      const len = rng.next() < 0.6 ? 24 : 16 + rng.int(8);
      const v = ((1 + rng.int(222)) << 24) | (rng.int(65536) << 8);
      const masked = (v & (-1 << (32 - len))) >>> 0;
      nlri.push(`${masked >>> 24}.${(masked >>> 16) & 255}.${(masked >>> 8) & 255}.0/${len}`);
    }
    frames.push(...encodeUpdates({ afi: 1, attributes: rng.pick(sets), nlri }, opts));
    made += n;
  }
  const bytes = new Uint8Array(frames.reduce((s, f) => s + f.length, 0));
  let at = 0;
  for (const f of frames) {
    bytes.set(f, at);
    at += f.length;
  }
  return { bytes, updates: frames.length, sets: sets.length };
}

function decodeAll(bytes: Uint8Array, opts: CodecOptions, objects?: Set<PathAttributes>): { prefixes: number; ms: number } {
  const t0 = performance.now();
  const reader = new MessageReader();
  reader.push(bytes);
  let prefixes = 0;
  for (let f = reader.next(); f; f = reader.next()) {
    const r = decodeMessage(f, opts);
    if (r.message.type !== 'update') continue;
    prefixes += r.message.nlri.length;
    if (objects && r.message.attributes) objects.add(r.message.attributes);
  }
  return { prefixes, ms: performance.now() - t0 };
}

function main(): void {
  const { bytes, updates, sets } = buildBurst();
  decodeAll(bytes, { fourOctetAs: true }); // warm up
  const rate = (n: number, ms: number): string => Math.round(n / (ms / 1000)).toLocaleString('en-US');
  const plainObjects = new Set<PathAttributes>();
  const plain = decodeAll(bytes, { fourOctetAs: true }, plainObjects);
  const cache = new Map<string, PathAttributes>();
  const cachedObjects = new Set<PathAttributes>();
  const cached = decodeAll(bytes, { fourOctetAs: true, attributeCache: cache }, cachedObjects);
  const again = decodeAll(bytes, { fourOctetAs: true, attributeCache: cache });
  if (plain.prefixes !== PREFIXES || cached.prefixes !== PREFIXES) {
    throw new Error(`decoded ${plain.prefixes}/${cached.prefixes} prefixes, expected ${PREFIXES}`);
  }
  const mb = (bytes.length / 1e6).toFixed(1);
  console.log(
    [
      `BGP codec: ${updates.toLocaleString('en-US')} UPDATEs, ${mb} MB, ${PREFIXES.toLocaleString('en-US')} IPv4 prefixes, ${sets} distinct attribute sets`,
      `  no cache:     ${plain.ms.toFixed(0)} ms = ${rate(PREFIXES, plain.ms)} prefixes/s, ${rate(updates, plain.ms)} UPDATEs/s, ${plainObjects.size.toLocaleString('en-US')} PathAttributes objects`,
      `  cache (cold): ${cached.ms.toFixed(0)} ms = ${rate(PREFIXES, cached.ms)} prefixes/s, ${cachedObjects.size.toLocaleString('en-US')} PathAttributes objects (${cache.size} entries)`,
      `  cache (warm): ${again.ms.toFixed(0)} ms = ${rate(PREFIXES, again.ms)} prefixes/s`,
    ].join('\n'),
  );
}

main();
