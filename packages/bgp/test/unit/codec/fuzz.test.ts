/**
 * Seeded mutation fuzzing of the reader and decoder. Valid seeds (the captured vectors plus
 * messages the encoder builds) are mutated — bit flips, byte sets, inserts, deletes, length
 * field tweaks, truncation, splices — and every mutant must satisfy {@link exercise}: only
 * BgpErrors, clean decodes re-encode faithfully, the attribute cache changes nothing. A crash
 * found here becomes a file in regressions/ (replayed by regressions.test.ts).
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { BgpMessage } from '../../../src/types.js';
import { encodeEndOfRib, encodeMessage, encodeUpdates } from '../../../src/codec/index.js';
import { ContractViolation, exercise, newStats } from './fuzz-harness.js';
import { A, BASIC, NLRI, Prng, V6_LL, V6_NH, attr, hex, readHexFile, u16, u32, update } from './helpers.js';

/** Overridable for longer local runs: CODEC_FUZZ_SEED=n CODEC_FUZZ_MUTANTS=n npx vitest run … fuzz. */
const MUTANTS = Number(process.env.CODEC_FUZZ_MUTANTS ?? 120_000);
const SEED = Number(process.env.CODEC_FUZZ_SEED ?? 0x7ab8);
const VECTORS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'vectors');

function seeds(): Uint8Array[] {
  const four = { fourOctetAs: true };
  const two = { fourOctetAs: false };
  const msgs: [BgpMessage, boolean][] = [
    [
      {
        type: 'open',
        version: 4,
        myAs: 23456,
        holdTime: 90,
        bgpId: '10.0.0.1',
        capabilities: [
          { code: 1, afi: 1, safi: 1 },
          { code: 1, afi: 2, safi: 1 },
          { code: 2 },
          { code: 64, restarting: true, restartTime: 120, families: [{ afi: 1, safi: 1, forwardingPreserved: true }] },
          { code: 65, asn: 4200000001 },
          { code: 73, value: Uint8Array.of(1, 0x61, 0) },
        ],
      },
      true,
    ],
    [
      {
        type: 'update',
        withdrawn: ['10.9.0.0/16'],
        nlri: ['10.1.0.0/24', '10.2.0.0/16', '192.0.2.0/25'],
        attributes: {
          origin: 0,
          asPath: [{ type: 3, asns: [64512] }, { type: 2, asns: [65001, 4200000001] }, { type: 1, asns: [1, 2] }],
          nextHop: '10.0.0.1',
          med: 5,
          localPref: 100,
          atomicAggregate: true,
          aggregator: { asn: 4200000009, address: '10.0.0.9' },
          communities: [0xfde90001, 0xffffff01],
          originatorId: '10.0.0.2',
          clusterList: ['10.0.0.3', '10.0.0.4'],
          largeCommunities: [[0x07070707, 0x07070707, 0x07070707]],
          unknown: [{ flags: 0xc0, type: 99, value: new Uint8Array(12).fill(7) }],
        },
      },
      true,
    ],
    [
      {
        type: 'update',
        withdrawn: [],
        nlri: ['10.1.0.0/24'],
        attributes: { origin: 2, asPath: [{ type: 2, asns: [65010, 4200000001] }], nextHop: '10.0.0.1', aggregator: { asn: 4200000009, address: '10.0.0.9' } },
      },
      false,
    ],
    [
      {
        type: 'update',
        withdrawn: [],
        nlri: [],
        attributes: { origin: 0, asPath: [{ type: 2, asns: [65001] }] },
        mpReach: { afi: 2, safi: 1, nextHops: ['2001:db8::1', 'fe80::1'], nlri: ['fd00:1::/48', '2001:db8:5::/64'] },
        mpUnreach: { afi: 2, safi: 1, withdrawn: ['fd00:9::/48'] },
      },
      true,
    ],
    [{ type: 'notification', code: 6, subcode: 2, data: Uint8Array.of(3, 0x62, 0x79, 0x65) }, true],
    [{ type: 'route-refresh', afi: 1, safi: 1 }, true],
    [{ type: 'keepalive' }, true],
  ];
  const out = msgs.map(([m, as4]) => encodeMessage(m, as4 ? four : two));
  out.push(encodeEndOfRib(1, 1), encodeEndOfRib(2, 1));
  out.push(...encodeUpdates({ afi: 1, attributes: { origin: 0, asPath: [{ type: 2, asns: [65001] }], communities: Array.from({ length: 70 }, (_, i) => i) }, nlri: Array.from({ length: 60 }, (_, i) => `10.${i}.0.0/16`), nextHops: ['10.0.0.1'] }, four));
  out.push(update({ attrs: [...A.mpReach6([...V6_NH, ...V6_LL], [64, 0x20, 1, 0x0d, 0xb8, 0, 0, 0, 1]), ...A.originIgp, ...A.asPath(65001), ...A.med(1)] }));
  out.push(update({ attrs: [...A.originIgp, ...A.asPath2(65001, 23456), ...A.nextHop(10, 0, 0, 1), ...attr(0xc0, 17, [2, 2, ...u32(65001), ...u32(4200000001)]), ...attr(0xc0, 7, [...u16(23456), 10, 0, 0, 1]), ...attr(0xc0, 18, [...u32(4200000001), 10, 0, 0, 1])], nlri: NLRI }));
  out.push(update({ withdrawn: [8, 10, 16, 172, 16], attrs: [...BASIC, ...attr(0xe0, 99, [1, 2, 3]), ...attr(0x80, 98, [4])], nlri: [...NLRI, 32, 1, 2, 3, 4, 0] }));
  for (const name of readdirSync(VECTORS).filter((n) => n.endsWith('.hex'))) out.push(readHexFile(path.join(VECTORS, name)).bytes);
  return out;
}

/** Offsets of length fields and other octets worth tweaking, found by walking a valid seed. */
function interesting(f: Uint8Array): number[] {
  const at = [16, 17, 18];
  const type = f[18];
  if (type === 1 && f.length >= 29) {
    at.push(19, 22, 23, 28);
    for (let p = 29; p + 1 < f.length; p += 2 + f[p + 1]) {
      at.push(p, p + 1);
      if (f[p] === 2) for (let c = p + 2; c + 1 < Math.min(f.length, p + 2 + f[p + 1]); c += 2 + f[c + 1]) at.push(c, c + 1);
    }
  }
  if (type === 2 && f.length >= 23) {
    const wEnd = 21 + ((f[19] << 8) | f[20]);
    at.push(19, 20, wEnd, wEnd + 1);
    const aStart = wEnd + 2;
    const aEnd = aStart + ((f[wEnd] << 8) | f[wEnd + 1]);
    for (let p = 21; p < wEnd && p < f.length; p += 1 + ((f[p] + 7) >> 3)) at.push(p);
    for (let p = aStart; p + 2 < aEnd && p + 2 < f.length; ) {
      const ext = (f[p] & 0x10) !== 0;
      at.push(p, p + 1, p + 2);
      if (ext) at.push(p + 3);
      const hdr = ext ? 4 : 3;
      const len = ext ? (f[p + 2] << 8) | f[p + 3] : f[p + 2];
      if (f[p + 1] === 14) at.push(p + hdr + 3, p + hdr + 4);
      if (f[p + 1] === 2 || f[p + 1] === 17) at.push(p + hdr, p + hdr + 1);
      p += hdr + len;
    }
    for (let p = aEnd; p < f.length; p += 1 + ((f[p] + 7) >> 3)) at.push(p);
  }
  return at.filter((i) => i < f.length);
}

function mutate(seed: Uint8Array, others: readonly Uint8Array[], spots: readonly number[], rng: Prng): Uint8Array {
  let b = Array.from(seed);
  const rounds = 1 + rng.int(3);
  for (let r = 0; r < rounds; r++) {
    const pos = rng.int(Math.max(1, b.length));
    switch (rng.int(8)) {
      case 0: // bit flips
        for (let k = 1 + rng.int(3); k > 0; k--) {
          const i = rng.int(b.length);
          b[i] ^= 1 << rng.int(8);
        }
        break;
      case 1: // set a byte
        b[pos] = rng.pick([0, 1, 0x7f, 0x80, 0xff, rng.int(256)]);
        break;
      case 2: // insert bytes
        b.splice(pos, 0, ...Array.from({ length: 1 + rng.int(4) }, () => rng.int(256)));
        break;
      case 3: // delete bytes
        b.splice(pos, 1 + rng.int(4));
        break;
      case 4:
      case 5: {
        // tweak a length field (or another structural octet)
        const i = rng.pick(spots);
        if (i < b.length) b[i] = rng.next() < 0.6 ? (b[i] + rng.pick([-3, -2, -1, 1, 2, 3, 16, -16]) + 256) & 0xff : rng.pick([0, 1, 2, 3, 4, 0xff, rng.int(256)]);
        break;
      }
      case 6: // truncate
        b = b.slice(0, rng.int(b.length + 1));
        break;
      default: {
        // splice with another seed
        const o = rng.pick(others);
        b = [...b.slice(0, pos), ...Array.from(o.subarray(rng.int(o.length)))];
      }
    }
  }
  // Most of the time keep the header length honest, so the mutation reaches the body decoder.
  if (b.length >= 19 && rng.next() < 0.75) {
    b[16] = (b.length >>> 8) & 0xff;
    b[17] = b.length & 0xff;
  }
  if (rng.next() < 0.15 && b.length >= 19) b = [...b, ...Array.from(rng.pick(others))]; // a second message behind it
  return Uint8Array.from(b);
}

describe('mutation fuzzing (seeded)', () => {
  it(`${MUTANTS.toLocaleString('en-US')} mutants: only BgpErrors, faithful re-encoding, cache-neutral`, () => {
    const all = seeds();
    const spots = all.map(interesting);
    for (const s of all) exercise(s, 0, newStats()); // the seeds themselves are valid
    const rng = new Prng(SEED);
    const stats = newStats();
    const failures: string[] = [];
    const t0 = performance.now();
    for (let i = 0; i < MUTANTS; i++) {
      const k = rng.int(all.length);
      const mutant = mutate(all[k], all, spots[k], rng);
      try {
        exercise(mutant, rng.int(16), stats);
      } catch (err) {
        if (!(err instanceof ContractViolation)) throw err;
        if (failures.length < 10) failures.push(`${err.message}\n  input: ${hex(mutant)}`);
      }
    }
    const s = (performance.now() - t0) / 1000;
    console.log(
      `fuzz: ${stats.inputs.toLocaleString('en-US')} mutants, ${stats.frames.toLocaleString('en-US')} frames, ${stats.decoded.toLocaleString('en-US')} decoded, ` +
        `${stats.bgpErrors.toLocaleString('en-US')} BgpErrors, ${stats.roundTrips.toLocaleString('en-US')} round trips in ${s.toFixed(1)} s`,
    );
    expect(failures).toEqual([]);
    expect(stats.inputs).toBe(MUTANTS);
  }, 600_000);
});
