/**
 * Where each node's routes can go, by the rules BGP speakers follow:
 *
 * - a route a node originates or learns over eBGP goes to every peer;
 * - a route learned over iBGP is not passed to other iBGP peers (RFC 4271 §9.2), except
 *   by a route reflector (RFC 4456 §6): from a client to everyone, from a non-client to
 *   its clients only; reflecting adds the reflector's cluster id to the CLUSTER_LIST and a
 *   reflector drops a route that already carries its own cluster id (§8) — which is why
 *   clients of different reflectors sharing one cluster id lose each other's routes
 *   (Calico issue #2735);
 * - a speaker drops a route whose AS_PATH holds its own AS (loop prevention), unless the
 *   session allows it (numAllowedLocalASNumbers).
 *
 * Only sessions that can come up count (see viability). Routers outside the cluster are
 * assumed to pass on what they learn (an iBGP one as a route reflector would): the
 * analysis cannot see their configuration, and this keeps it from crying wolf.
 */
import type { IPFamily } from '@tabby/api';
import type { GraphEdge } from './graph.js';

interface Link {
  readonly to: number;
  readonly ibgp: boolean;
  /** `from` treats `to` as its route-reflector client. */
  readonly toIsClient: boolean;
  /** `to` treats `from` as its client. */
  readonly fromIsClient: boolean;
  /** AS of the sender and the receiver on this session (bit indices, -1 when untracked). */
  readonly fromAsBit: number;
  readonly toAsBit: number;
  /** The receiver (the sender) accepts its own AS in the path. */
  readonly toAllowsOwnAs: boolean;
  readonly fromAllowsOwnAs: boolean;
}

interface Router {
  readonly name: string;
  readonly node: boolean;
  /** Bit of the cluster id when the router is a node that reflects; -1 otherwise. */
  readonly clusterBit: number;
  readonly links: Link[];
}

/** Reachability of one family's routes between nodes. */
export interface Reachability {
  readonly family: IPFamily;
  /** Nodes taking part (with an address of the family), sorted. */
  readonly nodes: readonly string[];
  /** For each node, the nodes its routes do not reach (sorted); absent when it reaches all. */
  readonly unreached: ReadonlyMap<string, readonly string[]>;
}

const ORIGIN = 0;
const EBGP = 1;
const FROM_CLIENT = 2;
const FROM_NON_CLIENT = 3;
const MAX_BITS = 15;

class BitIndex {
  private readonly bits = new Map<string | number, number>();
  of(value: string | number): number {
    let b = this.bits.get(value);
    if (b === undefined) {
      b = this.bits.size < MAX_BITS ? this.bits.size : -1;
      this.bits.set(value, b);
    }
    return b;
  }
}

const bit = (b: number): number => (b < 0 ? 0 : 1 << b);

/** Builds the routers and links of one family from the viable sessions of the graph. */
function buildRouters(edges: readonly GraphEdge[], family: IPFamily, nodeNames: readonly string[], clusterOf: (node: string) => string): Router[] {
  const asBits = new BitIndex();
  const clusterBits = new BitIndex();
  const index = new Map<string, number>();
  const routers: Router[] = [];
  const routerOf = (key: string, name: string, node: boolean): number => {
    let i = index.get(key);
    if (i === undefined) {
      i = routers.length;
      index.set(key, i);
      const cluster = node ? clusterOf(name) : '';
      routers.push({ name, node, clusterBit: cluster === '' ? -1 : clusterBits.of(cluster), links: [] });
    }
    return i;
  };
  for (const n of nodeNames) routerOf(`n:${n}`, n, true);
  for (const e of edges) {
    if (e.family !== family || !e.viable) continue;
    const a = routerOf(`n:${e.a.node}`, e.a.node, true);
    const b = e.nodeToNode ? routerOf(`n:${e.b.node}`, e.b.node, true) : routerOf(`x:${e.b.address}:${e.a.config?.port ?? 179}`, e.b.address, false);
    const ibgp = e.a.as === e.b.as;
    const aClientOfB = e.b.config?.rrClient ?? (!e.nodeToNode && ibgp);
    const bClientOfA = e.a.config?.rrClient ?? false;
    const aAs = asBits.of(e.a.as);
    const bAs = asBits.of(e.b.as);
    const aAllows = (e.a.config?.numAllowedLocalAS ?? 0) > 0;
    const bAllows = e.nodeToNode && (e.b.config?.numAllowedLocalAS ?? 0) > 0;
    routers[a].links.push({
      to: b,
      ibgp,
      toIsClient: bClientOfA,
      fromIsClient: aClientOfB,
      fromAsBit: aAs,
      toAsBit: bAs,
      toAllowsOwnAs: bAllows,
      fromAllowsOwnAs: aAllows,
    });
    routers[b].links.push({
      to: a,
      ibgp,
      toIsClient: aClientOfB,
      fromIsClient: bClientOfA,
      fromAsBit: bAs,
      toAsBit: aAs,
      toAllowsOwnAs: aAllows,
      fromAllowsOwnAs: bAllows,
    });
  }
  return routers;
}

/** A signature such that two nodes with equal signatures are interchangeable in the graph. */
function signature(routers: readonly Router[], i: number): string {
  const r = routers[i];
  const links = r.links.map((l) => `${l.to}:${l.ibgp ? 1 : 0}${l.toIsClient ? 1 : 0}${l.fromIsClient ? 1 : 0}:${l.fromAsBit}:${l.toAsBit}:${l.toAllowsOwnAs ? 1 : 0}${l.fromAllowsOwnAs ? 1 : 0}`).sort();
  return `${r.clusterBit}|${links.join(',')}`;
}

/** The routers a route originated by `source` reaches (by index). */
function reach(routers: readonly Router[], source: number): Uint8Array {
  const reached = new Uint8Array(routers.length);
  // Visited states: router × how the route arrived, with the AS and cluster masks it carried.
  const seen = new Map<number, Set<number>>();
  const queue: number[] = [source, ORIGIN, 0];
  for (let head = 0; head < queue.length; head += 3) {
    const at = queue[head];
    const via = queue[head + 1];
    const masks = queue[head + 2];
    const asMask = Math.floor(masks / 65536);
    const clusterMask = masks % 65536;
    const from = routers[at];
    for (const l of from.links) {
      if (l.to === source) continue;
      if (from.node && via === FROM_NON_CLIENT && l.ibgp && !l.toIsClient) continue;
      if (from.node && via === FROM_CLIENT && from.clusterBit < 0 && l.ibgp) continue;
      let nextAs = asMask;
      let nextCluster = clusterMask;
      let nextVia: number;
      const to = routers[l.to];
      if (l.ibgp) {
        const reflecting = from.node && (via === FROM_CLIENT || via === FROM_NON_CLIENT);
        if (reflecting) nextCluster |= bit(from.clusterBit);
        if (to.clusterBit >= 0 && (nextCluster & bit(to.clusterBit)) !== 0) continue;
        nextVia = l.fromIsClient ? FROM_CLIENT : FROM_NON_CLIENT;
      } else {
        nextAs |= bit(l.fromAsBit);
        if (l.toAsBit >= 0 && (nextAs & bit(l.toAsBit)) !== 0 && !l.toAllowsOwnAs) continue;
        nextCluster = 0;
        nextVia = EBGP;
      }
      const state = l.to * 4 + nextVia;
      const combined = nextAs * 65536 + nextCluster;
      let s = seen.get(state);
      if (!s) seen.set(state, (s = new Set()));
      if (s.has(combined)) continue;
      s.add(combined);
      reached[l.to] = 1;
      queue.push(l.to, nextVia, combined);
    }
  }
  return reached;
}

/**
 * For one family: which nodes' routes fail to reach which other nodes. Nodes with the same
 * neighbours and session roles are analysed once (their results are the same up to
 * swapping the two), so a cluster of thousands of route-reflector clients costs a handful
 * of traversals.
 */
export function routeReachability(edges: readonly GraphEdge[], family: IPFamily, nodeNames: readonly string[], clusterOf: (node: string) => string): Reachability {
  const routers = buildRouters(edges, family, nodeNames, clusterOf);
  const nodeCount = nodeNames.length;
  const unreached = new Map<string, readonly string[]>();
  const classes = new Map<string, { rep: number; missing: number[] }>();
  for (let i = 0; i < nodeCount; i++) {
    const sig = signature(routers, i);
    const cls = classes.get(sig);
    let missing: number[];
    if (!cls) {
      const r = reach(routers, i);
      missing = [];
      for (let j = 0; j < nodeCount; j++) if (j !== i && r[j] === 0) missing.push(j);
      classes.set(sig, { rep: i, missing });
    } else {
      // Swap the representative and this node in the representative's result.
      missing = cls.missing.map((j) => (j === i ? cls.rep : j));
    }
    if (missing.length > 0) unreached.set(nodeNames[i], missing.map((j) => nodeNames[j]).sort());
  }
  return { family, nodes: nodeNames, unreached };
}
