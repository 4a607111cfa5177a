/**
 * What the topology commands print, from messages of the contract, against
 * golden/topology.txt (UPDATE_GOLDEN=1 rewrites it after a review); the topology address
 * resolution; and the commands against a fake topology service.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AddressFamily,
  ListPeeringsResponse,
  NodeConfig,
  PeerConfig,
  PeerRule,
  PeerType,
  SessionChangeType,
  ValueSource,
  WarningSeverity,
  type ExplainResponse,
  type PreviewResponse,
  type TopologyCheckResponse,
} from '@tabby/proto';
import { resolveConfig } from '../src/index.js';
import { parseTopologyFormat } from '../src/commands/topology.js';
import { checkText, explanationText, nodeConfigText, peeringsDot, peeringsTable, previewText } from '../src/topology-print.js';

function peer(p: Partial<PeerConfig>): PeerConfig {
  return PeerConfig.fromPartial({
    port: 179,
    remoteAs: 64512,
    localAs: 64512,
    ibgp: true,
    families: [AddressFamily.ADDRESS_FAMILY_IPV4_UNICAST],
    nextHopMode: 'Auto',
    ...p,
  });
}

const meshToNode2 = peer({
  address: '10.0.0.2',
  peerNode: 'node2',
  type: PeerType.PEER_TYPE_NODE_TO_NODE_MESH,
  typeLabel: 'node-to-node mesh',
  passive: true,
  sourceAddress: '10.0.0.1',
  name: 'Mesh_10_0_0_2',
  sources: [{ resource: 'BGPConfiguration(default)', rule: PeerRule.PEER_RULE_NODE_TO_NODE_MESH, used: true }],
});
const clientNode3 = peer({
  address: '10.0.0.3',
  peerNode: 'node3',
  type: PeerType.PEER_TYPE_NODE_SPECIFIC,
  typeLabel: 'node specific',
  routeReflectorClient: true,
  clusterId: '224.0.0.1',
  sourceAddress: '10.0.0.1',
  name: 'Node_10_0_0_3',
  sources: [
    { resource: 'BGPPeer(peer-to-rrs)', rule: PeerRule.PEER_RULE_REVERSE_PEER_SELECTOR, used: true },
    { resource: 'BGPPeer(rr-mesh)', rule: PeerRule.PEER_RULE_NODE_PEER_SELECTOR, used: false },
  ],
});
const tor = peer({
  address: '192.20.30.40',
  port: 1790,
  remoteAs: 64567,
  localAs: 65001,
  ibgp: false,
  type: PeerType.PEER_TYPE_GLOBAL,
  typeLabel: 'global',
  nextHopMode: 'Keep',
  keepOriginalNextHop: true,
  sourceAddress: '',
  name: 'Global_192_20_30_40_port_1790',
  sources: [{ resource: 'BGPPeer(bgppeer-global-3040)', rule: PeerRule.PEER_RULE_GLOBAL_PEER_IP, used: true }],
});
const v6 = peer({
  address: 'fd00::2',
  peerNode: 'node2',
  families: [AddressFamily.ADDRESS_FAMILY_IPV6_UNICAST],
  type: PeerType.PEER_TYPE_NODE_TO_NODE_MESH,
  typeLabel: 'node-to-node mesh',
  sourceAddress: 'fd00::1',
  name: 'Mesh_fd00__2',
  sources: [{ resource: '', rule: PeerRule.PEER_RULE_NODE_TO_NODE_MESH, used: true }],
});

const node1 = NodeConfig.fromPartial({
  node: 'node1',
  generation: 42,
  exists: true,
  asNumber: 64512,
  asNumberSource: ValueSource.VALUE_SOURCE_DEFAULT_BGP_CONFIGURATION,
  routerId: '10.0.0.1',
  routerIdSource: ValueSource.VALUE_SOURCE_NODE,
  listenPort: 1790,
  listenPortSource: ValueSource.VALUE_SOURCE_NODE_BGP_CONFIGURATION,
  ipv4Address: '10.0.0.1',
  ipv6Address: 'fd00::1',
  ipv4Network: '10.0.0.0/24',
  routeReflectorClusterId: '224.0.0.1',
  peers: [meshToNode2, clientNode3, tor, v6],
  prefixes: [
    { cidr: '10.244.0.0/26', pool: 'pods', family: AddressFamily.ADDRESS_FAMILY_IPV4_UNICAST },
    { cidr: 'fd00:244::/122', pool: '', family: AddressFamily.ADDRESS_FAMILY_IPV6_UNICAST },
  ],
});

const graph = ListPeeringsResponse.fromPartial({
  nodes: [
    { name: 'node1', asNumber: 64512, ipv4Address: '10.0.0.1', ipv6Address: 'fd00::1', routeReflectorClusterId: '224.0.0.1', sessions: 4, prefixes: 2 },
    { name: 'node2', asNumber: 64512, ipv4Address: '10.0.0.2', sessions: 1 },
    { name: 'node3', asNumber: 64512, ipv4Address: '10.0.0.3', sessions: 1 },
    { name: 'node4 "quoted"', asNumber: 64512, ipv4Address: '10.0.0.4', sessions: 1 },
  ],
  peerings: [
    {
      family: AddressFamily.ADDRESS_FAMILY_IPV4_UNICAST,
      a: { node: 'node1', address: '10.0.0.1', asNumber: 64512, config: meshToNode2 },
      b: { node: 'node2', address: '10.0.0.2', asNumber: 64512, config: meshToNode2 },
      nodeToNode: true,
      viable: true,
    },
    {
      family: AddressFamily.ADDRESS_FAMILY_IPV4_UNICAST,
      a: { node: 'node1', address: '10.0.0.1', asNumber: 64512, config: clientNode3 },
      b: { node: 'node3', address: '10.0.0.3', asNumber: 64512, config: peer({ typeLabel: 'node specific', name: 'Node_10_0_0_1' }) },
      nodeToNode: true,
      viable: true,
    },
    {
      family: AddressFamily.ADDRESS_FAMILY_IPV4_UNICAST,
      a: { node: 'node1', address: '10.0.0.1', asNumber: 65001, config: tor },
      b: { node: '', address: '192.20.30.40', asNumber: 64567 },
      nodeToNode: false,
      viable: true,
    },
    {
      family: AddressFamily.ADDRESS_FAMILY_IPV4_UNICAST,
      a: { node: 'node3', address: '10.0.0.3', asNumber: 64512, config: peer({ typeLabel: 'node specific', name: 'Node_10_0_0_4' }) },
      b: { node: 'node4 "quoted"', address: '10.0.0.4', asNumber: 64512 },
      nodeToNode: true,
      viable: false,
      problem: 'node4 has no session to node3 (10.0.0.3)',
    },
    {
      family: AddressFamily.ADDRESS_FAMILY_IPV6_UNICAST,
      a: { node: 'node1', address: 'fd00::1', asNumber: 64512, config: v6 },
      b: { node: 'node2', address: 'fd00::2', asNumber: 64512, config: v6 },
      nodeToNode: true,
      viable: true,
    },
  ],
});

const explained: ExplainResponse = {
  sessions: [{ peer: clientNode3, reasons: ['node specific session Node_10_0_0_3: node1 (10.0.0.1) → node3 (10.0.0.3) port 179, IPv4', 'produced by ...', 'port 179 (the BGP default)'] }],
  notes: [],
};

const warnings = [
  { code: 'routes-not-propagated', severity: WarningSeverity.WARNING_SEVERITY_ERROR, message: "no node's IPv4 routes would reach any other node", nodes: [], resources: [] },
  { code: 'single-route-reflector', severity: WarningSeverity.WARNING_SEVERITY_WARNING, message: 'route reflector cluster 224.0.0.1 has a single reflector', nodes: [], resources: [] },
  { code: 'large-mesh', severity: WarningSeverity.WARNING_SEVERITY_INFO, message: 'the mesh is large', nodes: [], resources: [] },
];

const checked: TopologyCheckResponse = { warnings, nodes: 4, sessions: 7 };

const previewed: PreviewResponse = {
  nodes: [
    {
      node: 'node1',
      fields: ['asNumber: 64512 -> 63400'],
      sessions: [
        { type: SessionChangeType.SESSION_CHANGE_TYPE_REMOVED, before: meshToNode2, after: undefined, fields: [] },
        { type: SessionChangeType.SESSION_CHANGE_TYPE_MODIFIED, before: clientNode3, after: { ...clientNode3, remoteAs: 63400, localAs: 63400 }, fields: ['remoteAs: 64512 -> 63400', 'localAs: 64512 -> 63400'] },
        { type: SessionChangeType.SESSION_CHANGE_TYPE_ADDED, before: undefined, after: tor, fields: [] },
      ],
      prefixesAdded: ['10.244.1.0/26'],
      prefixesRemoved: ['10.244.0.0/26'],
    },
  ],
  warnings: [warnings[0]],
  resolved: [warnings[1]],
  ignored: ['WorkloadEndpoint(default/web)'],
};

const GOLDEN = new URL('./golden/topology.txt', import.meta.url);

describe('topology printers', () => {
  it('match golden/topology.txt', () => {
    const sections: [string, string][] = [
      ['topology show node1', nodeConfigText(node1)],
      ['topology show node9 (missing)', nodeConfigText(NodeConfig.fromPartial({ node: 'node9', exists: false }))],
      ['topology show node7 (no sessions)', nodeConfigText(NodeConfig.fromPartial({ node: 'node7', exists: true, asNumber: 64512, routerId: '10.0.0.7', ipv4Address: '10.0.0.7', listenPort: 179 }))],
      ['topology show', peeringsTable(graph)],
      ['topology show (empty)', peeringsTable(ListPeeringsResponse.fromPartial({ nodes: [{ name: 'lonely' }] }))],
      ['topology show -o dot', peeringsDot(graph)],
      ['topology show node1 -o json', `${JSON.stringify(NodeConfig.toJSON(node1), null, 2)}\n`],
      ['topology explain node1 node3', explanationText('node1', 'node3', explained)],
      ['topology explain node2 node3 (none)', explanationText('node2', 'node3', { sessions: [], notes: ['the node-to-node mesh is disabled', 'no BGPPeer gives node2 a session to node3'] })],
      ['topology check', checkText(checked)],
      ['topology check (clean)', checkText({ warnings: [], nodes: 1, sessions: 1 })],
      ['apply --dry-run', previewText(previewed, 'Applying 2 resources')],
      ['delete --dry-run (no change)', previewText({ nodes: [], warnings: [], resolved: [], ignored: ['WorkloadEndpoint(default/web)'] }, 'Deleting 1 resource')],
    ];
    const out = sections.map(([title, text]) => `=== ${title}\n${text}`).join('\n');
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(GOLDEN, out);
    expect(existsSync(GOLDEN), 'golden/topology.txt exists (UPDATE_GOLDEN=1 writes it)').toBe(true);
    expect(out).toBe(readFileSync(GOLDEN, 'utf8'));
  });

  it('names the formats there are', () => {
    expect(parseTopologyFormat(undefined)).toBe('table');
    expect(parseTopologyFormat('dot')).toBe('dot');
    expect(() => parseTopologyFormat('yaml')).toThrow("unrecognized output format 'yaml' (use one of: table, json, dot)");
  });
});

describe('topology address', () => {
  it('comes from --topology, TABBY_TOPOLOGY_ADDR, the config file, else 127.0.0.1:50053', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tabbyctl-topology-'));
    try {
      const file = path.join(dir, 'tabbyctl.yaml');
      writeFileSync(file, 'topology: 10.9.9.9:50053\n');
      expect(resolveConfig({}, { HOME: '/nonexistent' }).topology).toBe('127.0.0.1:50053');
      expect(resolveConfig({ config: file }, {}).topology).toBe('10.9.9.9:50053');
      expect(resolveConfig({ config: file }, { TABBY_TOPOLOGY_ADDR: '127.0.0.2:2' }).topology).toBe('127.0.0.2:2');
      expect(resolveConfig({ config: file, topology: '127.0.0.3:3' }, { TABBY_TOPOLOGY_ADDR: '127.0.0.2:2' }).topology).toBe('127.0.0.3:3');
      writeFileSync(file, 'topology: 50053\n');
      expect(() => resolveConfig({ config: file }, {})).toThrow(`config file ${file}: topology must be HOST:PORT`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
