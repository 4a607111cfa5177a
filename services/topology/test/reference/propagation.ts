// The analysis before issue 17 point 4 (commit 3110940), unchanged but for import paths: the
// oracle of analysis-equivalence.test.ts, which holds the faster implementation to its results.
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
  /** The links a route learned from an iBGP non-client may take: eBGP, and iBGP to clients. */
  readonly onward: Link[];
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
      routers.push({ name, node, clusterBit: cluster === '' ? -1 : clusterBits.of(cluster), links: [], onward: [] });
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
  for (const r of routers) for (const l of r.links) if (!l.ibgp || l.toIsClient) r.onward.push(l);
  return routers;
}

/** A link as a number: neighbour index and every attribute that matters (exact, no collisions). */
function linkCode(l: Link): number {
  const flags =
    (l.ibgp ? 1 : 0) | (l.toIsClient ? 2 : 0) | (l.fromIsClient ? 4 : 0) | (l.toAllowsOwnAs ? 8 : 0) | (l.fromAllowsOwnAs ? 16 : 0);
  // 5 flag bits, 5 bits per AS bit index (+1, -1 means untracked), then the neighbour.
  return ((l.to * 32 + (l.fromAsBit + 1)) * 32 + (l.toAsBit + 1)) * 32 + flags;
}

/**
 * Two nodes with equal signatures (same cluster, same neighbours over sessions of the same
 * roles) are interchangeable in the graph. The signature is a sorted array of link codes;
 * `fingerprint` groups candidates cheaply before the arrays are compared.
 */
interface Signature {
  readonly fingerprint: string;
  readonly codes: Float64Array;
}

function signature(routers: readonly Router[], i: number): Signature {
  const r = routers[i];
  const codes = new Float64Array(r.links.length);
  let sum = 0;
  let mix = 0;
  for (let k = 0; k < r.links.length; k++) {
    const c = linkCode(r.links[k]);
    codes[k] = c;
    sum = (sum + c) % 4294967291;
    mix = (mix + Math.imul((c % 4294967296) ^ 0x9e3779b9, 0x85ebca6b)) | 0;
  }
  codes.sort();
  return { fingerprint: `${r.clusterBit}|${r.links.length}|${sum}|${mix}`, codes };
}

function sameCodes(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The routers a route originated by `source` reaches (by index). */
function reach(routers: readonly Router[], source: number): Uint8Array {
  const reached = new Uint8Array(routers.length);
  // Visited states: router × how the route arrived, with the AS and cluster masks it carried.
  // The first masks seen per state sit in a typed array; other masks (rare) in a map.
  const first = new Float64Array(routers.length * 4).fill(-1);
  let extra: Map<number, Set<number>> | undefined;
  const visit = (state: number, masks: number): boolean => {
    const f = first[state];
    if (f === -1) {
      first[state] = masks;
      return true;
    }
    if (f === masks) return false;
    extra ??= new Map();
    let s = extra.get(state);
    if (!s) extra.set(state, (s = new Set()));
    if (s.has(masks)) return false;
    s.add(masks);
    return true;
  };
  const queue: number[] = [source, ORIGIN, 0];
  for (let head = 0; head < queue.length; head += 3) {
    const at = queue[head];
    const via = queue[head + 1];
    const masks = queue[head + 2];
    const asMask = Math.floor(masks / 65536);
    const clusterMask = masks % 65536;
    const from = routers[at];
    // A node passes a route learned from an iBGP non-client only over eBGP and to its clients.
    const links = from.node && via === FROM_NON_CLIENT ? from.onward : from.links;
    for (const l of links) {
      if (l.to === source) continue;
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
      const combined = nextAs * 65536 + nextCluster;
      if (!visit(l.to * 4 + nextVia, combined)) continue;
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
  const classes = new Map<string, { rep: number; codes: Float64Array; missing: number[] }[]>();
  for (let i = 0; i < nodeCount; i++) {
    const sig = signature(routers, i);
    let group = classes.get(sig.fingerprint);
    if (!group) classes.set(sig.fingerprint, (group = []));
    const cls = group.find((c) => sameCodes(c.codes, sig.codes));
    let missing: number[];
    if (!cls) {
      const r = reach(routers, i);
      missing = [];
      for (let j = 0; j < nodeCount; j++) if (j !== i && r[j] === 0) missing.push(j);
      group.push({ rep: i, codes: sig.codes, missing });
    } else {
      // Swap the representative and this node in the representative's result.
      missing = cls.missing.map((j) => (j === i ? cls.rep : j));
    }
    if (missing.length > 0) unreached.set(nodeNames[i], missing.map((j) => nodeNames[j]).sort());
  }
  return { family, nodes: nodeNames, unreached };
}
