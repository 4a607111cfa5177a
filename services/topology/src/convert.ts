/** The compiler's values as messages of the contract (proto/tabby/v1/topology.proto). */
import type { IPFamily } from '@tabby/api';
import {
  AddressFamily,
  PeerRule,
  PeerType,
  SessionChangeType,
  ValueSource,
  WarningSeverity,
  type NodeConfig,
  type NodeDiff,
  type PeerConfig,
  type Peering,
  type TopologyWarning,
} from '@tabby/proto';
import type { Severity, Warning } from './compile/analyze.js';
import type { NodeConfigDiff } from './compile/diff.js';
import type { GraphEdge, GraphEnd } from './compile/graph.js';
import { PEER_TYPE_LABELS, type CompiledNodeConfig, type CompiledPeer, type PeerKind, type PeerRuleName, type ValueOrigin } from './compile/types.js';

const SOURCE: Readonly<Record<ValueOrigin, ValueSource>> = {
  node: ValueSource.VALUE_SOURCE_NODE,
  'node-bgp-configuration': ValueSource.VALUE_SOURCE_NODE_BGP_CONFIGURATION,
  'default-bgp-configuration': ValueSource.VALUE_SOURCE_DEFAULT_BGP_CONFIGURATION,
  'builtin-default': ValueSource.VALUE_SOURCE_BUILTIN_DEFAULT,
  'node-name-hash': ValueSource.VALUE_SOURCE_NODE_NAME_HASH,
};

const TYPE: Readonly<Record<PeerKind, PeerType>> = {
  mesh: PeerType.PEER_TYPE_NODE_TO_NODE_MESH,
  global: PeerType.PEER_TYPE_GLOBAL,
  node: PeerType.PEER_TYPE_NODE_SPECIFIC,
};

const RULE: Readonly<Record<PeerRuleName, PeerRule>> = {
  mesh: PeerRule.PEER_RULE_NODE_TO_NODE_MESH,
  'global-peer-ip': PeerRule.PEER_RULE_GLOBAL_PEER_IP,
  'global-peer-selector': PeerRule.PEER_RULE_GLOBAL_PEER_SELECTOR,
  'node-peer-ip': PeerRule.PEER_RULE_NODE_PEER_IP,
  'node-peer-selector': PeerRule.PEER_RULE_NODE_PEER_SELECTOR,
  'reverse-peer-ip': PeerRule.PEER_RULE_REVERSE_PEER_IP,
  'reverse-peer-selector': PeerRule.PEER_RULE_REVERSE_PEER_SELECTOR,
};

const SEVERITY: Readonly<Record<Severity, WarningSeverity>> = {
  info: WarningSeverity.WARNING_SEVERITY_INFO,
  warning: WarningSeverity.WARNING_SEVERITY_WARNING,
  error: WarningSeverity.WARNING_SEVERITY_ERROR,
};

export function addressFamily(f: IPFamily): AddressFamily {
  return f === 4 ? AddressFamily.ADDRESS_FAMILY_IPV4_UNICAST : AddressFamily.ADDRESS_FAMILY_IPV6_UNICAST;
}

export function toPeerConfig(p: CompiledPeer): PeerConfig {
  return {
    address: p.address,
    port: p.port,
    remoteAs: p.remoteAs,
    localAs: p.localAs,
    type: TYPE[p.kind],
    typeLabel: PEER_TYPE_LABELS[p.kind],
    ibgp: p.ibgp,
    families: [addressFamily(p.family)],
    keepOriginalNextHop: p.keepOriginalNextHop,
    nextHopMode: p.nextHopMode,
    passive: p.passive,
    routeReflectorClient: p.rrClient,
    clusterId: p.clusterId,
    peerNode: p.peerNode,
    peerClusterId: p.peerClusterId,
    sourceAddress: p.sourceAddress,
    password: p.password ? { name: p.password.name, key: p.password.key } : undefined,
    gracefulRestartTimeSeconds: p.restartTimeS,
    ttlSecurity: p.ttlSecurity,
    numAllowedLocalASNumbers: p.numAllowedLocalAS,
    reachableBy: p.reachableBy,
    filters: [...p.filters],
    keepaliveTimeSeconds: p.keepaliveS,
    name: p.name,
    sources: p.sources.map((s) => ({ resource: s.resource, rule: RULE[s.rule], used: s.used })),
    missingFilters: [...p.missingFilters],
  };
}

/** A node's configuration message; `config` undefined describes a node that does not exist. */
export function toNodeConfig(node: string, config: CompiledNodeConfig | undefined, generation: number): NodeConfig {
  if (!config)
    return {
      node,
      generation,
      exists: false,
      asNumber: 0,
      asNumberSource: ValueSource.VALUE_SOURCE_UNSPECIFIED,
      routerId: '',
      routerIdSource: ValueSource.VALUE_SOURCE_UNSPECIFIED,
      listenPort: 0,
      listenPortSource: ValueSource.VALUE_SOURCE_UNSPECIFIED,
      bindToNodeAddress: false,
      ipv4Address: '',
      ipv6Address: '',
      ipv4Network: '',
      ipv6Network: '',
      routeReflectorClusterId: '',
      peers: [],
      prefixes: [],
      blocks: [],
      workloads: [],
      pools: [],
      communities: [],
      services: [],
      filters: [],
      logSeverityScreen: '',
    };
  return {
    node,
    generation,
    exists: true,
    asNumber: config.asNumber,
    asNumberSource: SOURCE[config.asNumberOrigin],
    routerId: config.routerId,
    routerIdSource: SOURCE[config.routerIdOrigin],
    listenPort: config.listenPort,
    listenPortSource: SOURCE[config.listenPortOrigin],
    bindToNodeAddress: config.bindToNodeAddress,
    ipv4Address: config.ipv4,
    ipv6Address: config.ipv6,
    ipv4Network: config.ipv4Network,
    ipv6Network: config.ipv6Network,
    routeReflectorClusterId: config.clusterId,
    peers: config.peers.map(toPeerConfig),
    prefixes: config.prefixes.map((p) => ({ cidr: p.cidr, pool: p.pool, family: addressFamily(p.family) })),
    blocks: config.blocks.map((b) => ({ cidr: b.cidr, pool: b.pool, family: addressFamily(b.family), exported: b.exported })),
    workloads: config.workloads.map((w) => ({ name: w.name, interfaceName: w.interfaceName, addresses: [...w.addresses] })),
    pools: config.pools.map((p) => ({
      name: p.name,
      cidr: p.cidr,
      family: addressFamily(p.family),
      disableBGPExport: p.disableBGPExport,
      ipipMode: p.ipipMode,
      vxlanMode: p.vxlanMode,
      disabled: p.disabled,
    })),
    communities: config.communities.map((c) => ({ cidr: c.cidr, standard: [...c.standard], large: [...c.large] })),
    services: config.services.map((s) => ({ cidr: s.cidr, family: addressFamily(s.family), kind: s.kind })),
    filters: config.filters.map((f) => ({ name: f.name, spec: f.spec })),
    logSeverityScreen: config.logSeverityScreen,
  };
}

export function toWarning(w: Warning): TopologyWarning {
  return { code: w.code, severity: SEVERITY[w.severity], message: w.message, nodes: [...w.nodes], resources: [...w.resources] };
}

export function toNodeDiff(d: NodeConfigDiff): NodeDiff {
  const type = { added: SessionChangeType.SESSION_CHANGE_TYPE_ADDED, removed: SessionChangeType.SESSION_CHANGE_TYPE_REMOVED, modified: SessionChangeType.SESSION_CHANGE_TYPE_MODIFIED };
  return {
    node: d.node,
    fields: [...d.fields],
    sessions: d.sessions.map((s) => ({
      type: type[s.type],
      before: s.before ? toPeerConfig(s.before) : undefined,
      after: s.after ? toPeerConfig(s.after) : undefined,
      fields: [...s.fields],
    })),
    prefixesAdded: [...d.prefixesAdded],
    prefixesRemoved: [...d.prefixesRemoved],
  };
}

function toEnd(e: GraphEnd) {
  return { node: e.node, address: e.address, asNumber: e.as, config: e.config ? toPeerConfig(e.config) : undefined };
}

export function toPeering(e: GraphEdge): Peering {
  return { family: addressFamily(e.family), a: toEnd(e.a), b: toEnd(e.b), nodeToNode: e.nodeToNode, viable: e.viable, problem: e.problem };
}
