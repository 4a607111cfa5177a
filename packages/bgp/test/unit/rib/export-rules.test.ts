/**
 * Export rules (BGPFilter exportV4/V6) inside the Adj-RIB-Out: run before the export filter
 * (Calico's own export logic); accept skips the filter, reject withdraws, no match asks the
 * filter; a rule change sends only differences; protocol rules (ExportPolicy) still apply.
 */
import { describe, expect, it } from 'vitest';
import { AdjRibOut, type ExportRules, type OutBatch } from '../../../src/rib/adj-rib-out.js';
import type { ExportFilter } from '../../../src/rib/export-filter.js';
import { ExportPolicy } from '../../../src/rib/export-policy.js';
import { LocRib } from '../../../src/rib/loc-rib.js';
import type { RoutePolicy } from '../../../src/rib/route-policy.js';
import { localSource, type PathSource } from '../../../src/rib/source.js';
import type { Family, PathAttributes, Prefix } from '../../../src/types.js';

const LOCAL_AS = 65000;
const PEER = '10.9.9.9';
const A: PathSource = { id: '10.1.1.1', kind: 'peer', address: '10.1.1.1', asn: 65001, routerId: '10.1.1.1', ibgp: false, rrClient: false };
const LOCAL = localSource(LOCAL_AS, '10.0.0.1');
const fromPeer: PathAttributes = { origin: 0, asPath: [{ type: 2, asns: [65001] }], nextHop: '10.1.1.1' };
const own: PathAttributes = { origin: 0, asPath: [] };

function summary(batches: OutBatch[]): string[] {
  const out: string[] = [];
  for (const b of batches) {
    for (const prefixes of b.announce.values()) for (const p of prefixes) out.push(`+${p}`);
    for (const p of b.withdraw) out.push(`-${p}`);
  }
  return out.sort();
}

function setup(policy: RoutePolicy | undefined, filter?: ExportFilter, interfaces: Record<Prefix, string> = {}): { rib: LocRib; out: AdjRibOut; rules: (p: RoutePolicy) => ExportRules } {
  const rib = new LocRib({ localAs: LOCAL_AS, routerId: '10.0.0.1' });
  const exportPolicy = new ExportPolicy({ id: PEER, ibgp: false, rrClient: false, localAs: LOCAL_AS, routerId: '10.0.0.1', nextHopMode: 'auto', nextHopIPv4: '10.0.0.1' });
  const rules = (p: RoutePolicy): ExportRules => ({ policy: p, interfaceOf: (_f, prefix) => interfaces[prefix] });
  return { rib, out: new AdjRibOut(rib, exportPolicy, new Set<Family>(['ipv4-unicast']), filter, policy ? rules(policy) : undefined), rules };
}

describe('AdjRibOut export rules', () => {
  it('reject keeps a prefix from the peer; no match falls to the filter; accept skips the filter', () => {
    const asked: Prefix[] = [];
    const filter: ExportFilter = (_f, prefix) => {
      asked.push(prefix);
      return false; // Calico's own export logic rejects everything here
    };
    const policy: RoutePolicy = {
      v4: [
        { action: 'reject', cidr: '10.0.1.0/24', matchOperator: 'Equal' },
        { action: 'accept', cidr: '10.0.0.0/16', matchOperator: 'In' },
      ],
    };
    const { rib, out } = setup(policy, filter);
    for (const p of ['10.0.0.0/24', '10.0.1.0/24', '192.0.2.0/24']) rib.update(A, 'ipv4-unicast', p, fromPeer);
    out.mark(rib.takeChanges());
    expect(summary(out.takeBatch(100))).toEqual(['+10.0.0.0/24']);
    expect(asked).toEqual(['192.0.2.0/24']);
  });

  it('an accepting rule does not override the protocol rules (a route is never sent back to its source)', () => {
    const rib = new LocRib({ localAs: LOCAL_AS, routerId: '10.0.0.1' });
    const toA = new ExportPolicy({ id: A.id, ibgp: false, rrClient: false, localAs: LOCAL_AS, routerId: '10.0.0.1', nextHopMode: 'auto', nextHopIPv4: '10.0.0.1' });
    const out = new AdjRibOut(rib, toA, new Set<Family>(['ipv4-unicast']), undefined, { policy: { v4: [{ action: 'accept' }] }, interfaceOf: () => undefined });
    rib.update(A, 'ipv4-unicast', '10.0.0.0/24', fromPeer);
    out.markAll();
    expect(summary(out.takeBatch(100))).toEqual([]);
  });

  it('matches source RemotePeers and the interface of originated routes', () => {
    const policy: RoutePolicy = {
      v4: [
        { action: 'reject', interface: '*.calico' },
        { action: 'reject', source: 'RemotePeers' },
      ],
    };
    const { rib, out } = setup(policy, undefined, { '10.0.2.0/24': 'vxlan.calico', '10.0.3.0/24': 'eth0' });
    rib.update(A, 'ipv4-unicast', '10.0.0.0/24', fromPeer);
    rib.update(LOCAL, 'ipv4-unicast', '10.0.2.0/24', own);
    rib.update(LOCAL, 'ipv4-unicast', '10.0.3.0/24', own);
    rib.update(LOCAL, 'ipv4-unicast', '10.0.4.0/24', own);
    out.mark(rib.takeChanges());
    expect(summary(out.takeBatch(100))).toEqual(['+10.0.3.0/24', '+10.0.4.0/24']);
  });

  it('a rule change sends only the differences', () => {
    const { rib, out, rules } = setup({ v4: [{ action: 'reject', cidr: '10.0.1.0/24', matchOperator: 'Equal' }] });
    for (const p of ['10.0.0.0/24', '10.0.1.0/24', '10.0.2.0/24']) rib.update(LOCAL, 'ipv4-unicast', p, own);
    out.mark(rib.takeChanges());
    expect(summary(out.takeBatch(100))).toEqual(['+10.0.0.0/24', '+10.0.2.0/24']);
    out.setRules(rules({ v4: [{ action: 'reject', cidr: '10.0.2.0/24', matchOperator: 'Equal' }] }));
    expect(summary(out.takeBatch(100))).toEqual(['+10.0.1.0/24', '-10.0.2.0/24']);
    out.setRules(undefined);
    expect(summary(out.takeBatch(100))).toEqual(['+10.0.2.0/24']);
  });

  it('v6 rules do not apply to IPv4 routes', () => {
    const { rib, out } = setup({ v6: [{ action: 'reject' }] });
    rib.update(LOCAL, 'ipv4-unicast', '10.0.0.0/24', own);
    out.mark(rib.takeChanges());
    expect(summary(out.takeBatch(100))).toEqual(['+10.0.0.0/24']);
  });
});
