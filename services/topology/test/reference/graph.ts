// The analysis before issue 17 point 4 (commit 3110940), unchanged but for import paths: the
// oracle of analysis-equivalence.test.ts, which holds the faster implementation to its results.
import { parseIP, type IPFamily } from '@tabby/api';
import { addressSortKey } from '../../src/compile/model.js';
import type { CompiledNodeConfig, CompiledPeer } from '../../src/compile/types.js';

/** One end of a session in the graph. */
export interface GraphEnd {
  /** The node at this end; '' for a router outside the cluster. */
  readonly node: string;
  readonly address: string;
  /** The AS this end presents on the session. */
  readonly as: number;
  /** The session as this end's node configures it (undefined: external, or one-sided). */
  readonly config: CompiledPeer | undefined;
}

/** Why a session between two nodes cannot come up. */
export type ViabilityProblem = 'one-sided-session' | 'impossible-as';

/** A session of the graph: a node and another node or an external router. */
export interface GraphEdge {
  readonly family: IPFamily;
  readonly a: GraphEnd;
  readonly b: GraphEnd;
  readonly nodeToNode: boolean;
  readonly viable: boolean;
  readonly problemKind: ViabilityProblem | undefined;
  readonly problem: string;
}

function ownAddress(c: CompiledNodeConfig, family: IPFamily): string {
  return family === 4 ? c.ipv4 : c.ipv6;
}

/** The sort key of a node's own address of a family (as its peers' `addressKey`). */
function ownKey(x: CompiledNodeConfig, family: IPFamily, cache: Map<string, string>): string {
  const id = `${family}${x.node}`;
  let k = cache.get(id);
  if (k === undefined) {
    const ip = parseIP(ownAddress(x, family));
    k = ip ? addressSortKey(ip.family, ip.value) : '';
    cache.set(id, k);
  }
  return k;
}

/**
 * The session `y` configures back to `x`'s address, preferring one aimed at x's listen
 * port. Sessions are sorted by address key, so this is a binary search.
 */
function sessionBack(y: CompiledNodeConfig, x: CompiledNodeConfig, key: string): CompiledPeer | undefined {
  const peers = y.peers;
  let lo = 0;
  let hi = peers.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (peers[mid].addressKey < key) lo = mid + 1;
    else hi = mid;
  }
  let found: CompiledPeer | undefined;
  for (let i = lo; i < peers.length && peers[i].addressKey === key; i++) {
    if (peers[i].port === x.listenPort) return peers[i];
    found ??= peers[i];
  }
  return found;
}

/**
 * Whether a session between two nodes can come up: both must configure it, each must
 * expect the AS the other presents, and at least one must dial the port the other listens on.
 */
export function viability(
  x: CompiledNodeConfig,
  p: CompiledPeer,
  y: CompiledNodeConfig,
  q: CompiledPeer | undefined,
): { kind: ViabilityProblem; problem: string } | undefined {
  const xa = ownAddress(x, p.family);
  if (!q && p.remoteAs !== y.asNumber)
    return {
      kind: 'impossible-as',
      problem: `${x.node} expects AS ${p.remoteAs} from ${y.node} (${p.address}), whose AS is ${y.asNumber}: the OPEN is refused (Bad Peer AS), and ${y.node} has no session back`,
    };
  if (!q) return { kind: 'one-sided-session', problem: `${y.node} has no session to ${x.node} (${xa}), so ${x.node}'s session to ${y.node} (${p.address}) never comes up` };
  if (p.remoteAs !== q.localAs)
    return { kind: 'impossible-as', problem: `${x.node} expects AS ${p.remoteAs} from ${y.node} (${p.address}), which presents AS ${q.localAs}: the OPEN is refused (Bad Peer AS)` };
  if (q.remoteAs !== p.localAs)
    return { kind: 'impossible-as', problem: `${y.node} expects AS ${q.remoteAs} from ${x.node} (${xa}), which presents AS ${p.localAs}: the OPEN is refused (Bad Peer AS)` };
  const xDials = !p.passive && p.port === y.listenPort;
  const yDials = !q.passive && q.port === x.listenPort;
  if (xDials || yDials) return undefined;
  if (p.passive && q.passive) return { kind: 'one-sided-session', problem: `${x.node} and ${y.node} both wait for the other to connect (passive on both ends)` };
  const wrong = !p.passive ? `${x.node} dials ${y.node} on port ${p.port} but it listens on ${y.listenPort}` : `${y.node} dials ${x.node} on port ${q.port} but it listens on ${x.listenPort}`;
  return { kind: 'one-sided-session', problem: `no side can connect: ${wrong}` };
}

/** The node at a session's address, if that node exists and has the address. */
export function peerNodeOf(p: CompiledPeer, configs: ReadonlyMap<string, CompiledNodeConfig>): CompiledNodeConfig | undefined {
  if (p.peerNode === '') return undefined;
  const y = configs.get(p.peerNode);
  return y && ownAddress(y, p.family) === p.address ? y : undefined;
}

/**
 * The session graph: one edge per node pair and family (both ends' configurations, and
 * whether the session can come up) and one per node-to-external-router session. Edges are
 * ordered by node name; `a` is the first node that configures the session.
 */
export function sessionGraph(configs: ReadonlyMap<string, CompiledNodeConfig>, only?: string): GraphEdge[] {
  const names = [...configs.keys()].sort();
  const keys = new Map<string, string>();
  const edges: GraphEdge[] = [];
  for (const name of names) {
    const x = configs.get(name) as CompiledNodeConfig;
    const k4 = ownKey(x, 4, keys);
    const k6 = ownKey(x, 6, keys);
    for (const p of x.peers) {
      const xa = ownAddress(x, p.family);
      const y = peerNodeOf(p, configs);
      if (!y) {
        if (only === undefined || only === x.node)
          edges.push({
            family: p.family,
            a: { node: x.node, address: xa, as: p.localAs, config: p },
            b: { node: '', address: p.address, as: p.remoteAs, config: undefined },
            nodeToNode: false,
            viable: true,
            problemKind: undefined,
            problem: '',
          });
        continue;
      }
      if (only !== undefined && only !== x.node && only !== y.node) continue;
      const q = sessionBack(y, x, p.family === 4 ? k4 : k6);
      // A session both ends configure is listed once, from the end whose name sorts first.
      if (q && y.node < x.node) continue;
      const v = viability(x, p, y, q);
      edges.push({
        family: p.family,
        a: { node: x.node, address: xa, as: p.localAs, config: p },
        b: { node: y.node, address: p.address, as: q?.localAs ?? p.remoteAs, config: q },
        nodeToNode: true,
        viable: v === undefined,
        problemKind: v?.kind,
        problem: v?.problem ?? '',
      });
    }
  }
  return edges;
}
