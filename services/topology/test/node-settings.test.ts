/**
 * What a node needs beyond its sessions (issue 13, "no setting silently ignored"):
 * communities by prefix, service ranges, the BGPFilters its sessions name, and the log
 * level — each compiled by Calico's rules and followed live.
 */
import { describe, expect, it } from 'vitest';
import { diffConfigs } from '../src/compile/diff.js';
import { communityKind, prefixCommunities, serviceRanges } from '../src/compile/model.js';
import { toNodeConfig } from '../src/convert.js';
import { bgpConfig, bgpPeer, compile, manifest, node, nodes } from './support.js';

function bgpFilter(name: string, spec: string): string {
  return `apiVersion: projectcalico.org/v3
kind: BGPFilter
metadata:
  name: ${name}
spec:
${spec
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => `  ${l}`)
  .join('\n')}
`;
}

const REJECT_10 = 'exportV4:\n  - action: Reject\n    matchOperator: In\n    cidr: 10.0.0.0/8';
const ACCEPT_10 = 'exportV4:\n  - action: Accept\n    matchOperator: In\n    cidr: 10.0.0.0/8';

describe('communities (prefixAdvertisements)', () => {
  it('classifies values by form and range', () => {
    expect(
      ['65000:100', '65000:100:200', '65536:1', '4294967295:1:1', '4294967296:1:1', '1', '1:2:3:4', 'a:b', 'no-export'].map((v) => [v, communityKind(v)]),
    ).toEqual([
      ['65000:100', 'standard'],
      ['65000:100:200', 'large'],
      ['65536:1', undefined],
      ['4294967295:1:1', 'large'],
      ['4294967296:1:1', undefined],
      ['1', undefined],
      ['1:2:3:4', undefined],
      ['a:b', undefined],
      ['no-export', undefined],
    ]);
  });

  it('resolves names in the same BGPConfiguration, keeps literals, de-duplicates and sorts, splits standard from large', () => {
    const cfg = manifest(
      bgpConfig(`communities:
  - name: edge
    value: 65001:10
  - name: big
    value: 65001:20:30
  - name: edge
    value: 9:9
prefixAdvertisements:
  - cidr: 10.244.0.0/16
    communities: [edge, 65001:10, big, 100:1, unknown]
  - cidr: fd00:10::/64
    communities: [65001:1:1]
  - cidr: 10.96.0.0/12
    communities: []`),
    )[0];
    const spec = cfg.kind?.$case === 'bgpConfiguration' ? cfg.kind.value.spec : undefined;
    expect(prefixCommunities(spec)).toEqual([
      { cidr: '10.244.0.0/16', family: 4, standard: ['100:1', '65001:10'], large: ['65001:20:30'] },
      { cidr: 'fd00:10::/64', family: 6, standard: [], large: ['65001:1:1'] },
      { cidr: '10.96.0.0/12', family: 4, standard: [], large: [] },
    ]);
    expect(prefixCommunities(undefined)).toBeUndefined();
  });

  it('per-node prefixAdvertisements replace the default ones; names resolve only in their own object', () => {
    const c = compile([
      nodes(2),
      bgpConfig(`communities:
  - name: tag
    value: 65000:1
prefixAdvertisements:
  - cidr: 10.244.0.0/16
    communities: [tag]
  - cidr: 10.96.0.0/12
    communities: [65000:2]`),
      bgpConfig(
        `communities:
  - name: tag
    value: 65000:99:1
prefixAdvertisements:
  - cidr: 10.244.0.0/24
    communities: [tag]`,
        'node.node2',
      ),
    ]);
    expect(c.config('node1')?.communities).toEqual([
      { cidr: '10.244.0.0/16', family: 4, standard: ['65000:1'], large: [] },
      { cidr: '10.96.0.0/12', family: 4, standard: ['65000:2'], large: [] },
    ]);
    expect(c.config('node2')?.communities).toEqual([{ cidr: '10.244.0.0/24', family: 4, standard: [], large: ['65000:99:1'] }]);
  });

  it('a per-node object without prefixAdvertisements leaves the default ones in force', () => {
    const c = compile([nodes(1), bgpConfig('prefixAdvertisements:\n  - cidr: 10.244.0.0/16\n    communities: [65000:1]'), bgpConfig('listenPort: 1790', 'node.node1')]);
    expect(c.config('node1')?.communities.map((x) => x.cidr)).toEqual(['10.244.0.0/16']);
  });

  it('changes only the node whose per-node object changes, and show in the diff', () => {
    const c = compile([nodes(3), bgpConfig('prefixAdvertisements:\n  - cidr: 10.244.0.0/16\n    communities: [65000:1]')]);
    const before = new Map(c.allConfigs());
    for (const r of manifest(bgpConfig('prefixAdvertisements:\n  - cidr: 10.244.0.0/16\n    communities: [65000:2]', 'node.node2'))) c.apply(r);
    expect(c.commit().changed).toEqual(['node2']);
    expect(diffConfigs(before, c.allConfigs())).toEqual([
      { node: 'node2', fields: ['communities: [10.244.0.0/16 65000:1] -> [10.244.0.0/16 65000:2]'], sessions: [], prefixesAdded: [], prefixesRemoved: [] },
    ]);
    c.delete('BGPConfiguration', 'node.node2');
    expect(c.commit().changed).toEqual(['node2']);
    expect(c.config('node2')?.communities[0].standard).toEqual(['65000:1']);
  });
});

describe('service ranges', () => {
  it('cluster, external and load-balancer ranges in that order, canonical, each once', () => {
    const c = compile([
      nodes(2),
      bgpConfig(`serviceClusterIPs:
  - cidr: 10.96.0.0/12
  - cidr: fd00:96::/108
serviceExternalIPs:
  - cidr: 192.0.2.7
  - cidr: 10.96.0.0/12
serviceLoadBalancerIPs:
  - cidr: 198.51.100.0/24`),
    ]);
    for (const n of ['node1', 'node2'])
      expect(c.config(n)?.services).toEqual([
        { cidr: '10.96.0.0/12', family: 4, kind: 'ClusterIP' },
        { cidr: 'fd00:96::/108', family: 6, kind: 'ClusterIP' },
        { cidr: '192.0.2.7/32', family: 4, kind: 'ExternalIP' },
        { cidr: '198.51.100.0/24', family: 4, kind: 'LoadBalancer' },
      ]);
  });

  it('serviceLoadBalancerAggregation Disabled announces no load-balancer range (no Services to announce /32s for)', () => {
    const spec = (text: string) => {
      const r = manifest(bgpConfig(text))[0];
      return r.kind?.$case === 'bgpConfiguration' ? r.kind.value.spec : undefined;
    };
    const lb = 'serviceExternalIPs:\n  - cidr: 192.0.2.0/24\nserviceLoadBalancerIPs:\n  - cidr: 198.51.100.0/24';
    expect(serviceRanges(spec(`${lb}\nserviceLoadBalancerAggregation: Enabled`)).map((s) => s.kind)).toEqual(['ExternalIP', 'LoadBalancer']);
    expect(serviceRanges(spec(`${lb}\nserviceLoadBalancerAggregation: Disabled`)).map((s) => s.kind)).toEqual(['ExternalIP']);
  });

  it('a node labelled exclude-from-external-load-balancers announces none, live', () => {
    const c = compile([nodes(2), bgpConfig('serviceClusterIPs:\n  - cidr: 10.96.0.0/12')]);
    for (const r of manifest(node('node2', '10.0.0.2/24', { labels: { 'node.kubernetes.io/exclude-from-external-load-balancers': 'true' } }))) c.apply(r);
    expect(c.commit().changed).toEqual(['node2']);
    expect(c.config('node1')?.services).toHaveLength(1);
    expect(c.config('node2')?.services).toEqual([]);
  });

  it('a change of the default object reaches every node and the diff', () => {
    const c = compile([nodes(2), bgpConfig('serviceClusterIPs:\n  - cidr: 10.96.0.0/12')]);
    const before = new Map(c.allConfigs());
    for (const r of manifest(bgpConfig('serviceClusterIPs:\n  - cidr: 10.96.0.0/12\nserviceExternalIPs:\n  - cidr: 192.0.2.0/24'))) c.apply(r);
    expect(c.commit().changed).toEqual(['node1', 'node2']);
    expect(diffConfigs(before, c.allConfigs())[0].fields).toEqual(['services: [ClusterIP 10.96.0.0/12] -> [ClusterIP 10.96.0.0/12, ExternalIP 192.0.2.0/24]']);
  });
});

describe('log level', () => {
  it.each([
    { docs: [] as string[], want: 'Info' },
    { docs: [bgpConfig('logSeverityScreen: Warning')], want: 'Warning' },
    { docs: [bgpConfig('logSeverityScreen: Warning'), bgpConfig('logSeverityScreen: Debug', 'node.node1')], want: 'Debug' },
    { docs: [bgpConfig('logSeverityScreen: Warning'), bgpConfig('listenPort: 1790', 'node.node1')], want: 'Warning' },
    { docs: [bgpConfig('logSeverityScreen: Error', 'node.node1')], want: 'Error' },
    { docs: [bgpConfig('logSeverityScreen: Error', 'node.node2')], want: 'Info' },
  ])('node.<name>, else default, else Info: $want', ({ docs, want }) => {
    expect(compile([nodes(1), ...docs]).config('node1')?.logSeverityScreen).toBe(want);
  });

  it('a per-node change bumps that node only', () => {
    const c = compile([nodes(3)]);
    for (const r of manifest(bgpConfig('logSeverityScreen: Debug', 'node.node3'))) c.apply(r);
    expect(c.commit()).toEqual({ changed: ['node3'], recompiled: 1 });
  });
});

describe('BGPFilters', () => {
  const docs = [
    bgpConfig('nodeToNodeMeshEnabled: false'),
    nodes(3),
    bgpFilter('no-ten', REJECT_10),
    bgpFilter('unused', ACCEPT_10),
    bgpPeer('tor1', 'node: node1\npeerIP: 10.9.0.1\nasNumber: 65000\nfilters: [no-ten]'),
    bgpPeer('tor2', 'node: node2\npeerIP: 10.9.0.2\nasNumber: 65000'),
  ];

  it('the filters a node’s sessions name, with their rules', () => {
    const c = compile(docs);
    expect(c.config('node1')?.filters.map((f) => [f.name, f.spec.exportV4[0]?.action])).toEqual([['no-ten', 'Reject']]);
    expect(c.config('node1')?.peers[0].missingFilters).toEqual([]);
    expect(c.config('node2')?.filters).toEqual([]);
  });

  it('a changed BGPFilter bumps the nodes whose sessions name it, and only those', () => {
    const c = compile(docs);
    const before = new Map(c.allConfigs());
    for (const r of manifest(bgpFilter('no-ten', ACCEPT_10))) c.apply(r);
    expect(c.commit().changed).toEqual(['node1']);
    expect(c.config('node1')?.filters[0].spec.exportV4[0].action).toBe('Accept');
    expect(diffConfigs(before, c.allConfigs()).map((d) => [d.node, d.fields])).toEqual([['node1', ['filter no-ten: rules changed']]]);
    // The same rules again, an unused filter, a new unused filter: nobody changes.
    for (const r of manifest([bgpFilter('no-ten', ACCEPT_10), bgpFilter('unused', REJECT_10), bgpFilter('other', REJECT_10)].join('---\n'))) c.apply(r);
    expect(c.commit()).toEqual({ changed: [], recompiled: 0 });
  });

  it('a deleted filter is listed as missing on the session (kept down by the speaker), and comes back', () => {
    const c = compile(docs);
    c.delete('BGPFilter', 'no-ten');
    expect(c.commit().changed).toEqual(['node1']);
    const peer = c.config('node1')?.peers[0];
    expect([peer?.filters, peer?.missingFilters]).toEqual([['no-ten'], ['no-ten']]);
    expect(c.config('node1')?.filters).toEqual([]);
    expect(toNodeConfig('node1', c.config('node1'), 7).peers[0].missingFilters).toEqual(['no-ten']);
    for (const r of manifest(bgpFilter('no-ten', REJECT_10))) c.apply(r);
    expect(c.commit().changed).toEqual(['node1']);
    expect(c.config('node1')?.peers[0].missingFilters).toEqual([]);
  });

  it('a BGPPeer naming a filter that never existed, then the filter created', () => {
    const c = compile([nodes(2), bgpPeer('tor', 'peerIP: 10.9.0.1\nasNumber: 65000\nfilters: [later, no-ten]'), bgpFilter('no-ten', REJECT_10)]);
    for (const n of ['node1', 'node2']) {
      const tor = c.config(n)?.peers.find((p) => p.address === '10.9.0.1');
      expect(tor?.missingFilters, n).toEqual(['later']);
      expect(c.config(n)?.filters.map((f) => f.name)).toEqual(['no-ten']);
    }
    for (const r of manifest(bgpFilter('later', ACCEPT_10))) c.apply(r);
    expect(c.commit().changed).toEqual(['node1', 'node2']);
    expect(c.config('node1')?.filters.map((f) => f.name)).toEqual(['later', 'no-ten']);
  });

  it('a node stops following a filter when its sessions stop naming it', () => {
    const c = compile(docs);
    for (const r of manifest(bgpPeer('tor1', 'node: node1\npeerIP: 10.9.0.1\nasNumber: 65000'))) c.apply(r);
    expect(c.commit().changed).toEqual(['node1']);
    for (const r of manifest(bgpFilter('no-ten', ACCEPT_10))) c.apply(r);
    expect(c.commit()).toEqual({ changed: [], recompiled: 0 });
  });

  it('converts to the NodeConfig message', () => {
    const c = compile([...docs, bgpConfig('logSeverityScreen: Debug', 'node.node1')]);
    const msg = toNodeConfig('node1', c.config('node1'), 3);
    expect(msg.filters.map((f) => [f.name, f.spec?.exportV4.map((r) => `${r.action} ${r.matchOperator} ${r.cidr}`)])).toEqual([['no-ten', ['Reject In 10.0.0.0/8']]]);
    expect(msg.logSeverityScreen).toBe('Debug');
    expect(toNodeConfig('gone', undefined, 3)).toMatchObject({ exists: false, communities: [], services: [], filters: [], logSeverityScreen: '' });
  });
});
