import { describe, expect, it } from 'vitest';
import { AdjRibOut } from '../../../src/rib/adj-rib-out.js';
import { COMMUNITY_NO_ADVERTISE, COMMUNITY_NO_EXPORT, ExportPolicy, type ExportPeer } from '../../../src/rib/export-policy.js';
import { LocRib } from '../../../src/rib/loc-rib.js';
import { localSource, type PathSource } from '../../../src/rib/source.js';
import type { PathAttributes } from '../../../src/types.js';

const LOCAL_AS = 65000;
const ROUTER_ID = '10.0.0.1';

function src(id: string, asn: number, opts: Partial<PathSource> = {}): PathSource {
  return { id, kind: 'peer', address: id, asn, routerId: id, ibgp: asn === LOCAL_AS, rrClient: false, ...opts };
}

function exportPeer(id: string, opts: Partial<ExportPeer> = {}): ExportPeer {
  return { id, ibgp: false, rrClient: false, localAs: LOCAL_AS, routerId: ROUTER_ID, nextHopMode: 'auto', nextHopIPv4: '10.0.0.1', nextHopIPv6: '2001:db8::1', ...opts };
}

const ebgpAttrs: PathAttributes = { origin: 0, asPath: [{ type: 2, asns: [65001] }], nextHop: '10.1.1.1', med: 7 };

describe('LocRib', () => {
  it('reports best-path changes as paths arrive, change and go', () => {
    const rib = new LocRib({ localAs: LOCAL_AS, routerId: ROUTER_ID });
    const a = src('10.1.1.1', 65001);
    const b = src('10.2.2.2', 65002);
    const steps: [string | undefined, string | undefined][] = [];
    const note = (): void => {
      const changed = rib.takeChanges()['ipv4-unicast'];
      const d = rib.best('ipv4-unicast', '10.9.0.0/16');
      steps.push(changed.length > 0 ? [d?.best.source.id, d?.reason] : ['no change', undefined]);
    };
    rib.update(a, 'ipv4-unicast', '10.9.0.0/16', ebgpAttrs);
    note();
    rib.update(b, 'ipv4-unicast', '10.9.0.0/16', { origin: 0, asPath: [{ type: 2, asns: [65002, 1] }], nextHop: '10.2.2.2' });
    note();
    rib.withdraw(a, 'ipv4-unicast', '10.9.0.0/16');
    note();
    rib.withdraw(b, 'ipv4-unicast', '10.9.0.0/16');
    note();
    expect(steps).toEqual([
      ['10.1.1.1', 'only-path'],
      ['no change', undefined],
      ['10.2.2.2', 'only-path'],
      [undefined, undefined],
    ]);
    expect(rib.size('ipv4-unicast')).toBe(0);
  });

  it('keeps the best path when a worse one arrives, and explains why it wins', () => {
    const rib = new LocRib({ localAs: LOCAL_AS, routerId: ROUTER_ID });
    rib.update(src('10.1.1.1', 65001), 'ipv4-unicast', '10.9.0.0/16', ebgpAttrs);
    rib.update(src('10.2.2.2', 65002), 'ipv4-unicast', '10.9.0.0/16', { origin: 0, asPath: [{ type: 2, asns: [65002, 1, 2] }], nextHop: '10.2.2.2' });
    expect(rib.takeChanges()['ipv4-unicast']).toEqual(['10.9.0.0/16']);
    expect(rib.best('ipv4-unicast', '10.9.0.0/16')).toMatchObject({ reason: 'as-path-length', best: { source: { id: '10.1.1.1' } } });
    expect(rib.candidates('ipv4-unicast', '10.9.0.0/16')).toHaveLength(2);
  });

  it.each<[string, PathAttributes, string]>([
    ['our AS in the AS_PATH', { origin: 0, asPath: [{ type: 2, asns: [65001, LOCAL_AS] }], nextHop: '10.1.1.1' }, 'as-path-loop'],
    ['our router id as ORIGINATOR_ID', { origin: 0, asPath: [], originatorId: ROUTER_ID, nextHop: '10.1.1.1' }, 'originator-id-loop'],
    ['our cluster id in CLUSTER_LIST', { origin: 0, asPath: [], clusterList: ['224.0.0.1'], nextHop: '10.1.1.1' }, 'cluster-list-loop'],
  ])('rejects a path with %s and withdraws the earlier one', (_n, attrs, reason) => {
    const rib = new LocRib({ localAs: LOCAL_AS, routerId: ROUTER_ID, clusterId: '224.0.0.1' });
    const a = src('10.1.1.1', 65001);
    rib.update(a, 'ipv4-unicast', '10.9.0.0/16', ebgpAttrs);
    expect(rib.update(a, 'ipv4-unicast', '10.9.0.0/16', attrs)).toBe(reason);
    expect(rib.best('ipv4-unicast', '10.9.0.0/16')).toBeUndefined();
  });

  it('drops every path of a source whose session went down', () => {
    const rib = new LocRib({ localAs: LOCAL_AS, routerId: ROUTER_ID });
    const a = src('10.1.1.1', 65001);
    for (let i = 0; i < 100; i++) rib.update(a, 'ipv4-unicast', `10.${i}.0.0/16`, ebgpAttrs);
    rib.update(a, 'ipv6-unicast', 'fd00::/48', { ...ebgpAttrs, nextHop: '2001:db8::9' });
    rib.takeChanges();
    rib.dropSource(a);
    const dropped = rib.takeChanges();
    expect(dropped['ipv4-unicast'].length + dropped['ipv6-unicast'].length).toBe(101);
    expect(rib.size('ipv4-unicast') + rib.size('ipv6-unicast')).toBe(0);
  });
});

describe('ExportPolicy', () => {
  const ebgpSrc = src('10.1.1.1', 65001);
  const clientSrc = src('10.3.3.3', LOCAL_AS, { rrClient: true, routerId: '3.3.3.3' });
  const nonClientSrc = src('10.4.4.4', LOCAL_AS, { routerId: '4.4.4.4' });
  const local = localSource(LOCAL_AS, ROUTER_ID);

  it('prepends our AS, sets next hop self and drops LOCAL_PREF and foreign MED towards eBGP', () => {
    const p = new ExportPolicy(exportPeer('10.2.2.2', { ibgp: false }));
    expect(p.exportAttributes({ source: ebgpSrc, attrs: { ...ebgpAttrs, localPref: 300 } }, 'ipv4-unicast')).toEqual({
      origin: 0,
      asPath: [{ type: 2, asns: [LOCAL_AS, 65001] }],
      nextHop: '10.0.0.1',
    });
    expect(p.exportAttributes({ source: local, attrs: { origin: 0, med: 5 } }, 'ipv6-unicast')).toEqual({
      origin: 0,
      asPath: [{ type: 2, asns: [LOCAL_AS] }],
      nextHop: '2001:db8::1',
      med: 5,
    });
  });

  it('keeps the original next hop towards eBGP when asked', () => {
    const p = new ExportPolicy(exportPeer('10.2.2.2', { nextHopMode: 'keep' }));
    expect(p.exportAttributes({ source: ebgpSrc, attrs: ebgpAttrs }, 'ipv4-unicast')?.nextHop).toBe('10.1.1.1');
  });

  it('never sends a route back to the peer it came from', () => {
    expect(new ExportPolicy(exportPeer('10.1.1.1')).exportAttributes({ source: ebgpSrc, attrs: ebgpAttrs }, 'ipv4-unicast')).toBeNull();
  });

  it('honours NO_EXPORT and NO_ADVERTISE', () => {
    const noExport = { ...ebgpAttrs, communities: [COMMUNITY_NO_EXPORT] };
    expect(new ExportPolicy(exportPeer('10.2.2.2')).exportAttributes({ source: ebgpSrc, attrs: noExport }, 'ipv4-unicast')).toBeNull();
    expect(new ExportPolicy(exportPeer('10.5.5.5', { ibgp: true })).exportAttributes({ source: ebgpSrc, attrs: noExport }, 'ipv4-unicast')).not.toBeNull();
    const noAdv = { ...ebgpAttrs, communities: [COMMUNITY_NO_ADVERTISE] };
    expect(new ExportPolicy(exportPeer('10.5.5.5', { ibgp: true })).exportAttributes({ source: ebgpSrc, attrs: noAdv }, 'ipv4-unicast')).toBeNull();
  });

  it('does not pass iBGP routes to iBGP peers unless it is a route reflector (RFC 4456 §6)', () => {
    const ibgpAttrs: PathAttributes = { origin: 0, asPath: [], nextHop: '10.3.3.3', localPref: 100 };
    const plain = new ExportPolicy(exportPeer('10.6.6.6', { ibgp: true }));
    expect(plain.exportAttributes({ source: clientSrc, attrs: ibgpAttrs }, 'ipv4-unicast')).toBeNull();
    const rrToClient = new ExportPolicy(exportPeer('10.6.6.6', { ibgp: true, rrClient: true, clusterId: '224.0.0.1' }));
    const rrToNonClient = new ExportPolicy(exportPeer('10.7.7.7', { ibgp: true, rrClient: false, clusterId: '224.0.0.1' }));
    // From a client: to clients and non-clients, with ORIGINATOR_ID and our cluster id prepended.
    expect(rrToClient.exportAttributes({ source: clientSrc, attrs: ibgpAttrs }, 'ipv4-unicast')).toEqual({
      origin: 0,
      asPath: [],
      nextHop: '10.3.3.3',
      localPref: 100,
      originatorId: '3.3.3.3',
      clusterList: ['224.0.0.1'],
    });
    expect(rrToNonClient.exportAttributes({ source: clientSrc, attrs: ibgpAttrs }, 'ipv4-unicast')).not.toBeNull();
    // From a non-client: to clients only.
    expect(rrToClient.exportAttributes({ source: nonClientSrc, attrs: ibgpAttrs }, 'ipv4-unicast')).not.toBeNull();
    expect(rrToNonClient.exportAttributes({ source: nonClientSrc, attrs: ibgpAttrs }, 'ipv4-unicast')).toBeNull();
  });

  it('returns the same object for the same inputs (so updates pack and compare by identity)', () => {
    const p = new ExportPolicy(exportPeer('10.2.2.2'));
    const path = { source: ebgpSrc, attrs: ebgpAttrs };
    expect(p.exportAttributes(path, 'ipv4-unicast')).toBe(p.exportAttributes({ ...path }, 'ipv4-unicast'));
  });
});

describe('AdjRibOut', () => {
  it('groups prefixes by attributes, sends each change once, and withdraws what is gone', () => {
    const rib = new LocRib({ localAs: LOCAL_AS, routerId: ROUTER_ID });
    const out = new AdjRibOut(rib, new ExportPolicy(exportPeer('10.2.2.2')), new Set(['ipv4-unicast']));
    const a = src('10.1.1.1', 65001);
    for (let i = 0; i < 10; i++) rib.update(a, 'ipv4-unicast', `10.${i}.0.0/16`, ebgpAttrs);
    rib.update(a, 'ipv6-unicast', 'fd00::/48', ebgpAttrs);
    out.mark(rib.takeChanges());
    const first = out.takeBatch(1000);
    expect(first).toHaveLength(1);
    expect([...first[0].announce.values()][0]).toHaveLength(10);
    expect(out.takeBatch(1000)).toEqual([]);
    rib.withdraw(a, 'ipv4-unicast', '10.3.0.0/16');
    rib.update(a, 'ipv4-unicast', '10.4.0.0/16', { ...ebgpAttrs, med: 1 });
    rib.update(a, 'ipv4-unicast', '10.4.0.0/16', ebgpAttrs); // flapped back before we sent
    out.mark(rib.takeChanges());
    const second = out.takeBatch(1000);
    expect(second).toEqual([{ family: 'ipv4-unicast', announce: new Map(), withdraw: ['10.3.0.0/16'] }]);
    expect(out.count('ipv4-unicast')).toBe(9);
  });
});

describe('LocRib with IPv4 keys (what a session feeds a full table in)', () => {
  it('holds routes given as keys under their text: best, candidates, changes, counts, withdrawals, every length', async () => {
    const { ipv4KeyOf } = await import('../../../src/codec/prefix.js');
    const rib = new LocRib({ localAs: LOCAL_AS, routerId: ROUTER_ID });
    const a = src('10.1.1.1', 65001);
    const b = src('10.2.2.2', 65002);
    const prefixes = ['0.0.0.0/0', '10.0.0.0/8', '10.0.0.0/16', '192.168.1.128/25', '203.0.113.7/32', '255.255.255.254/31'];
    const keys = prefixes.map((p) => ipv4KeyOf(p) as number);
    expect(rib.updateManyIpv4(a, keys, ebgpAttrs)).toBeUndefined();
    expect(rib.size('ipv4-unicast')).toBe(6);
    expect(rib.countFrom(a.id, 'ipv4-unicast')).toBe(6);
    expect(rib.best('ipv4-unicast', '10.0.0.0/16')?.best.source).toBe(a);
    expect(rib.best('ipv4-unicast', '10.0.0.0/24')).toBeUndefined();
    expect(rib.takeChanges()['ipv4-unicast']).toEqual(prefixes);
    expect(new Set([...rib.bestPaths('ipv4-unicast')].map(([p]) => p))).toEqual(new Set(prefixes));
    expect(rib.prefixesOf(a.id, 'ipv4-unicast').sort()).toEqual([...prefixes].sort());
    // A second source through the text API: one entry, two candidates, the shorter AS path wins.
    rib.update(b, 'ipv4-unicast', '203.0.113.7/32', { ...ebgpAttrs, asPath: [] });
    expect(rib.candidates('ipv4-unicast', '203.0.113.7/32').map((p) => p.source)).toEqual([b, a]);
    expect(rib.size('ipv4-unicast')).toBe(6);
    rib.withdrawIpv4(b, keys[4]);
    expect(rib.best('ipv4-unicast', '203.0.113.7/32')?.best.source).toBe(a);
    rib.withdraw(a, 'ipv4-unicast', '0.0.0.0/0');
    expect(rib.takeChanges()['ipv4-unicast']).toEqual(['203.0.113.7/32', '203.0.113.7/32', '0.0.0.0/0']);
    rib.dropSource(a);
    expect(rib.size('ipv4-unicast')).toBe(0);
    expect(rib.countFrom(a.id, 'ipv4-unicast')).toBe(0);
    expect(rib.takeChanges()['ipv4-unicast']).toHaveLength(5);
  });

  it('refuses IPv4 text that is not a canonical prefix instead of storing it under a wrong key', () => {
    const rib = new LocRib({ localAs: LOCAL_AS, routerId: ROUTER_ID });
    expect(() => rib.update(src('10.1.1.1', 65001), 'ipv4-unicast', '10.0.0.1/8', ebgpAttrs)).toThrow(/not a canonical IPv4 prefix/);
    expect(rib.size('ipv4-unicast')).toBe(0);
  });

  it('forgets changes nobody reads (discardChanges)', () => {
    const rib = new LocRib({ localAs: LOCAL_AS, routerId: ROUTER_ID });
    rib.update(src('10.1.1.1', 65001), 'ipv4-unicast', '10.1.0.0/16', ebgpAttrs);
    expect(rib.hasChanges).toBe(true);
    rib.discardChanges();
    expect(rib.hasChanges).toBe(false);
    expect(rib.takeChanges()).toEqual({ 'ipv4-unicast': [], 'ipv6-unicast': [] });
    expect(rib.size('ipv4-unicast')).toBe(1);
  });
});

describe('AdjRibOut keyed like the Loc-RIB', () => {
  it('sends, records and withdraws IPv4 prefixes of every length and IPv6 beside them', () => {
    const rib = new LocRib({ localAs: LOCAL_AS, routerId: ROUTER_ID });
    const a = src('10.1.1.1', 65001);
    const v4 = ['0.0.0.0/0', '10.0.0.0/8', '10.0.0.0/16', '203.0.113.7/32', '255.255.255.254/31'];
    for (const p of v4) rib.update(a, 'ipv4-unicast', p, ebgpAttrs);
    rib.update(a, 'ipv6-unicast', '2001:db8::/32', { ...ebgpAttrs, nextHop: '2001:db8::1' });
    const out = new AdjRibOut(rib, new ExportPolicy(exportPeer('10.2.2.2')), new Set(['ipv4-unicast', 'ipv6-unicast']));
    out.markKeyed(rib.takeKeyedChanges());
    const batches = out.takeBatch(100);
    expect(batches.map((b) => b.family)).toEqual(['ipv4-unicast', 'ipv6-unicast']);
    expect(new Set([...batches[0].announce.values()].flat())).toEqual(new Set(v4));
    expect(out.count('ipv4-unicast')).toBe(5);
    expect(out.advertised('ipv4-unicast', '203.0.113.7/32')).toBeDefined();
    expect(out.advertised('ipv4-unicast', '203.0.113.0/24')).toBeUndefined();
    expect(new Set([...out.entries('ipv4-unicast')].map(([p]) => p))).toEqual(new Set(v4));
    rib.withdraw(a, 'ipv4-unicast', '255.255.255.254/31');
    out.mark(rib.takeChanges());
    expect(out.takeBatch(100)).toEqual([{ family: 'ipv4-unicast', announce: new Map(), withdraw: ['255.255.255.254/31'] }]);
    expect(out.pending).toBe(0);
  });
});
