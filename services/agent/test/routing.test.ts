import { describe, expect, it } from 'vitest';
import type { RouteEntry } from '@tabby/bgp';
import { parseCIDR } from '@tabby/api';
import { PoolIndex, exportAllowed, planRoutes, type RoutingInput } from '../src/routing.js';
import { learned, peerSource } from './fakes.js';

const node2 = peerSource('198.18.0.12', 64512, true);
const node3 = peerSource('198.18.0.13', 64512, true);
const tor = peerSource('198.18.0.2', 64513, false);

function entry(prefix: string, ...paths: ReturnType<typeof learned>[]): RouteEntry {
  const ps = paths.map((p) => p.path);
  return { family: prefix.includes(':') ? 'ipv6-unicast' : 'ipv4-unicast', prefix, best: ps[0], reason: 'router-id', paths: ps };
}

const POOLS = [
  { name: 'default', cidr: '198.19.0.0/16', disableBGPExport: false, vxlanMode: 'Never', ipipMode: 'Never' },
  { name: 'quiet', cidr: '198.18.128.0/20', disableBGPExport: true, vxlanMode: 'Never', ipipMode: 'Never' },
  { name: 'vx', cidr: '198.18.192.0/20', disableBGPExport: false, vxlanMode: 'Always', ipipMode: 'Never' },
  { name: 'v6', cidr: 'fd00:10::/48', disableBGPExport: false, vxlanMode: 'Never', ipipMode: 'Never' },
];

function input(over: Partial<RoutingInput> = {}): RoutingInput {
  return {
    blocks: [
      { cidr: '198.19.1.0/26', exported: true },
      { cidr: '198.18.128.0/26', exported: false },
      { cidr: 'fd00:10::/122', exported: true },
    ],
    workloads: [
      { name: 'default/a', interfaceName: 'cali0000000000a', addresses: ['198.19.1.5/32', 'fd00:10::5/128'] },
      { name: 'default/b', interfaceName: 'cali0000000000b', addresses: ['198.19.3.9/32'] },
      { name: 'default/c', interfaceName: 'cali0000000000c', addresses: ['198.19.1.6/32'] },
    ],
    pools: POOLS,
    rib: [],
    links: new Set(['eth0', 'cali0000000000a', 'cali0000000000b']),
    ownAddresses: new Set(['198.18.0.11']),
    ...over,
  };
}

const show = (r: { prefix: string; type: string; nextHops: readonly { via?: string; dev?: string }[] }): string =>
  `${r.type === 'blackhole' ? 'blackhole ' : ''}${r.prefix}${r.nextHops.map((h) => (h.via ? ` via ${h.via}` : ` dev ${h.dev}`)).join('')}`;

describe('planRoutes', () => {
  it('blackholes own blocks, routes local workloads to their interfaces, remote blocks via their next hops', () => {
    const plan = planRoutes(
      input({
        rib: [
          entry('198.19.2.0/26', learned('198.19.2.0/26', '198.18.0.12', node2)),
          entry('198.19.3.0/26', learned('198.19.3.0/26', '198.18.0.13', node3)),
          entry('198.19.1.0/26', { prefix: '198.19.1.0/26', path: { attrs: {}, source: { id: 'local', kind: 'local', address: '', asn: 64512, routerId: '1.1.1.1', ibgp: false, rrClient: false } } }),
        ],
      }),
    );
    expect(plan.kernel.map(show)).toEqual([
      'blackhole 198.18.128.0/26',
      'blackhole 198.19.1.0/26',
      '198.19.1.5/32 dev cali0000000000a',
      '198.19.2.0/26 via 198.18.0.12',
      '198.19.3.0/26 via 198.18.0.13',
      '198.19.3.9/32 dev cali0000000000b',
      'blackhole fd00:10::/122',
      'fd00:10::5/128 dev cali0000000000a',
    ]);
    expect(plan.counts).toEqual({ blackholes: 3, workloads: 3, remote: 2, services: 0, statics: 0 });
    // Own exported blocks and the borrowed address; never the /32s inside own blocks, never the quiet pool.
    expect(plan.originate).toEqual(['198.19.1.0/26', '198.19.3.9/32', 'fd00:10::/122']);
    expect(plan.borrowed).toEqual(['198.19.3.9/32']);
    expect(plan.waitingForInterface).toEqual(['default/c (cali0000000000c)']);
  });

  it('merges equal-cost paths into one multipath route, not unequal ones', () => {
    const a = learned('198.19.9.0/26', '198.18.0.12', node2);
    const b = learned('198.19.9.0/26', '198.18.0.13', node3);
    const longer = learned('198.19.9.0/26', '198.18.0.2', tor, { asPath: [{ type: 2, asns: [64513, 64999] }] });
    const plan = planRoutes(input({ workloads: [], rib: [entry('198.19.9.0/26', b, a, longer)] }));
    expect(plan.kernel.filter((r) => r.type === 'unicast').map(show)).toEqual(['198.19.9.0/26 via 198.18.0.12 via 198.18.0.13']);
  });

  it('leaves VXLAN pools to the VXLAN data plane and never points a route at this node itself', () => {
    const plan = planRoutes(
      input({
        workloads: [],
        rib: [entry('198.18.192.0/26', learned('198.18.192.0/26', '198.18.0.12', node2)), entry('198.19.7.0/26', learned('198.19.7.0/26', '198.18.0.11', node2))],
      }),
    );
    expect(plan.kernel.filter((r) => r.type === 'unicast')).toEqual([]);
  });

  it('originates a borrowed address only once its workload is wired, and never one from a disableBGPExport pool', () => {
    const workloads = [
      { name: 'default/b', interfaceName: 'cali0000000000b', addresses: ['198.19.3.9/32'] },
      { name: 'default/q', interfaceName: 'cali000000000qq', addresses: ['198.18.130.4/32'] },
    ];
    expect(planRoutes(input({ workloads, links: new Set() })).originate).toEqual(['198.19.1.0/26', 'fd00:10::/122']);
    const wired = planRoutes(input({ workloads, links: new Set(['cali0000000000b', 'cali000000000qq']) }));
    expect(wired.originate).toEqual(['198.19.1.0/26', '198.19.3.9/32', 'fd00:10::/122']);
    expect(wired.borrowed).toEqual(['198.18.130.4/32', '198.19.3.9/32']);
    // Without a data plane (loopback demo) every workload counts as wired.
    expect(planRoutes(input({ workloads, links: undefined })).originate).toContain('198.19.3.9/32');
  });
});

describe('planRoutes: service CIDRs and peers reachable by a gateway', () => {
  it('blackholes and announces each service CIDR (not one inside a disableBGPExport pool), preferring it over the same prefix learned from a peer', () => {
    const plan = planRoutes(
      input({
        workloads: [],
        services: [{ cidr: '10.96.0.0/12' }, { cidr: '198.18.129.0/24' }, { cidr: 'fd00:96::/108' }],
        rib: [entry('10.96.0.0/12', learned('10.96.0.0/12', '198.18.0.12', node2))],
      }),
    );
    expect(plan.kernel.map(show)).toEqual(['blackhole 10.96.0.0/12', 'blackhole 198.18.128.0/26', 'blackhole 198.18.129.0/24', 'blackhole 198.19.1.0/26', 'blackhole fd00:10::/122', 'blackhole fd00:96::/108']);
    expect(plan.originate).toEqual(['10.96.0.0/12', '198.19.1.0/26', 'fd00:10::/122', 'fd00:96::/108']);
    expect(plan.counts).toMatchObject({ services: 3, remote: 0 });
  });

  it('routes a reachableBy peer via its gateway and never announces that route', () => {
    const plan = planRoutes(input({ workloads: [], statics: [{ prefix: '198.18.7.1/32', via: '198.18.0.1' }, { prefix: '2001:db8::7/128', via: '2001:db8::1' }, { prefix: '198.18.7.2/32', via: '2001:db8::1' }] }));
    expect(plan.kernel.filter((r) => r.type === 'unicast').map(show)).toEqual(['198.18.7.1/32 via 198.18.0.1', '2001:db8::7/128 via 2001:db8::1']);
    expect(plan.counts.statics).toBe(2);
    expect(plan.originate).not.toContain('198.18.7.1/32');
  });
});

describe('exportAllowed (Calico’s calico_export_to_bgp_peers)', () => {
  const pools = new PoolIndex(POOLS);
  const path = (from: ReturnType<typeof peerSource>): ReturnType<typeof learned>['path'] => learned('x', '198.18.0.12', from).path;

  it('passes routes inside pools between nodes and to external peers', () => {
    expect(exportAllowed('198.19.2.0/26', path(node2), false, true, pools)).toBe(true);
    expect(exportAllowed('198.19.2.7/32', path(node2), false, false, pools)).toBe(true);
  });

  it('never passes a route from one external router to another (no transit), even inside a pool', () => {
    expect(exportAllowed('198.19.5.0/26', path(tor), true, true, pools)).toBe(false);
    expect(exportAllowed('198.19.5.0/26', path(tor), true, false, pools)).toBe(true);
  });

  it('rejects what lies outside every pool and anything inside a disableBGPExport pool', () => {
    expect(exportAllowed('198.18.240.0/24', path(tor), true, false, pools)).toBe(false);
    expect(exportAllowed('198.18.128.0/26', path(node2), false, true, pools)).toBe(false);
    expect(exportAllowed('198.18.128.0/16', path(node2), false, true, pools)).toBe(false);
  });

  it('on a route reflector, passes routes inside serviceLoadBalancerIPs even outside every pool', () => {
    const lb = [parseCIDR('203.0.113.0/24')!];
    expect(exportAllowed('203.0.113.7/32', path(node2), false, true, pools)).toBe(false);
    expect(exportAllowed('203.0.113.7/32', path(node2), false, true, pools, lb)).toBe(true);
    expect(exportAllowed('203.0.113.7/32', path(tor), true, true, pools, lb)).toBe(false);
  });

  it('lets the node’s own originations through (planRoutes chose them)', () => {
    const local = { attrs: {}, source: { id: 'local', kind: 'local' as const, address: '', asn: 64512, routerId: '1.1.1.1', ibgp: false, rrClient: false } };
    expect(exportAllowed('198.19.1.0/26', local, false, true, pools)).toBe(true);
  });
});
