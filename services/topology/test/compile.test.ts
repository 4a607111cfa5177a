/**
 * The compiler against Calico's peering rules (docs/calico-compat.md §2, confd client.go and
 * bird.cfg.template), one case per rule, plus the walkthrough's route-reflector recipe.
 */
import { describe, expect, it } from 'vitest';
import { walkthroughManifest } from '@tabby/harness';
import { hashToIPv4 } from '../src/compile/router-id.js';
import { bgpConfig, bgpPeer, compile, manifest, node, nodes, sessionsOf } from './support.js';

const MESH_OFF = bgpConfig('nodeToNodeMeshEnabled: false');

/** Node options: the node numbered `n` is labelled edge=yes. */
const edgeAt =
  (n: number) =>
  (i: number): { labels: Record<string, string> } => ({ labels: i === n ? { edge: 'yes' } : {} });

interface Case {
  readonly name: string;
  readonly docs: readonly string[];
  /** Expected sessions per node (nodes not listed have none). */
  readonly expect: Readonly<Record<string, readonly string[]>>;
}

const cases: Case[] = [
  {
    name: 'full mesh by default: every node peers with every other; the higher address dials',
    docs: [nodes(3)],
    expect: {
      node1: ['Mesh_10_0_0_2 10.0.0.2:179 64512>64512 iBGP passive [builtin]', 'Mesh_10_0_0_3 10.0.0.3:179 64512>64512 iBGP passive [builtin]'],
      node2: ['Mesh_10_0_0_1 10.0.0.1:179 64512>64512 iBGP [builtin]', 'Mesh_10_0_0_3 10.0.0.3:179 64512>64512 iBGP passive [builtin]'],
      node3: ['Mesh_10_0_0_1 10.0.0.1:179 64512>64512 iBGP [builtin]', 'Mesh_10_0_0_2 10.0.0.2:179 64512>64512 iBGP [builtin]'],
    },
  },
  {
    name: 'mesh passivity compares addresses as strings, as Calico does (10.0.0.10 < 10.0.0.9)',
    docs: [node('a', '10.0.0.9'), node('b', '10.0.0.10')],
    expect: {
      a: ['Mesh_10_0_0_10 10.0.0.10:179 64512>64512 iBGP [builtin]'],
      b: ['Mesh_10_0_0_9 10.0.0.9:179 64512>64512 iBGP passive [builtin]'],
    },
  },
  {
    name: 'mesh explicitly enabled names the default BGPConfiguration',
    docs: [bgpConfig('nodeToNodeMeshEnabled: true'), nodes(2)],
    expect: {
      node1: ['Mesh_10_0_0_2 10.0.0.2:179 64512>64512 iBGP passive [BGPConfiguration(default)]'],
      node2: ['Mesh_10_0_0_1 10.0.0.1:179 64512>64512 iBGP [BGPConfiguration(default)]'],
    },
  },
  { name: 'mesh disabled: no sessions at all', docs: [MESH_OFF, nodes(3)], expect: {} },
  {
    name: 'global peer (walkthrough flow 2): every node, eBGP, active',
    docs: [MESH_OFF, nodes(2), walkthroughManifest('2. global BGP peer')],
    expect: {
      node1: ['Global_192_20_30_40 192.20.30.40:179 64512>64567 eBGP [BGPPeer(bgppeer-global-3040)]'],
      node2: ['Global_192_20_30_40 192.20.30.40:179 64512>64567 eBGP [BGPPeer(bgppeer-global-3040)]'],
    },
  },
  {
    name: 'node-specific peer by name (walkthrough flow 3): only node1, and only with an IPv6 address',
    docs: [MESH_OFF, node('node1', '10.0.0.1', { v6: 'fd00::1' }), node('node2', '10.0.0.2', { v6: 'fd00::2' }), walkthroughManifest('3. node-specific BGP peer')],
    expect: { node1: ['Node_aa_bb__ff aa:bb::ff:179 64512>64514 eBGP [BGPPeer(bgppeer-node-aabbff)]'] },
  },
  {
    name: 'an IPv6 peer on a node without an IPv6 address gives no session (IPv6 disabled on this node)',
    docs: [MESH_OFF, nodes(1), walkthroughManifest('3. node-specific BGP peer')],
    expect: {},
  },
  {
    name: 'node-specific peer by nodeSelector',
    docs: [MESH_OFF, nodes(3, (i) => ({ labels: { rack: i === 2 ? 'b' : 'a' } })), bgpPeer('tor-a', "nodeSelector: rack == 'a'\npeerIP: 10.1.0.1\nasNumber: 65001")],
    expect: {
      node1: ['Node_10_1_0_1 10.1.0.1:179 64512>65001 eBGP [BGPPeer(tor-a)]'],
      node3: ['Node_10_1_0_1 10.1.0.1:179 64512>65001 eBGP [BGPPeer(tor-a)]'],
    },
  },
  {
    name: 'peerSelector expands to the selected nodes, with automatic reverse peerings',
    docs: [MESH_OFF, nodes(3, edgeAt(3)), bgpPeer('to-edge', 'nodeSelector: "!has(edge)"\npeerSelector: has(edge)')],
    expect: {
      node1: ['Node_10_0_0_3 10.0.0.3:179 64512>64512 iBGP [BGPPeer(to-edge)]'],
      node2: ['Node_10_0_0_3 10.0.0.3:179 64512>64512 iBGP [BGPPeer(to-edge)]'],
      node3: ['Node_10_0_0_1 10.0.0.1:179 64512>64512 iBGP [BGPPeer(to-edge)]', 'Node_10_0_0_2 10.0.0.2:179 64512>64512 iBGP [BGPPeer(to-edge)]'],
    },
  },
  {
    name: 'reversePeering: Manual suppresses the reverse peerings',
    docs: [MESH_OFF, nodes(2, edgeAt(2)), bgpPeer('to-edge', 'nodeSelector: "!has(edge)"\npeerSelector: has(edge)\nreversePeering: Manual')],
    expect: { node1: ['Node_10_0_0_2 10.0.0.2:179 64512>64512 iBGP [BGPPeer(to-edge)]'] },
  },
  {
    name: 'a peerIP that is a node address and AS gets a reverse peering on that node',
    docs: [MESH_OFF, nodes(2), bgpPeer('n1-to-n2', 'node: node1\npeerIP: 10.0.0.2\nasNumber: 64512')],
    expect: {
      node1: ['Node_10_0_0_2 10.0.0.2:179 64512>64512 iBGP [BGPPeer(n1-to-n2)]'],
      node2: ['Node_10_0_0_1 10.0.0.1:179 64512>64512 iBGP [BGPPeer(n1-to-n2)]'],
    },
  },
  {
    name: 'no reverse peering when the AS does not match the node at the peerIP',
    docs: [MESH_OFF, nodes(2), bgpPeer('n1-to-n2', 'node: node1\npeerIP: 10.0.0.2\nasNumber: 65000')],
    expect: { node1: ['Node_10_0_0_2 10.0.0.2:179 64512>65000 eBGP [BGPPeer(n1-to-n2)]'] },
  },
  {
    name: 'IPv6 peers: [addr]:port and IPv6 node addresses',
    docs: [
      MESH_OFF,
      node('node1', '10.0.0.1', { v6: 'fd00::1/64' }),
      bgpPeer('v6-tor', 'node: node1\npeerIP: "[fd00::99]:1790"\nasNumber: 65099'),
    ],
    expect: { node1: ['Node_fd00__99_port_1790 fd00::99:1790 64512>65099 eBGP [BGPPeer(v6-tor)]'] },
  },
  {
    name: 'IPv6 mesh: one session per family',
    docs: [node('node1', '10.0.0.1', { v6: 'fd00::1' }), node('node2', '10.0.0.2', { v6: 'fd00::2' })],
    expect: {
      node1: ['Mesh_10_0_0_2 10.0.0.2:179 64512>64512 iBGP passive [builtin]', 'Mesh_fd00__2 fd00::2:179 64512>64512 iBGP passive [builtin]'],
      node2: ['Mesh_10_0_0_1 10.0.0.1:179 64512>64512 iBGP [builtin]', 'Mesh_fd00__1 fd00::1:179 64512>64512 iBGP [builtin]'],
    },
  },
  {
    name: 'ports: a peerIP port, and listen ports (default and node.<name>) used to reach nodes',
    docs: [
      bgpConfig('listenPort: 1790'),
      bgpConfig('listenPort: 1791', 'node.node2'),
      nodes(2),
      bgpPeer('tor', 'peerIP: 10.1.0.1:1800\nasNumber: 65001'),
    ],
    expect: {
      node1: ['Mesh_10_0_0_2 10.0.0.2:1791 64512>64512 iBGP passive [BGPConfiguration(default)]', 'Global_10_1_0_1_port_1800 10.1.0.1:1800 64512>65001 eBGP [BGPPeer(tor)]'],
      node2: ['Mesh_10_0_0_1 10.0.0.1:1790 64512>64512 iBGP [BGPConfiguration(default)]', 'Global_10_1_0_1_port_1800 10.1.0.1:1800 64512>65001 eBGP [BGPPeer(tor)]'],
    },
  },
  {
    name: 'a peerIP without port that is a node uses that node’s listen port',
    docs: [MESH_OFF, bgpConfig('listenPort: 1791', 'node.node2'), nodes(2), bgpPeer('n1-n2', 'node: node1\npeerIP: 10.0.0.2\nasNumber: 64512')],
    expect: {
      node1: ['Node_10_0_0_2_port_1791 10.0.0.2:1791 64512>64512 iBGP [BGPPeer(n1-n2)]'],
      node2: ['Node_10_0_0_1 10.0.0.1:179 64512>64512 iBGP [BGPPeer(n1-n2)]'],
    },
  },
  {
    name: 'AS numbers: the node’s own, else the default BGPConfiguration’s',
    docs: [bgpConfig('asNumber: 63400'), node('node1', '10.0.0.1', { as: 65001 }), node('node2', '10.0.0.2')],
    expect: {
      node1: ['Mesh_10_0_0_2 10.0.0.2:179 65001>63400 eBGP passive [BGPConfiguration(default)]'],
      node2: ['Mesh_10_0_0_1 10.0.0.1:179 63400>65001 eBGP [BGPConfiguration(default)]'],
    },
  },
  {
    name: 'a node never peers with itself (a global peer at its own address, a selector that selects it)',
    docs: [MESH_OFF, nodes(2, () => ({ labels: { all: "yes" } })), bgpPeer('at-node1', 'peerIP: 10.0.0.1\nasNumber: 64512'), bgpPeer('everyone', 'nodeSelector: has(all)\npeerSelector: has(all)\nreversePeering: Manual')],
    expect: {
      // node2 dials node1 as a global peer at a Calico node's address (node2's address sorts
      // after node1's, so it is the active side). node1 skips itself everywhere, and gets
      // node2 from `everyone` (node pass) before the reverse of at-node1 (reverse pass).
      node2: ['Global_10_0_0_1 10.0.0.1:179 64512>64512 iBGP [BGPPeer(at-node1), BGPPeer(everyone)~]'],
      node1: ['Node_10_0_0_2 10.0.0.2:179 64512>64512 iBGP [BGPPeer(everyone), BGPPeer(at-node1)~]'],
    },
  },
  {
    name: 'duplicates collapse: two global peers to one address, and a node peer under a global one',
    docs: [
      MESH_OFF,
      nodes(2),
      bgpPeer('a-first', 'peerIP: 10.1.0.1\nasNumber: 65001'),
      bgpPeer('b-second', 'peerIP: 10.1.0.1\nasNumber: 65002'),
      bgpPeer('c-node', 'node: node1\npeerIP: 10.1.0.1\nasNumber: 65003'),
    ],
    expect: {
      node1: ['Global_10_1_0_1 10.1.0.1:179 64512>65001 eBGP [BGPPeer(a-first), BGPPeer(b-second)~, BGPPeer(c-node)~]'],
      node2: ['Global_10_1_0_1 10.1.0.1:179 64512>65001 eBGP [BGPPeer(a-first), BGPPeer(b-second)~]'],
    },
  },
  {
    name: 'a BGPPeer and the mesh to the same neighbour collapse into the BGPPeer session',
    docs: [nodes(2), bgpPeer('n1-n2', 'node: node1\npeerIP: 10.0.0.2\nasNumber: 64512')],
    expect: {
      node1: ['Node_10_0_0_2 10.0.0.2:179 64512>64512 iBGP [BGPPeer(n1-n2), builtin~]'],
      node2: ['Node_10_0_0_1 10.0.0.1:179 64512>64512 iBGP [BGPPeer(n1-n2), builtin~]'],
    },
  },
  {
    name: 'keepOriginalNextHop applies to eBGP sessions only',
    docs: [MESH_OFF, nodes(1), bgpPeer('ebgp', 'peerIP: 10.1.0.1\nasNumber: 65001\nkeepOriginalNextHop: true'), bgpPeer('ibgp', 'peerIP: 10.1.0.2\nasNumber: 64512\nkeepOriginalNextHop: true')],
    expect: {
      node1: ['Global_10_1_0_1 10.1.0.1:179 64512>65001 eBGP keep-next-hop [BGPPeer(ebgp)]', 'Global_10_1_0_2 10.1.0.2:179 64512>64512 iBGP [BGPPeer(ibgp)]'],
    },
  },
  {
    name: 'localASNumber changes the AS presented, and so iBGP/eBGP',
    docs: [MESH_OFF, nodes(1), bgpPeer('as-override', 'peerIP: 10.1.0.1\nasNumber: 65001\nlocalASNumber: 65001')],
    expect: { node1: ['Global_10_1_0_1 10.1.0.1:179 65001>65001 iBGP [BGPPeer(as-override)]'] },
  },
  {
    name: 'route reflectors skip the mesh, and are skipped by it',
    docs: [nodes(3, (i) => (i === 1 ? { rr: '224.0.0.1' } : {}))],
    expect: {
      node2: ['Mesh_10_0_0_3 10.0.0.3:179 64512>64512 iBGP passive [builtin]'],
      node3: ['Mesh_10_0_0_2 10.0.0.2:179 64512>64512 iBGP [builtin]'],
    },
  },
  {
    name: 'a peerIP peering on a route reflector makes the peer a client, even another reflector (Calico)',
    docs: [MESH_OFF, nodes(2, () => ({ rr: '224.0.0.1' })), bgpPeer('rr1-rr2', 'node: node1\npeerIP: 10.0.0.2\nasNumber: 64512')],
    expect: {
      node1: ['Node_10_0_0_2 10.0.0.2:179 64512>64512 iBGP rr-client(224.0.0.1) [BGPPeer(rr1-rr2)]'],
      node2: ['Node_10_0_0_1 10.0.0.1:179 64512>64512 iBGP [BGPPeer(rr1-rr2)]'],
    },
  },
];

describe('Calico peering rules', () => {
  for (const c of cases) {
    it(c.name, () => {
      const compiled = compile(c.docs);
      const got: Record<string, string[]> = {};
      for (const n of compiled.nodeNames()) {
        const s = sessionsOf(compiled, n);
        if (s.length > 0) got[n] = s;
      }
      expect(got).toEqual(c.expect);
    });
  }
});

describe('the walkthrough route-reflector recipe (flow 5)', () => {
  // node1 edited as the walkthrough's node.yml; node2 and node3 as their agents register them.
  const cluster = (meshOff: boolean): string[] => [
    ...(meshOff ? [MESH_OFF] : []),
    walkthroughManifest('5. route reflector node'),
    node('node2', '172.17.8.102/24'),
    node('node3', '172.17.8.103/24'),
    walkthroughManifest('5. peer-to-rrs'),
    walkthroughManifest('5. rr-mesh'),
  ];
  const rrSide = [
    'Node_172_17_8_102 172.17.8.102:179 64512>64512 iBGP rr-client(224.0.0.1) [BGPPeer(peer-to-rrs)]',
    'Node_172_17_8_103 172.17.8.103:179 64512>64512 iBGP rr-client(224.0.0.1) [BGPPeer(peer-to-rrs)]',
  ];
  const clientSide = 'Node_172_17_8_101 172.17.8.101:179 64512>64512 iBGP [BGPPeer(peer-to-rrs)]';

  it('with the mesh still on: clients keep their mesh sessions to each other, none to the reflector', () => {
    const c = compile(cluster(false));
    expect(sessionsOf(c, 'node1')).toEqual(rrSide);
    expect(sessionsOf(c, 'node2')).toEqual([clientSide, 'Mesh_172_17_8_103 172.17.8.103:179 64512>64512 iBGP passive [builtin]']);
    expect(sessionsOf(c, 'node3')).toEqual([clientSide, 'Mesh_172_17_8_102 172.17.8.102:179 64512>64512 iBGP [builtin]']);
  });

  it('with the mesh off: exactly the client/reflector sessions, the mesh sessions gone', () => {
    const c = compile(cluster(true));
    expect(sessionsOf(c, 'node1')).toEqual(rrSide);
    expect(sessionsOf(c, 'node2')).toEqual([clientSide]);
    expect(sessionsOf(c, 'node3')).toEqual([clientSide]);
  });

  it('two reflectors of one cluster: plain iBGP between them (rr-mesh), clients of both', () => {
    const c = compile([
      MESH_OFF,
      ...['node1', 'node2'].map((n, i) => node(n, `10.0.0.${i + 1}`, { labels: { 'i-am-a-route-reflector': 'true' }, rr: '224.0.0.1' })),
      node('node3', '10.0.0.3'),
      walkthroughManifest('5. peer-to-rrs'),
      walkthroughManifest('5. rr-mesh'),
    ]);
    expect(sessionsOf(c, 'node1')).toEqual([
      'Node_10_0_0_2 10.0.0.2:179 64512>64512 iBGP [BGPPeer(rr-mesh), BGPPeer(rr-mesh)~]',
      'Node_10_0_0_3 10.0.0.3:179 64512>64512 iBGP rr-client(224.0.0.1) [BGPPeer(peer-to-rrs)]',
    ]);
    expect(sessionsOf(c, 'node3')).toEqual([
      'Node_10_0_0_1 10.0.0.1:179 64512>64512 iBGP [BGPPeer(peer-to-rrs)]',
      'Node_10_0_0_2 10.0.0.2:179 64512>64512 iBGP [BGPPeer(peer-to-rrs)]',
    ]);
  });
});

describe('node identity', () => {
  it('resolves the AS in all three ways and says where it came from', () => {
    const withDefault = compile([bgpConfig('asNumber: 63400'), node('own', '10.0.0.1', { as: 65001 }), node('inherits', '10.0.0.2')]);
    expect([withDefault.config('own')?.asNumber, withDefault.config('own')?.asNumberOrigin]).toEqual([65001, 'node']);
    expect([withDefault.config('inherits')?.asNumber, withDefault.config('inherits')?.asNumberOrigin]).toEqual([63400, 'default-bgp-configuration']);
    const bare = compile([node('bare', '10.0.0.3')]);
    expect([bare.config('bare')?.asNumber, bare.config('bare')?.asNumberOrigin]).toEqual([64512, 'builtin-default']);
  });

  it('router id: the IPv4 address, else Calico’s hash of the node name', () => {
    const c = compile([node('v4', '10.0.0.1/24'), node('v6only', '', { v6: 'fd00::2' })]);
    expect([c.config('v4')?.routerId, c.config('v4')?.routerIdOrigin, c.config('v4')?.ipv4Network]).toEqual(['10.0.0.1', 'node', '10.0.0.0/24']);
    expect([c.config('v6only')?.routerId, c.config('v6only')?.routerIdOrigin]).toEqual([hashToIPv4('v6only'), 'node-name-hash']);
    expect(hashToIPv4('v6only')).toMatch(/^(\d+)\.\d+\.\d+\.\d+$/);
    expect(Number(hashToIPv4('v6only').split('.')[0])).toBeLessThanOrEqual(223);
  });

  it('listen port: node.<name>, else default, else 179', () => {
    const c = compile([bgpConfig('listenPort: 1790'), bgpConfig('listenPort: 1791', 'node.a'), node('a', '10.0.0.1'), node('b', '10.0.0.2')]);
    expect([c.config('a')?.listenPort, c.config('a')?.listenPortOrigin]).toEqual([1791, 'node-bgp-configuration']);
    expect([c.config('b')?.listenPort, c.config('b')?.listenPortOrigin]).toEqual([1790, 'default-bgp-configuration']);
    expect(compile([node('c', '10.0.0.3')]).config('c')?.listenPort).toBe(179);
  });
});

describe('prefixes', () => {
  it('originates the node’s affine blocks, except those in disableBGPExport pools', () => {
    const pools = `apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: exported
spec:
  cidr: 10.244.0.0/16
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: quiet
spec:
  cidr: 10.245.0.0/16
  disableBGPExport: true
`;
    const c = compile([nodes(2), pools], [
      { cidr: '10.244.0.64/26', node: 'node1', pool: 'exported' },
      { cidr: '10.244.0.0/26', node: 'node1', pool: '' },
      { cidr: '10.245.0.0/26', node: 'node1', pool: 'quiet' },
      { cidr: '10.244.1.0/26', node: 'node2', pool: 'exported' },
      { cidr: '10.244.2.0/26', node: '', pool: 'exported' },
    ]);
    expect(c.config('node1')?.prefixes.map((p) => `${p.cidr} ${p.pool}`)).toEqual(['10.244.0.0/26 exported', '10.244.0.64/26 exported']);
    expect(c.config('node2')?.prefixes.map((p) => p.cidr)).toEqual(['10.244.1.0/26']);
  });

  it('carries every affine block (blackholed, exported or not), the node’s workloads and every pool', () => {
    const pools = `apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: quiet
spec:
  cidr: 10.245.0.0/16
  disableBGPExport: true
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: exported
spec:
  cidr: 10.244.0.0/16
  vxlanMode: Always
  disabled: true
`;
    const wep = (name: string, nodeName: string, iface: string, ips: string): string => `apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata:
  name: ${name}
  namespace: default
spec:
  node: ${nodeName}
  orchestrator: k8s
  pod: ${name}
  endpoint: eth0
  interfaceName: ${iface}
  ipNetworks: [${ips}]
`;
    const c = compile(
      [nodes(2), pools, wep('b', 'node1', 'cali0000000000b', '10.244.0.5/32'), wep('a', 'node1', 'cali0000000000a', '10.244.1.9/32'), wep('c', 'node2', 'cali0000000000c', '10.244.1.2/32')],
      [
        { cidr: '10.244.0.0/26', node: 'node1', pool: 'exported' },
        { cidr: '10.245.0.0/26', node: 'node1', pool: 'quiet' },
        { cidr: '10.244.1.0/26', node: 'node2', pool: 'exported' },
      ],
    );
    const n1 = c.config('node1');
    expect(n1?.blocks.map((b) => `${b.cidr} ${b.exported ? 'exported' : 'blackhole-only'}`)).toEqual(['10.244.0.0/26 exported', '10.245.0.0/26 blackhole-only']);
    expect(n1?.workloads.map((w) => `${w.name} ${w.interfaceName} ${w.addresses.join(',')}`)).toEqual(['default/a cali0000000000a 10.244.1.9/32', 'default/b cali0000000000b 10.244.0.5/32']);
    expect(n1?.pools.map((p) => `${p.name} ${p.cidr} ${p.disableBGPExport} ${p.vxlanMode} ${p.disabled}`)).toEqual(['exported 10.244.0.0/16 false Always true', 'quiet 10.245.0.0/16 true Never false']);
    expect(c.config('node2')?.workloads.map((w) => w.name)).toEqual(['default/c']);

    // A workload moving to another node and one deleted: only those nodes change.
    const moved = manifest(wep('a', 'node2', 'cali0000000000a', '10.244.1.9/32'))[0];
    if (!moved) throw new Error('no resource');
    c.apply(moved);
    c.delete('WorkloadEndpoint', 'default/c');
    expect(c.commit().changed).toEqual(['node1', 'node2']);
    expect(c.config('node1')?.workloads.map((w) => w.name)).toEqual(['default/b']);
    expect(c.config('node2')?.workloads.map((w) => w.name)).toEqual(['default/a']);
    expect(c.commit().changed).toEqual([]);
  });
});
