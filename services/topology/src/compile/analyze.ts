/**
 * Safety analysis of a compiled topology: what would make routes go missing or sessions
 * never come up. Pure; the messages name nodes and resources so an operator can act.
 */
import type { IPFamily } from '@tabby/api';
import type { TopologyCompiler } from './compiler.js';
import { SessionTable, edgeOf, forEachSession, viability, type GraphEdge } from './graph.js';
import { SessionLinks, reachabilityOf, type Reachability } from './propagation.js';
import type { CompiledNodeConfig } from './types.js';

export const WARNING_CODES = [
  'no-sessions',
  'routes-not-propagated',
  'single-route-reflector',
  'impossible-as',
  'one-sided-session',
  'selector-matches-nothing',
  'duplicate-session',
  'large-mesh',
] as const;

export type WarningCode = (typeof WARNING_CODES)[number];
export type Severity = 'info' | 'warning' | 'error';

/** One finding. */
export interface Warning {
  /** Identity across tenses and states: the same problem on the same nodes and resources. */
  readonly id: string;
  readonly code: WarningCode;
  readonly severity: Severity;
  readonly message: string;
  readonly nodes: readonly string[];
  readonly resources: readonly string[];
}

/** `current` describes the state as it is; `preview` as it would be after a change. */
export type Tense = 'current' | 'preview';

/** Above this many nodes, the full mesh is flagged (Calico: fine to about 50, 100+ exist). */
export const LARGE_MESH = 100;

const RESERVED_AS: ReadonlyMap<number, string> = new Map([
  [0, 'AS 0 is reserved (RFC 7607)'],
  [23456, 'AS 23456 is AS_TRANS (RFC 6793)'],
  [65535, 'AS 65535 is reserved (RFC 7300)'],
  [4294967295, 'AS 4294967295 is reserved (RFC 7300)'],
]);

const SEVERITY_ORDER: Readonly<Record<Severity, number>> = { error: 0, warning: 1, info: 2 };

function list(names: readonly string[], max = 5): string {
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

function familyName(f: IPFamily): string {
  return f === 4 ? 'IPv4' : 'IPv6';
}

/** The costly part of the analysis: the session graph and route propagation. */
interface Facts {
  readonly bgpNodes: readonly CompiledNodeConfig[];
  /** The sessions that cannot come up, in the graph's order. */
  readonly broken: readonly GraphEdge[];
  readonly reachability: readonly Reachability[];
  /** The sessions as numbers (nodes in name order: those with sessions are the BGP nodes). */
  readonly table: SessionTable;
}

/**
 * One walk over the sessions: the viable ones go straight into each family's links, and
 * only the broken ones become graph edges (a 1,000-node mesh has half a million viable ones).
 */
function factsOf(c: TopologyCompiler): Facts {
  const configs = c.allConfigs();
  const bgpNodes = [...configs.values()].filter((n) => n.ipv4 !== '' || n.ipv6 !== '').sort((a, b) => (a.node < b.node ? -1 : 1));
  const clusterOf = (n: string): string => configs.get(n)?.clusterId ?? '';
  const t = new SessionTable(configs);
  const links = ([4, 6] as const).map(
    (family) => new SessionLinks(family, bgpNodes.filter((n) => (family === 4 ? n.ipv4 : n.ipv6) !== '').map((n) => n.node), clusterOf, family === 4 ? t.sessions / 2 : 1024),
  );
  const broken: GraphEdge[] = [];
  forEachSession(t, (x, j, y, q, viable) => {
    if (viable) {
      links[t.family(x, j) === 4 ? 0 : 1].addFrom(t, x, j, y, q);
      return;
    }
    const xc = t.nodes[x];
    const yc = t.nodes[y];
    const p = t.peer(x, j);
    const qp = q < 0 ? undefined : t.peer(y, q);
    broken.push(edgeOf(xc, p, yc, qp, viability(xc, p, yc, qp)));
  });
  const reachability = links.filter((l) => l.nodeNames.length >= 2).map(reachabilityOf);
  for (const l of links) l.release();
  return { bgpNodes, broken, reachability, table: t };
}

/**
 * Every warning of the compiled state, errors first. Warning ids do not depend on the
 * tense, so a preview compares states by id.
 */
export function analyze(c: TopologyCompiler, tense: Tense = 'current'): Warning[] {
  const v = (now: string, then: string): string => (tense === 'current' ? now : then);
  const out: Warning[] = [];
  const push = (w: Omit<Warning, 'id'>, subject = ''): void => {
    out.push({ id: `${w.code}|${subject}|${w.nodes.join(',')}|${w.resources.join(',')}`, ...w });
  };
  const { bgpNodes, broken: brokenEdges, reachability, table } = factsOf(c);

  // Nodes with an address but no session at all.
  if (bgpNodes.length > 1) {
    const lonely = bgpNodes.filter((n) => n.peers.length === 0).map((n) => n.node);
    if (lonely.length > 0)
      push({
        code: 'no-sessions',
        severity: 'warning',
        message:
          lonely.length === 1
            ? `${lonely[0]} ${v('has', 'would have')} no BGP session`
            : `${plural(lonely.length, 'node', 'nodes')} ${v('have', 'would have')} no BGP session: ${list(lonely, 10)}`,
        nodes: lonely.slice(0, 20),
        resources: [],
      });
  }

  // Route propagation, per family.
  for (const r of reachability) {
    const family = r.family;
    const names = r.nodes;
    if (r.unreached.size === 0) continue;
    const sources = [...r.unreached.keys()];
    const pairs = [...r.unreached.values()].reduce((sum, l) => sum + l.length, 0);
    const total = names.length * (names.length - 1);
    const hint = !c.settings.meshEnabled ? ' (the node-to-node mesh is disabled: BGPPeers must connect the nodes, e.g. through route reflectors)' : '';
    const [first, missed] = [...r.unreached.entries()][0];
    push({
      code: 'routes-not-propagated',
      severity: 'error',
      message:
        pairs === total
          ? `no node's ${familyName(family)} routes ${v('reach', 'would reach')} any other node: every route between the ${names.length} nodes ${v('is', 'would be')} lost${hint}`
          : `${familyName(family)} routes of ${plural(sources.length, 'node', 'nodes')} ${v('do', 'would')} not reach every other node (${pairs} of ${total} node pairs), e.g. ${first}'s routes ${v('do', 'would')} not reach ${list(missed)}${hint}`,
      nodes: sources.slice(0, 20),
      resources: [],
    }, familyName(family));
  }

  // Sessions that can never come up.
  const broken = new Map<'one-sided-session' | 'impossible-as', GraphEdge[]>();
  for (const e of brokenEdges) {
    if (!e.problemKind) continue;
    let l = broken.get(e.problemKind);
    if (!l) broken.set(e.problemKind, (l = []));
    l.push(e);
  }
  for (const [kind, list0] of broken) {
    const examples = list0.slice(0, 3).map((e) => e.problem);
    const resources = [...new Set(list0.flatMap((e) => [e.a.config, e.b.config].flatMap((p) => p?.sources.filter((s) => s.used && s.resource !== '').map((s) => s.resource) ?? [])))].sort();
    push({
      code: kind,
      severity: 'error',
      message: `${plural(list0.length, 'session', 'sessions')} between nodes ${v('cannot', 'could not')} come up: ${examples.join('; ')}${list0.length > 3 ? '; ...' : ''}`,
      nodes: [...new Set(list0.flatMap((e) => [e.a.node, e.b.node]))].sort().slice(0, 20),
      resources: resources.slice(0, 20),
    });
  }

  // Reserved AS numbers, and peerIP peers without an AS.
  const asProblems: { text: string; node: string; resource: string }[] = [];
  for (const n of bgpNodes) {
    const why = RESERVED_AS.get(n.asNumber);
    if (why) asProblems.push({ text: `${n.node} has AS ${n.asNumber} (${why})`, node: n.node, resource: '' });
  }
  const noAs = new Map<string, string[]>();
  // Sessions are read from the table's flags: their objects are touched only when they matter.
  for (let x = 0; x < table.nodes.length; x++)
    for (let j = 0; j < table.nodes[x].peers.length; j++) {
      if (!table.noPeerNode(x, j)) continue;
      const n = table.nodes[x];
      const p = table.peer(x, j);
      const why = RESERVED_AS.get(p.remoteAs);
      if (!why) continue;
      const res = p.sources.find((s) => s.used)?.resource ?? '';
      const key = `${res}|${p.address}|${p.remoteAs}`;
      let l = noAs.get(key);
      if (!l) noAs.set(key, (l = []));
      l.push(n.node);
    }
  for (const [key, nodesOf] of noAs) {
    const [res, address, as] = key.split('|');
    const reason = as === '0' ? `${res} has no asNumber, so the sessions to ${address} would use AS 0, which BGP forbids (RFC 7607)` : `${res} peers ${address} as AS ${as} (${RESERVED_AS.get(Number(as))})`;
    asProblems.push({ text: `${reason}: ${list(nodesOf)}`, node: nodesOf[0], resource: res });
  }
  if (asProblems.length > 0)
    push({
      code: 'impossible-as',
      severity: 'error',
      message: `${plural(asProblems.length, 'AS number makes', 'AS numbers make')} sessions impossible: ${asProblems
        .slice(0, 3)
        .map((p) => p.text)
        .join('; ')}${asProblems.length > 3 ? '; ...' : ''}`,
      nodes: [...new Set(asProblems.map((p) => p.node))].slice(0, 20),
      resources: [...new Set(asProblems.map((p) => p.resource).filter((r) => r !== ''))].slice(0, 20),
    });

  // Route-reflector clusters with a single reflector.
  const clusters = new Map<string, CompiledNodeConfig[]>();
  for (const n of bgpNodes) {
    if (n.clusterId === '') continue;
    let l = clusters.get(n.clusterId);
    if (!l) clusters.set(n.clusterId, (l = []));
    l.push(n);
  }
  for (const [id, members] of clusters) {
    if (members.length !== 1) continue;
    const rr = members[0];
    const clients = rr.peers.filter((p) => p.rrClient).length;
    if (clients === 0) continue;
    push({
      code: 'single-route-reflector',
      severity: 'warning',
      message: `route reflector cluster ${id} ${v('has', 'would have')} a single reflector (${rr.node}): while it restarts its ${plural(clients, 'client', 'clients')} lose each other's routes; give a second node the same routeReflectorClusterID`,
      nodes: [rr.node],
      resources: [],
    });
  }

  // BGPPeers that produce nothing.
  for (const s of c.peerStates()) {
    const m = s.model;
    let why: string | undefined;
    if (m.unusable) why = `${m.id} produces no peering: ${m.unusable}`;
    else if (s.local !== undefined && m.node !== '' && !c.node(m.node)) why = `${m.id} applies to node ${m.node}, which does not exist`;
    else if (s.local !== undefined && m.nodeSelector && s.local.size === 0) why = `${m.id} applies to no node: its nodeSelector ${JSON.stringify(m.nodeSelectorText)} matches none`;
    else if (m.peerSelector && s.remote.size === 0) why = `${m.id} peers with no node: its peerSelector ${JSON.stringify(m.peerSelectorText)} matches none`;
    if (why) push({ code: 'selector-matches-nothing', severity: 'warning', message: why, nodes: [], resources: [m.id] }, why);
  }

  // The mesh and a BGPPeer towards the same neighbour.
  const overlaps: string[] = [];
  const overlapResources = new Set<string>();
  let overlapCount = 0;
  for (let x = 0; x < table.nodes.length; x++)
    for (let j = 0; j < table.nodes[x].peers.length; j++) {
      if (!table.meshDuplicate(x, j)) continue;
      const n = table.nodes[x];
      const p = table.peer(x, j);
      overlapCount++;
      const res = p.sources.find((s) => s.used)?.resource ?? '';
      overlapResources.add(res);
      if (overlaps.length < 3) overlaps.push(`${n.node} → ${p.peerNode || p.address} by ${res}`);
    }
  if (overlapCount > 0)
    push({
      code: 'duplicate-session',
      severity: 'warning',
      message: `${plural(overlapCount, 'session is', 'sessions are')} produced both by the node-to-node mesh and by a BGPPeer (${overlaps.join(', ')}${overlapCount > 3 ? ', ...' : ''}): Calico would run two BIRD sessions to one neighbour; Tabby runs the BGPPeer's. Disable the mesh once BGPPeers connect the nodes`,
      nodes: [],
      resources: [...overlapResources].sort(),
    });

  // A mesh too large to be sensible.
  if (c.settings.meshEnabled) {
    const meshed = bgpNodes.filter((n) => n.clusterId === '').length;
    if (meshed > LARGE_MESH)
      push({
        code: 'large-mesh',
        severity: 'info',
        message: `the node-to-node mesh ${v('connects', 'would connect')} ${meshed} nodes with ${(meshed * (meshed - 1)) / 2} sessions; beyond about ${LARGE_MESH} nodes use route reflectors (Calico issue #9976)`,
        nodes: [],
        resources: [],
      });
  }

  return out.sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] || (a.code < b.code ? -1 : a.code > b.code ? 1 : a.message < b.message ? -1 : 1));
}

const cache = new WeakMap<TopologyCompiler, { readonly revision: number; readonly warnings: readonly Warning[] }>();

/**
 * {@link analyze} of the current state, computed once per state of the compiler (its
 * revision): Check and the "before" side of every Preview share it until the state changes.
 */
export function currentWarnings(c: TopologyCompiler): readonly Warning[] {
  const hit = cache.get(c);
  if (hit && hit.revision === c.revision) return hit.warnings;
  const warnings = analyze(c, 'current');
  cache.set(c, { revision: c.revision, warnings });
  return warnings;
}
