/**
 * The API's answers built from what the followers and calls hold. Pure: inputs and the
 * clock in, view.ts shapes out, so the same inputs always give the same JSON (the model
 * compares answers to decide whether anything changed).
 */
import { agentReport, birdSince, parseTime, peerAddress, statusHealth } from '@tabby/cli';
import {
  AddressFamily,
  type BGPPeerStatus,
  type ListPeeringsResponse,
  type Node,
  type NodeStatus,
  type Peering,
  type PeeringEnd,
  type PreviewResponse,
  type RoutesResponse,
  SessionChangeType,
  type TopologyWarning,
  type UtilizationResponse,
  WarningSeverity,
} from '@tabby/proto';
import type {
  GraphNode,
  GraphPeer,
  GraphSession,
  IpamView,
  NodeView,
  PoolUse,
  PreviewView,
  PreviewWarning,
  RoutesView,
  RrCluster,
  SessionRow,
  SessionState,
} from './view.js';

/** Best first: a session's state is the worst (highest) of its ends' reports. */
const STATE_ORDER: readonly SessionState[] = ['Established', 'OpenConfirm', 'OpenSent', 'Active', 'Connect', 'Idle'];

/** The agent's state on the graph, as `tabbyctl node status`'s first line judges it (agentReport). */
export function agentState(ns: NodeStatus | undefined, now: Date): GraphNode['agent'] {
  if (!ns) return 'Unknown';
  const STATES = { unreported: 'Unknown', stale: 'Stale', 'not-ready': 'NotReady', running: 'Ready' } as const;
  return STATES[agentReport(ns, now).kind];
}

/**
 * The FSM state of one report: the first word of INFO as BIRD and calicoctl print it
 * ("Established", "Active Socket: Connection refused"), else from STATE (`up` is
 * Established, `start`/`down` without a word Idle).
 */
export function reportState(p: BGPPeerStatus): SessionState {
  const word = /^(Established|OpenConfirm|OpenSent|Active|Connect|Idle)\b/.exec(p.info.trim())?.[1] as SessionState | undefined;
  if (word) return word;
  return p.state === 'up' ? 'Established' : 'Idle';
}

function samePort(a: number, b: number): boolean {
  const norm = (p: number): number => (p === 0 ? 179 : p);
  return norm(a) === norm(b);
}

/** The report `ns` holds for its session to `address:port` in `family`; by address alone when the port tells nothing. */
function findReport(ns: NodeStatus, family: 'ipv4' | 'ipv6', address: string, port: number): BGPPeerStatus | undefined {
  const peers = (family === 'ipv4' ? ns.status?.bgp?.peersV4 : ns.status?.bgp?.peersV6) ?? [];
  const byIp = peers.filter((p) => p.peerIP === address);
  return byIp.find((p) => samePort(p.port, port)) ?? (byIp.length === 1 ? byIp[0] : undefined);
}

/** `peer:ADDRESS`, or `peer:ADDRESS:PORT` off port 179. */
export function peerId(address: string, port: number): string {
  return port === 0 || port === 179 ? `peer:${address}` : `peer:${address}:${port}`;
}

export interface ClusterInputs {
  /** Nodes in the store (followed). */
  readonly nodes: readonly Node[];
  /** NodeStatus by node name. */
  readonly statuses: ReadonlyMap<string, NodeStatus>;
  /** Topology's last answer to ListPeerings; undefined before the first. */
  readonly peerings: ListPeeringsResponse | undefined;
  readonly now: Date;
}

export interface ClusterContent {
  readonly nodes: GraphNode[];
  readonly peers: GraphPeer[];
  readonly sessions: GraphSession[];
  readonly clusters: RrCluster[];
}

/** Code-unit order of two texts (not the locale's): the answers compare byte for byte. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The graph: topology's nodes and peerings, states from the NodeStatus reports of the ends. */
export function clusterContent(inputs: ClusterInputs): ClusterContent {
  const { statuses, now } = inputs;
  const nodes = new Map<string, GraphNode>();
  const graphNode = (name: string, asNumber: number, v4: string, v6: string, rr: string): GraphNode => {
    const ns = statuses.get(name);
    return {
      name,
      asNumber,
      ipv4Address: v4,
      ipv6Address: v6,
      routeReflectorClusterId: rr,
      agent: agentState(ns, now),
      lastReported: ns?.status?.lastUpdated ?? '',
    };
  };
  for (const n of inputs.peerings?.nodes ?? []) {
    nodes.set(n.name, graphNode(n.name, n.asNumber, n.ipv4Address, n.ipv6Address, n.routeReflectorClusterId));
  }
  // A node topology has not compiled yet (or topology is down) still shows, from its resource.
  for (const n of inputs.nodes) {
    const name = n.metadata?.name ?? '';
    if (name === '' || nodes.has(name)) continue;
    const bgp = n.spec?.bgp;
    nodes.set(name, graphNode(name, bgp?.asNumber ?? 0, (bgp?.ipv4Address ?? '').replace(/\/\d+$/, ''), (bgp?.ipv6Address ?? '').replace(/\/\d+$/, ''), bgp?.routeReflectorClusterID ?? ''));
  }
  const peers = new Map<string, GraphPeer>();
  const sessions = new Map<string, GraphSession>();
  for (const p of inputs.peerings?.peerings ?? []) {
    const s = session(p, statuses, now);
    if (!s) continue;
    if (s.peer) peers.set(s.peer.id, s.peer);
    let id = s.session.id;
    for (let i = 2; sessions.has(id); i++) id = `${s.session.id}#${i}`;
    sessions.set(id, { ...s.session, id });
  }
  const clusters = new Map<string, string[]>();
  for (const n of nodes.values()) {
    if (n.routeReflectorClusterId === '') continue;
    const list = clusters.get(n.routeReflectorClusterId) ?? [];
    list.push(n.name);
    clusters.set(n.routeReflectorClusterId, list);
  }
  return {
    nodes: [...nodes.values()].sort((a, b) => compareText(a.name, b.name)),
    peers: [...peers.values()].sort((a, b) => compareText(a.id, b.id)),
    sessions: [...sessions.values()].sort((a, b) => compareText(a.id, b.id)),
    clusters: [...clusters.entries()].sort((a, b) => compareText(a[0], b[0])).map(([clusterId, reflectors]) => ({ clusterId, reflectors: reflectors.sort() })),
  };
}

/** The report of one end about its session to the other, unless its agent is stale or unknown. */
function endReport(end: PeeringEnd, other: PeeringEnd, family: 'ipv4' | 'ipv6', statuses: ReadonlyMap<string, NodeStatus>, now: Date): BGPPeerStatus | undefined {
  if (end.node === '') return undefined;
  const ns = statuses.get(end.node);
  const agent = agentState(ns, now);
  if (!ns || agent === 'Stale' || agent === 'Unknown') return undefined;
  return findReport(ns, family, end.config?.address || other.address, end.config?.port ?? 0);
}

function session(p: Peering, statuses: ReadonlyMap<string, NodeStatus>, now: Date): { session: GraphSession; peer?: GraphPeer } | undefined {
  let a = p.a;
  let b = p.b;
  if (!a || !b || a.node === '') return undefined;
  const family = p.family === AddressFamily.ADDRESS_FAMILY_IPV6_UNICAST ? 'ipv6' : 'ipv4';
  // A node-to-node session has one id whichever end topology names first.
  if (b.node !== '' && b.node < a.node) [a, b] = [b, a];
  let to: string;
  let peer: GraphPeer | undefined;
  if (b.node !== '') {
    to = b.node;
  } else {
    const port = a.config?.port ?? 0;
    const address = a.config?.address || b.address;
    peer = { id: peerId(address, port), address, port: port === 0 ? 179 : port, asNumber: b.asNumber || a.config?.remoteAs || 0 };
    to = peer.id;
  }
  const reports = [endReport(a, b, family, statuses, now), endReport(b, a, family, statuses, now)].filter((r): r is BGPPeerStatus => r !== undefined);
  let worst: BGPPeerStatus | undefined;
  let state: SessionState = 'Unknown';
  for (const r of reports) {
    const s = reportState(r);
    if (worst === undefined || STATE_ORDER.indexOf(s) > STATE_ORDER.indexOf(state)) {
      worst = r;
      state = s;
    }
  }
  const type = a.config?.typeLabel || b.config?.typeLabel || (p.nodeToNode ? 'node-to-node mesh' : '');
  return {
    session: {
      id: `${family}/${a.node}~${to}`,
      family,
      from: a.node,
      to,
      type,
      state,
      since: worst && parseTime(worst.since) ? worst.since : '',
      info: worst?.info ?? '',
      viable: p.viable,
      problem: p.problem,
    },
    peer,
  };
}

function rows(peers: readonly BGPPeerStatus[], now: Date): SessionRow[] {
  return peers.map((p) => ({ peerAddress: peerAddress(p), peerType: p.type, state: p.state, since: birdSince(p.since, now), info: p.info }));
}

/** `tabbyctl node status NAME`'s content; a node with no status yet says so, as `node status --all` does. */
export function nodeView(name: string, ns: NodeStatus | undefined, now: Date): NodeView {
  if (!ns) return { name, health: `No status for node ${name}: is its agent running?`, running: false, ipv4: [], ipv6: [] };
  const health = statusHealth(ns, now);
  return { name, health: health.line, running: health.running, ipv4: rows(ns.status?.bgp?.peersV4 ?? [], now), ipv6: rows(ns.status?.bgp?.peersV6 ?? [], now) };
}

/** `tabbyctl node routes NAME`'s rows: one per path, best first within a prefix. */
export function routesView(name: string, res: RoutesResponse): RoutesView {
  const routes = res.routes.flatMap((r) =>
    [...r.paths.filter((p) => p.best), ...r.paths.filter((p) => !p.best)].map((p) => ({
      prefix: r.prefix,
      nextHop: p.nextHop || '-',
      from: p.fromPeer === '' ? 'local' : p.fromPeer,
      asPath: p.asPath.length > 0 ? p.asPath.join(' ') : '-',
      local: r.local,
      best: p.best,
    })),
  );
  return { node: name, routes };
}

function fraction(used: string, total: string): number {
  try {
    const t = BigInt(total);
    if (t === 0n) return 0;
    return Number((BigInt(used) * 1_000_000n) / t) / 1_000_000;
  } catch {
    return 0;
  }
}

/** Migration progress of the disabled pools still holding workloads: remaining now, and the most seen. */
export interface Migration {
  readonly remainingWorkloads: number;
  readonly startedWith?: number;
}

/** Pools and blocks from IPAM's Utilization (with blocks); borrowed is the count IPAM keeps per block (what `ipam show --show-borrowed` lists). */
export function ipamView(version: number, res: UtilizationResponse, migrations: ReadonlyMap<string, Migration>): IpamView {
  const pools: PoolUse[] = res.pools.map((p) => {
    const migration = migrations.get(p.name);
    return {
      name: p.name,
      cidr: p.cidr,
      disabled: p.disabled,
      used: p.inUse,
      total: p.total,
      fraction: fraction(p.inUse, p.total),
      blocks: [...p.blocks]
        .sort((a, b) => compareText(a.cidr, b.cidr))
        .map((b) => ({ cidr: b.cidr, node: b.node, used: String(b.inUse), total: String(b.size), fraction: b.size === 0 ? 0 : b.inUse / b.size, borrowed: b.borrowed })),
      ...(migration ? { migration } : {}),
    };
  });
  return { version, pools };
}

const SEVERITY: Record<number, PreviewWarning['severity']> = {
  [WarningSeverity.WARNING_SEVERITY_INFO]: 'info',
  [WarningSeverity.WARNING_SEVERITY_WARNING]: 'warning',
  [WarningSeverity.WARNING_SEVERITY_ERROR]: 'error',
};

function warnings(ws: readonly TopologyWarning[]): PreviewWarning[] {
  return ws.map((w) => ({ severity: SEVERITY[w.severity] ?? 'warning', message: `${w.code}: ${w.message}` }));
}

/** Topology's Preview as the page shows it: sessions added and removed per node (`ADDRESS (TYPE)`), the warnings. */
export function previewView(res: PreviewResponse): PreviewView {
  return {
    nodes: res.nodes.map((d) => {
      const added: string[] = [];
      const removed: string[] = [];
      for (const s of d.sessions) {
        const label = (c: { address: string; typeLabel: string } | undefined): string => (c ? `${c.address} (${c.typeLabel})` : '');
        if (s.type === SessionChangeType.SESSION_CHANGE_TYPE_ADDED) added.push(label(s.after));
        else if (s.type === SessionChangeType.SESSION_CHANGE_TYPE_REMOVED) removed.push(label(s.before));
        else {
          // A modified session is the old one going and the new one coming.
          removed.push(label(s.before));
          added.push(label(s.after));
        }
      }
      return { node: d.node, added, removed };
    }),
    warnings: warnings(res.warnings),
    resolved: warnings(res.resolved),
    ignored: [...res.ignored],
  };
}
