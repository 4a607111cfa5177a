/**
 * The bench/bgp feed: 1,000,000 IPv4 prefixes with a realistic attribute mix (about 100k
 * distinct attribute sets, AS paths of 2-8 hops, some MEDs and communities), encoded once
 * into UPDATE messages with @tabby/bgp's codec. Deterministic: a seeded PRNG.
 */
import { encodeUpdates, type PathAttributes } from '@tabby/bgp';

export const SENDER_AS = 65100;

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    // xorshift32
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

export interface Feed {
  readonly prefixes: number;
  readonly attributeSets: number;
  readonly messages: Uint8Array[];
  readonly bytes: number;
}

/** Builds the feed: `count` distinct prefixes (/24 mostly, some /16-/23) spread over `sets` attribute sets. */
export function buildFeed(count = 1_000_000, sets = 100_000, nextHop = '10.0.0.200'): Feed {
  const rand = prng(20261125);
  const attrs: PathAttributes[] = [];
  for (let i = 0; i < sets; i++) {
    const hops = 2 + Math.floor(rand() * 7);
    const asns = [SENDER_AS];
    for (let h = 1; h < hops; h++) asns.push(1000 + Math.floor(rand() * 60000));
    const a: { -readonly [K in keyof PathAttributes]: PathAttributes[K] } = { origin: rand() < 0.9 ? 0 : 2, asPath: [{ type: 2, asns }], nextHop };
    if (rand() < 0.3) a.med = Math.floor(rand() * 1000);
    if (rand() < 0.4) a.communities = [asns[1] * 65536 + Math.floor(rand() * 1000), SENDER_AS * 65536 + Math.floor(rand() * 100)];
    attrs.push(a);
  }
  // Prefix i: 1.0.0.0 + i*256 as a /24, every 50th a shorter prefix that still does not overlap.
  const groups: string[][] = Array.from({ length: sets }, () => []);
  for (let i = 0; i < count; i++) {
    const base = 0x01000000 + i * 256;
    const len = i % 50 === 0 ? 23 : 24;
    const addr = len === 23 ? base & ~0x1ff : base;
    const text = `${(addr >>> 24) & 255}.${(addr >>> 16) & 255}.${(addr >>> 8) & 255}.0/${len}`;
    groups[Math.floor(rand() * sets)].push(text);
  }
  const messages: Uint8Array[] = [];
  const seen = new Set<string>();
  let prefixes = 0;
  let bytes = 0;
  for (let g = 0; g < sets; g++) {
    // /23s can repeat when i*256 collides after masking: send each prefix once.
    const nlri = groups[g].filter((p) => !seen.has(p) && seen.add(p));
    if (nlri.length === 0) continue;
    prefixes += nlri.length;
    for (const m of encodeUpdates({ afi: 1, attributes: attrs[g], nlri }, { fourOctetAs: true })) {
      messages.push(m);
      bytes += m.length;
    }
  }
  return { prefixes, attributeSets: sets, messages, bytes };
}
