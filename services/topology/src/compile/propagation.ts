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
import type { CompiledPeer } from './types.js';
import type { GraphEdge, SessionTable } from './graph.js';

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

// Link flags (also the low bits of a link's code in a signature).
const L_IBGP = 1;
/** `from` treats `to` as its route-reflector client. */
const L_TO_IS_CLIENT = 2;
/** `to` treats `from` as its client. */
const L_FROM_IS_CLIENT = 4;
/** The receiver accepts its own AS in the path. */
const L_TO_ALLOWS_OWN_AS = 8;
/** The sender accepts its own AS in the path. */
const L_FROM_ALLOWS_OWN_AS = 16;

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

type Typed = Int32Array | Uint8Array | Int8Array;

/**
 * Typed arrays reused from one analysis to the next (grown, never shrunk). An analysis of a
 * 1,000-node mesh needs some 15 MB of them; allocated afresh each time they made the
 * collector run full collections of the whole compiled state (hundreds of MB) during every
 * Check. An array is leased: while one user holds it, another gets a fresh one.
 */
class Pool {
  private readonly arrays = new Map<string, { array: Typed; leased: boolean }>();

  /** An array of at least `n` elements (contents undefined) and its release. */
  lease<T extends Typed>(name: string, n: number, make: (n: number) => T): T {
    const e = this.arrays.get(name);
    if (e && !e.leased && e.array.length >= n) {
      e.leased = true;
      return e.array as T;
    }
    if (e?.leased) return make(n);
    const array = make(Math.max(n, Math.ceil((e?.array.length ?? 0) * 1.5)));
    this.arrays.set(name, { array, leased: true });
    return array;
  }

  release(name: string, array: Typed): void {
    const e = this.arrays.get(name);
    if (e?.array === array) e.leased = false;
  }
}

const pool = new Pool();
const int32 = (n: number): Int32Array => new Int32Array(n);
const uint8 = (n: number): Uint8Array => new Uint8Array(n);
const int8 = (n: number): Int8Array => new Int8Array(n);

/**
 * The routers and viable sessions of one family, recorded session by session (in the
 * graph's order, which decides which AS numbers and cluster ids get one of the 15 tracked
 * bits) into flat arrays: a 1,000-node mesh has half a million sessions, and an object per
 * link costs more than the propagation itself.
 */
export class SessionLinks {
  private readonly asBits = new BitIndex();
  private readonly clusterBits = new BitIndex();
  private readonly nodeIndex = new Map<string, number>();
  private readonly externalIndex = new Map<string, number>();
  readonly names: string[] = [];
  readonly isNode: boolean[] = [];
  /** Bit of the cluster id when the router is a node that reflects; -1 otherwise. */
  readonly clusterBit: number[] = [];
  // One entry per session: its ends, flags as seen from `a`, and the AS bits of both ends.
  // Typed, from the pool, grown by doubling.
  private ea: Int32Array;
  private eb: Int32Array;
  private eflags: Uint8Array;
  private eas: Int32Array;
  private count = 0;

  constructor(
    readonly family: IPFamily,
    readonly nodeNames: readonly string[],
    private readonly clusterOf: (node: string) => string,
    /** How many sessions to expect (room is made for them at once). */
    capacity = 1024,
  ) {
    for (const n of nodeNames) this.nodeRouter(n);
    const room = Math.max(capacity, 16);
    this.ea = pool.lease(`ea${family}`, room, int32);
    this.eb = pool.lease(`eb${family}`, room, int32);
    this.eflags = pool.lease(`eflags${family}`, room, uint8);
    this.eas = pool.lease(`eas${family}`, room, int32);
  }

  private grow(capacity: number): void {
    const more = <T extends Typed>(a: T, make: (n: number) => T): T => {
      const b = make(capacity);
      b.set(a.subarray(0, this.count));
      return b;
    };
    const [ea, eb, eflags, eas] = [more(this.ea, int32), more(this.eb, int32), more(this.eflags, uint8), more(this.eas, int32)];
    // The pooled arrays go back (the pool keeps them); the larger ones are this object's own.
    this.release();
    [this.ea, this.eb, this.eflags, this.eas] = [ea, eb, eflags, eas];
  }

  /** Gives the session arrays back to the pool (after {@link graph}, which copies them). */
  release(): void {
    pool.release(`ea${this.family}`, this.ea);
    pool.release(`eb${this.family}`, this.eb);
    pool.release(`eflags${this.family}`, this.eflags);
    pool.release(`eas${this.family}`, this.eas);
  }

  private router(name: string, node: boolean): number {
    const i = this.names.length;
    const cluster = node ? this.clusterOf(name) : '';
    this.names.push(name);
    this.isNode.push(node);
    this.clusterBit.push(cluster === '' ? -1 : this.clusterBits.of(cluster));
    return i;
  }

  private nodeRouter(name: string): number {
    let i = this.nodeIndex.get(name);
    if (i === undefined) this.nodeIndex.set(name, (i = this.router(name, true)));
    return i;
  }

  private externalRouter(address: string, port: number): number {
    const key = `${address}:${port}`;
    let i = this.externalIndex.get(key);
    if (i === undefined) this.externalIndex.set(key, (i = this.router(address, false)));
    return i;
  }

  /**
   * A viable session of this family: node `a` configures `p`; `b` is the node at the other
   * end ('' for a router outside the cluster), which configures `q` back.
   */
  add(a: string, p: CompiledPeer, b: string, q: CompiledPeer | undefined): void {
    const nodeToNode = b !== '';
    this.addRouters(
      this.nodeRouter(a),
      nodeToNode ? this.nodeRouter(b) : this.externalRouter(p.address, p.port),
      nodeToNode,
      p.localAs,
      nodeToNode ? (q?.localAs ?? p.remoteAs) : p.remoteAs,
      q?.rrClient,
      p.rrClient,
      p.numAllowedLocalAS > 0,
      nodeToNode && (q?.numAllowedLocalAS ?? 0) > 0,
    );
  }

  /** {@link add} from a {@link SessionTable}: x's session j to y (-1: outside), q back (-1: none). */
  addFrom(t: SessionTable, x: number, j: number, y: number, q: number): void {
    const nodeToNode = y >= 0;
    const back = nodeToNode && q >= 0;
    this.addRouters(
      this.routerOfTable(t, x),
      nodeToNode ? this.routerOfTable(t, y) : this.externalRouter(t.peer(x, j).address, t.port(x, j)),
      nodeToNode,
      t.localAs(x, j),
      back ? t.localAs(y, q) : t.remoteAs(x, j),
      back ? t.rrClient(y, q) : undefined,
      t.rrClient(x, j),
      t.allowsOwnAs(x, j),
      back && t.allowsOwnAs(y, q),
    );
  }

  /** Router of the table's node i (cached by index: a name lookup per session adds up). */
  private routerOfTable(t: SessionTable, i: number): number {
    if (this.table !== t) {
      this.table = t;
      this.tableRouters = new Int32Array(t.nodes.length).fill(-1);
    }
    let r = this.tableRouters[i];
    if (r < 0) this.tableRouters[i] = r = this.nodeRouter(t.nodes[i].node);
    return r;
  }

  private table: SessionTable | undefined;
  private tableRouters = new Int32Array(0);

  private addRouters(ai: number, bi: number, nodeToNode: boolean, aAs: number, bAs: number, qRrClient: boolean | undefined, pRrClient: boolean, aAllows: boolean, bAllows: boolean): void {
    const ibgp = aAs === bAs;
    const aClientOfB = qRrClient ?? (!nodeToNode && ibgp);
    const bClientOfA = pRrClient;
    if (this.count === this.ea.length) this.grow(this.count * 2);
    const e = this.count++;
    this.ea[e] = ai;
    this.eb[e] = bi;
    this.eflags[e] = (ibgp ? L_IBGP : 0) | (bClientOfA ? L_TO_IS_CLIENT : 0) | (aClientOfB ? L_FROM_IS_CLIENT : 0) | (bAllows ? L_TO_ALLOWS_OWN_AS : 0) | (aAllows ? L_FROM_ALLOWS_OWN_AS : 0);
    this.eas[e] = (this.asBit(aAs) + 1) * 32 + (this.asBit(bAs) + 1);
  }

  /** The AS's tracked bit; the last one is remembered (most sessions repeat it). */
  private asBit(as: number): number {
    if (as === this.lastAs) return this.lastAsBit;
    this.lastAs = as;
    this.lastAsBit = this.asBits.of(as);
    return this.lastAsBit;
  }

  private lastAs = -1;
  private lastAsBit = -1;

  /** The links of every router, each session once in each direction (compressed rows). */
  graph(): RouterGraph {
    const n = this.names.length;
    const start = new Int32Array(n + 1);
    const m = this.count;
    for (let e = 0; e < m; e++) {
      start[this.ea[e] + 1]++;
      start[this.eb[e] + 1]++;
    }
    for (let i = 0; i < n; i++) start[i + 1] += start[i];
    const fill = start.slice(0, n);
    const to = pool.lease('to', 2 * m, int32);
    const flags = pool.lease('flags', 2 * m, uint8);
    const fromAs = pool.lease('fromAs', 2 * m, int8);
    const toAs = pool.lease('toAs', 2 * m, int8);
    for (let e = 0; e < m; e++) {
      const a = this.ea[e];
      const b = this.eb[e];
      const f = this.eflags[e];
      const aAs = ((this.eas[e] / 32) | 0) - 1;
      const bAs = (this.eas[e] % 32) - 1;
      let k = fill[a]++;
      to[k] = b;
      flags[k] = f;
      fromAs[k] = aAs;
      toAs[k] = bAs;
      // The other direction: client roles and own-AS acceptance swap ends.
      k = fill[b]++;
      to[k] = a;
      flags[k] =
        (f & L_IBGP) |
        (f & L_FROM_IS_CLIENT ? L_TO_IS_CLIENT : 0) |
        (f & L_TO_IS_CLIENT ? L_FROM_IS_CLIENT : 0) |
        (f & L_FROM_ALLOWS_OWN_AS ? L_TO_ALLOWS_OWN_AS : 0) |
        (f & L_TO_ALLOWS_OWN_AS ? L_FROM_ALLOWS_OWN_AS : 0);
      fromAs[k] = bAs;
      toAs[k] = aAs;
    }
    // The links a route learned from an iBGP non-client may take: eBGP, and iBGP to clients.
    const onwardStart = new Int32Array(n + 1);
    let count = 0;
    for (let k = 0; k < 2 * m; k++) if ((flags[k] & L_IBGP) === 0 || (flags[k] & L_TO_IS_CLIENT) !== 0) count++;
    const onward = pool.lease('onward', count, int32);
    count = 0;
    for (let i = 0; i < n; i++) {
      onwardStart[i] = count;
      for (let k = start[i]; k < start[i + 1]; k++) if ((flags[k] & L_IBGP) === 0 || (flags[k] & L_TO_IS_CLIENT) !== 0) onward[count++] = k;
    }
    onwardStart[n] = count;
    return { size: n, isNode: this.isNode, clusterBit: this.clusterBit, start, to, flags, fromAs, toAs, onwardStart, onward };
  }
}

/** Gives a graph's link arrays back to the pool (once the analysis is done with it). */
function releaseGraph(g: RouterGraph): void {
  pool.release('to', g.to);
  pool.release('flags', g.flags);
  pool.release('fromAs', g.fromAs);
  pool.release('toAs', g.toAs);
  pool.release('onward', g.onward);
}

/** Routers and their links in compressed rows: router i's links are start[i] .. start[i+1]-1. */
interface RouterGraph {
  readonly size: number;
  readonly isNode: readonly boolean[];
  readonly clusterBit: readonly number[];
  readonly start: Int32Array;
  readonly to: Int32Array;
  readonly flags: Uint8Array;
  /** AS bit indices of the sender and the receiver (-1 when untracked). */
  readonly fromAs: Int8Array;
  readonly toAs: Int8Array;
  /** Per router, the indices of its links that are eBGP or to a client: onward[onwardStart[i]] .. */
  readonly onwardStart: Int32Array;
  readonly onward: Int32Array;
}

/** A link as a number: neighbour index and every attribute that matters (exact, no collisions). */
function linkCode(g: RouterGraph, k: number): number {
  // 5 flag bits, 5 bits per AS bit index (+1, -1 means untracked), then the neighbour.
  return ((g.to[k] * 32 + (g.fromAs[k] + 1)) * 32 + (g.toAs[k] + 1)) * 32 + g.flags[k];
}

/**
 * Two nodes with equal signatures (same cluster, same neighbours over sessions of the same
 * roles) are interchangeable in the graph. The signature is the sorted array of link codes,
 * built only when two `fingerprint`s (an order-free hash of the codes) collide.
 */
function fingerprint(g: RouterGraph, i: number): string {
  // Two order-free sums of 32-bit hashes of (neighbour, attributes): integer arithmetic only.
  let sum = 0;
  let mix = 0;
  for (let k = g.start[i]; k < g.start[i + 1]; k++) {
    const attrs = ((g.fromAs[k] + 1) * 32 + (g.toAs[k] + 1)) * 32 + g.flags[k];
    const h = Math.imul(g.to[k], 0x9e3779b1) ^ Math.imul(attrs + 1, 0x85ebca77);
    sum = (sum + h) | 0;
    mix = (mix + Math.imul(h ^ (h >>> 15), 0x2c1b3c6d)) | 0;
  }
  return `${g.clusterBit[i]}|${g.start[i + 1] - g.start[i]}|${sum}|${mix}`;
}

function codes(g: RouterGraph, i: number): Float64Array {
  const out = new Float64Array(g.start[i + 1] - g.start[i]);
  for (let k = g.start[i]; k < g.start[i + 1]; k++) out[k - g.start[i]] = linkCode(g, k);
  return out.sort();
}

function sameCodes(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Scratch space of {@link reach}, reused across sources: the first masks seen per state
 * (-1: none), the queue, and the routers reached. Integers in typed arrays: a traversal of a
 * 1,000-node mesh visits a thousand states, a Check a million, and boxed numbers in plain
 * arrays made most of its garbage.
 */
class Visited {
  private readonly first: Int32Array;
  private touched: Int32Array = new Int32Array(1024);
  private touchedCount = 0;
  private extra: Map<number, Set<number>> | undefined;
  queue: Int32Array = new Int32Array(3 * 1024);
  readonly reached: Uint8Array;

  constructor(states: number, routers: number) {
    this.first = new Int32Array(states).fill(-1);
    this.reached = new Uint8Array(routers);
  }

  /** Whether (state, masks) is new; records it. Other masks than the first (rare) sit in a map. */
  visit(state: number, masks: number): boolean {
    const f = this.first[state];
    if (f === -1) {
      this.first[state] = masks;
      if (this.touchedCount === this.touched.length) {
        const more = new Int32Array(this.touched.length * 2);
        more.set(this.touched);
        this.touched = more;
      }
      this.touched[this.touchedCount++] = state;
      return true;
    }
    if (f === masks) return false;
    this.extra ??= new Map();
    let s = this.extra.get(state);
    if (!s) this.extra.set(state, (s = new Set()));
    if (s.has(masks)) return false;
    s.add(masks);
    return true;
  }

  /** Room for `n` queue entries. */
  room(n: number): Int32Array {
    if (n > this.queue.length) {
      const more = new Int32Array(Math.max(n, this.queue.length * 2));
      more.set(this.queue);
      this.queue = more;
    }
    return this.queue;
  }

  reset(): void {
    for (let i = 0; i < this.touchedCount; i++) this.first[this.touched[i]] = -1;
    this.touchedCount = 0;
    this.extra = undefined;
    this.reached.fill(0);
  }
}

/**
 * The routers a route originated by `source` reaches (by index; valid until the next call).
 * States are router × how the route arrived, with the AS and cluster masks it carried (AS
 * bits << 16 | cluster bits: 15 bits each, a non-negative int32).
 */
function reach(g: RouterGraph, source: number, visited: Visited): Uint8Array {
  const reached = visited.reached;
  visited.reset();
  let queue = visited.queue;
  queue[0] = source;
  queue[1] = ORIGIN;
  queue[2] = 0;
  let tail = 3;
  for (let head = 0; head < tail; head += 3) {
    const at = queue[head];
    const via = queue[head + 1];
    const masks = queue[head + 2];
    const asMask = masks >>> 16;
    const clusterMask = masks & 0xffff;
    const fromNode = g.isNode[at];
    const fromCluster = g.clusterBit[at];
    // A node passes a route learned from an iBGP non-client only over eBGP and to its clients.
    const onwardOnly = fromNode && via === FROM_NON_CLIENT;
    const end = onwardOnly ? g.onwardStart[at + 1] : g.start[at + 1];
    for (let j = onwardOnly ? g.onwardStart[at] : g.start[at]; j < end; j++) {
      const k = onwardOnly ? g.onward[j] : j;
      const lto = g.to[k];
      if (lto === source) continue;
      const f = g.flags[k];
      const ibgp = (f & L_IBGP) !== 0;
      if (fromNode && via === FROM_CLIENT && fromCluster < 0 && ibgp) continue;
      let nextAs = asMask;
      let nextCluster = clusterMask;
      let nextVia: number;
      if (ibgp) {
        const reflecting = fromNode && (via === FROM_CLIENT || via === FROM_NON_CLIENT);
        if (reflecting) nextCluster |= bit(fromCluster);
        const toCluster = g.clusterBit[lto];
        if (toCluster >= 0 && (nextCluster & bit(toCluster)) !== 0) continue;
        nextVia = (f & L_FROM_IS_CLIENT) !== 0 ? FROM_CLIENT : FROM_NON_CLIENT;
      } else {
        nextAs |= bit(g.fromAs[k]);
        const toAs = g.toAs[k];
        if (toAs >= 0 && (nextAs & bit(toAs)) !== 0 && (f & L_TO_ALLOWS_OWN_AS) === 0) continue;
        nextCluster = 0;
        nextVia = EBGP;
      }
      const combined = (nextAs << 16) | nextCluster;
      if (!visited.visit(lto * 4 + nextVia, combined)) continue;
      reached[lto] = 1;
      if (tail + 3 > queue.length) queue = visited.room(tail + 3);
      queue[tail] = lto;
      queue[tail + 1] = nextVia;
      queue[tail + 2] = combined;
      tail += 3;
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
export function reachabilityOf(links: SessionLinks): Reachability {
  const g = links.graph();
  links.release();
  try {
    return reachabilityIn(g, links);
  } finally {
    releaseGraph(g);
  }
}

function reachabilityIn(g: RouterGraph, links: SessionLinks): Reachability {
  const nodeNames = links.nodeNames;
  const nodeCount = nodeNames.length;
  const unreached = new Map<string, readonly string[]>();
  const classes = new Map<string, { rep: number; codes: Float64Array | undefined; missing: number[] }[]>();
  const visited = new Visited(g.size * 4, g.size);
  for (let i = 0; i < nodeCount; i++) {
    const fp = fingerprint(g, i);
    let group = classes.get(fp);
    if (!group) classes.set(fp, (group = []));
    let cls: { rep: number; codes: Float64Array | undefined; missing: number[] } | undefined;
    if (group.length > 0) {
      const mine = codes(g, i);
      cls = group.find((c) => sameCodes((c.codes ??= codes(g, c.rep)), mine));
    }
    let missing: number[];
    if (!cls) {
      const r = reach(g, i, visited);
      missing = [];
      for (let j = 0; j < nodeCount; j++) if (j !== i && r[j] === 0) missing.push(j);
      group.push({ rep: i, codes: undefined, missing });
    } else {
      // Swap the representative and this node in the representative's result.
      const rep = cls.rep;
      missing = cls.missing.map((j) => (j === i ? rep : j));
    }
    if (missing.length > 0) unreached.set(nodeNames[i], missing.map((j) => nodeNames[j]).sort());
  }
  return { family: links.family, nodes: nodeNames, unreached };
}

/** {@link reachabilityOf} from the edges of {@link sessionGraph} (only viable ones of `family` count). */
export function routeReachability(edges: readonly GraphEdge[], family: IPFamily, nodeNames: readonly string[], clusterOf: (node: string) => string): Reachability {
  const links = new SessionLinks(family, nodeNames, clusterOf);
  for (const e of edges) {
    if (e.family !== family || !e.viable || !e.a.config) continue;
    links.add(e.a.node, e.a.config, e.nodeToNode ? e.b.node : '', e.b.config);
  }
  return reachabilityOf(links);
}
