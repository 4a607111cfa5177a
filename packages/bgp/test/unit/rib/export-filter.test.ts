/**
 * The export filter inside the Adj-RIB-Out: applied per prefix after the export policy, only
 * differences sent when it changes, no fallback to a second-best path, a throw counts as reject.
 */
import { describe, expect, it } from 'vitest';
import { AdjRibOut, type OutBatch } from '../../../src/rib/adj-rib-out.js';
import type { ExportFilter } from '../../../src/rib/export-filter.js';
import { ExportPolicy } from '../../../src/rib/export-policy.js';
import { LocRib } from '../../../src/rib/loc-rib.js';
import type { PathSource } from '../../../src/rib/source.js';
import type { Family, PathAttributes, Prefix } from '../../../src/types.js';

const LOCAL_AS = 65000;
const PEER = '10.9.9.9';

function src(id: string, asn: number): PathSource {
  return { id, kind: 'peer', address: id, asn, routerId: id, ibgp: false, rrClient: false };
}

function attrs(asns: number[]): PathAttributes {
  return { origin: 0, asPath: [{ type: 2, asns }], nextHop: '10.1.1.1' };
}

function setup(filter?: ExportFilter): { rib: LocRib; out: AdjRibOut } {
  const rib = new LocRib({ localAs: LOCAL_AS, routerId: '10.0.0.1' });
  const policy = new ExportPolicy({ id: PEER, ibgp: false, rrClient: false, localAs: LOCAL_AS, routerId: '10.0.0.1', nextHopMode: 'auto', nextHopIPv4: '10.0.0.1' });
  return { rib, out: new AdjRibOut(rib, policy, new Set<Family>(['ipv4-unicast']), filter) };
}

/** What a batch says, as `+prefix` and `-prefix`, sorted. */
function summary(batches: OutBatch[]): string[] {
  const out: string[] = [];
  for (const b of batches) {
    for (const prefixes of b.announce.values()) for (const p of prefixes) out.push(`+${p}`);
    for (const p of b.withdraw) out.push(`-${p}`);
  }
  return out.sort();
}

const A = src('10.1.1.1', 65001);
const prefixes: Prefix[] = ['10.0.0.0/24', '10.0.1.0/24', '10.0.2.0/24'];

describe('AdjRibOut export filter', () => {
  it('announces only what the filter accepts, and is asked with the family, prefix, best path and peer key', () => {
    const calls: string[] = [];
    const { rib, out } = setup((family, prefix, path, toPeer) => {
      calls.push(`${family} ${prefix} ${path.source.id} ${toPeer}`);
      return prefix !== '10.0.1.0/24';
    });
    for (const p of prefixes) rib.update(A, 'ipv4-unicast', p, attrs([65001]));
    out.mark(rib.takeChanges());
    expect(summary(out.takeBatch(100))).toEqual(['+10.0.0.0/24', '+10.0.2.0/24']);
    expect(calls).toContain(`ipv4-unicast 10.0.1.0/24 10.1.1.1 ${PEER}`);
    expect(out.count('ipv4-unicast')).toBe(2);
  });

  it('sends only differences when the filter changes: withdrawals for newly rejected, announcements for newly accepted', () => {
    let rejected = new Set<Prefix>();
    const filter: ExportFilter = (_f, prefix) => !rejected.has(prefix);
    const { rib, out } = setup(filter);
    for (const p of prefixes) rib.update(A, 'ipv4-unicast', p, attrs([65001]));
    out.mark(rib.takeChanges());
    expect(summary(out.takeBatch(100))).toHaveLength(3);

    rejected = new Set(['10.0.1.0/24']);
    out.setFilter(filter); // same function, new inputs: re-evaluate
    expect(summary(out.takeBatch(100))).toEqual(['-10.0.1.0/24']);

    rejected = new Set(['10.0.2.0/24']);
    out.setFilter(filter);
    expect(summary(out.takeBatch(100))).toEqual(['+10.0.1.0/24', '-10.0.2.0/24']);

    out.setFilter(undefined);
    expect(summary(out.takeBatch(100))).toEqual(['+10.0.2.0/24']);
    out.setFilter(undefined);
    expect(out.takeBatch(100)).toEqual([]);
  });

  it('does not fall back to a second-best path when the best one is rejected', () => {
    const B = src('10.2.2.2', 65002);
    const { rib, out } = setup((_f, _p, path) => path.source.id !== A.id);
    rib.update(A, 'ipv4-unicast', '10.0.0.0/24', attrs([65001])); // best: shorter AS_PATH
    rib.update(B, 'ipv4-unicast', '10.0.0.0/24', attrs([65002, 1, 2]));
    out.mark(rib.takeChanges());
    expect(rib.best('ipv4-unicast', '10.0.0.0/24')?.best.source.id).toBe(A.id);
    expect(out.takeBatch(100)).toEqual([]);
    // The best path goes: B's path is best now and accepted.
    rib.withdraw(A, 'ipv4-unicast', '10.0.0.0/24');
    out.mark(rib.takeChanges());
    expect(summary(out.takeBatch(100))).toEqual(['+10.0.0.0/24']);
  });

  it('applies after the export policy: a prefix the policy refuses is not offered to the filter', () => {
    const seen: Prefix[] = [];
    const { rib, out } = setup((_f, p) => {
      seen.push(p);
      return true;
    });
    rib.update(src(PEER, 65009), 'ipv4-unicast', '10.0.0.0/24', attrs([65009])); // learned from this very peer
    out.markAll();
    expect(out.takeBatch(100)).toEqual([]);
    expect(seen).toEqual([]);
  });

  it('counts a throwing filter as a rejection and reports the errors once', () => {
    let broken = false;
    const { rib, out } = setup((_f, prefix) => {
      if (broken && prefix !== '10.0.0.0/24') throw new Error(`boom ${prefix}`);
      return true;
    });
    for (const p of prefixes) rib.update(A, 'ipv4-unicast', p, attrs([65001]));
    out.mark(rib.takeChanges());
    expect(summary(out.takeBatch(100))).toHaveLength(3);
    expect(out.takeFilterErrors()).toBeUndefined();
    broken = true;
    out.markAll();
    expect(summary(out.takeBatch(100))).toEqual(['-10.0.1.0/24', '-10.0.2.0/24']);
    const errors = out.takeFilterErrors();
    expect(errors?.count).toBe(2);
    // The first of the two to throw (the table's walk order decides which).
    expect(errors?.first.family).toBe('ipv4-unicast');
    expect(['10.0.1.0/24', '10.0.2.0/24']).toContain(errors?.first.prefix);
    expect((errors?.first.err as Error).message).toBe(`boom ${errors?.first.prefix}`);
    expect(out.takeFilterErrors()).toBeUndefined();
  });

  it('treats a non-boolean truthy result as reject (only true accepts)', () => {
    const { rib, out } = setup((() => 1) as unknown as ExportFilter);
    rib.update(A, 'ipv4-unicast', '10.0.0.0/24', attrs([65001]));
    out.mark(rib.takeChanges());
    expect(out.takeBatch(100)).toEqual([]);
  });
});
