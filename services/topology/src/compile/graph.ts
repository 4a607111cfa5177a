import { parseIP, type IPFamily } from '@tabby/api';
import { addressSortKey } from './model.js';
import type { CompiledNodeConfig, CompiledPeer } from './types.js';

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
function ownKey(x: CompiledNodeConfig, family: IPFamily): string {
  const ip = parseIP(ownAddress(x, family));
  return ip ? addressSortKey(ip.family, ip.value) : '';
}

/**
 * Address keys as numbers: a node's own address key is its rank among all nodes' keys, any
 * other key sits half-way between its neighbours in that order. IPv4 and IPv6 keys never
 * compare equal (they start with the family), so one order serves both.
 */
class KeyRanks {
  private readonly rank = new Map<string, number>();
  private readonly sortedKeys: string[];

  constructor(keys: Iterable<string>) {
    this.sortedKeys = [...new Set(keys)].filter((k) => k !== '').sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    this.sortedKeys.forEach((k, i) => this.rank.set(k, i));
  }

  of(key: string): number {
    const r = this.rank.get(key);
    if (r !== undefined) return r;
    let lo = 0;
    let hi = this.sortedKeys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sortedKeys[mid] < key) lo = mid + 1;
      else hi = mid;
    }
    return lo - 0.5;
  }
}

/** Session flags in {@link SessionTable}. */
const S_PASSIVE = 1;
const S_RR_CLIENT = 2;
const S_ALLOWS_OWN_AS = 4;
const S_IPV6 = 8;

/**
 * The nodes' names (in order) and own addresses. Which node a session reaches and where its
 * address ranks depend only on these, so a row resolved for one epoch holds in any state
 * with the same nodes at the same addresses (e.g. both sides of a BGPPeer's Preview).
 */
interface Epoch {
  readonly names: readonly string[];
  readonly v4: readonly string[];
  readonly v6: readonly string[];
}

/** The last epochs seen (a Preview alternates between two states). */
const recentEpochs: Epoch[] = [];

function epochOf(nodes: readonly CompiledNodeConfig[]): Epoch {
  const same = (e: Epoch): boolean => e.names.length === nodes.length && nodes.every((x, i) => e.names[i] === x.node && e.v4[i] === x.ipv4 && e.v6[i] === x.ipv6);
  const found = recentEpochs.find(same);
  if (found) return found;
  const e: Epoch = { names: nodes.map((x) => x.node), v4: nodes.map((x) => x.ipv4), v6: nodes.map((x) => x.ipv6) };
  recentEpochs.unshift(e);
  recentEpochs.length = Math.min(recentEpochs.length, 2);
  return e;
}

/**
 * One node's sessions as arrays, kept with its (immutable) configuration: an analysis after
 * a change reads the objects of the recompiled nodes only, and copies the other rows.
 */
interface Row {
  readonly port: Int32Array;
  readonly localAs: Uint32Array;
  readonly remoteAs: Uint32Array;
  readonly flags: Uint8Array;
  /** The epoch `target` and `rank` were resolved for. */
  epoch: Epoch | undefined;
  readonly target: Int32Array;
  readonly rank: Float64Array;
}

const rows = new WeakMap<CompiledNodeConfig, Row>();

function rowOf(x: CompiledNodeConfig): Row {
  let row = rows.get(x);
  if (row) return row;
  const peers = x.peers;
  const m = peers.length;
  row = { port: new Int32Array(m), localAs: new Uint32Array(m), remoteAs: new Uint32Array(m), flags: new Uint8Array(m), epoch: undefined, target: new Int32Array(m), rank: new Float64Array(m) };
  for (let j = 0; j < m; j++) {
    const p = peers[j];
    row.port[j] = p.port;
    row.localAs[j] = p.localAs;
    row.remoteAs[j] = p.remoteAs;
    row.flags[j] = (p.passive ? S_PASSIVE : 0) | (p.rrClient ? S_RR_CLIENT : 0) | (p.numAllowedLocalAS > 0 ? S_ALLOWS_OWN_AS : 0) | (p.family === 6 ? S_IPV6 : 0);
  }
  rows.set(x, row);
  return row;
}

/**
 * Every node's sessions as flat arrays. Matching each session with the one its peer
 * configures back is a million lookups in a 1,000-node mesh; on objects each costs cache
 * misses, on these arrays it costs a few number comparisons. Nodes are indexed in name
 * order, sessions in each node's order. Built from per-configuration rows ({@link Row}).
 */
export class SessionTable {
  readonly nodes: readonly CompiledNodeConfig[];
  /** Node i's sessions are start[i] .. start[i+1]-1. */
  readonly start: Int32Array;
  /** The node at the session's address (it has that address), or -1: a router outside. */
  readonly target: Int32Array;
  /** The address key's rank ({@link KeyRanks}). */
  readonly rank: Float64Array;
  readonly port: Int32Array;
  readonly localAs: Uint32Array;
  readonly remoteAs: Uint32Array;
  readonly flags: Uint8Array;
  readonly listenPort: Int32Array;
  /** Rank of each node's own IPv4 and IPv6 address key (-1: none). */
  readonly ownRank4: Float64Array;
  readonly ownRank6: Float64Array;

  constructor(configs: ReadonlyMap<string, CompiledNodeConfig>) {
    const names = [...configs.keys()].sort();
    const nodes = names.map((n) => configs.get(n) as CompiledNodeConfig);
    const n = nodes.length;
    const epoch = epochOf(nodes);
    const own4 = nodes.map((x) => ownKey(x, 4));
    const own6 = nodes.map((x) => ownKey(x, 6));
    const ranks = new KeyRanks([...own4, ...own6]);
    this.ownRank4 = Float64Array.from(own4, (k) => (k === '' ? -1 : ranks.of(k)));
    this.ownRank6 = Float64Array.from(own6, (k) => (k === '' ? -1 : ranks.of(k)));
    this.listenPort = Int32Array.from(nodes, (x) => x.listenPort);
    this.start = new Int32Array(n + 1);
    for (let i = 0; i < n; i++) this.start[i + 1] = this.start[i] + nodes[i].peers.length;
    const m = this.start[n];
    this.target = new Int32Array(m);
    this.rank = new Float64Array(m);
    this.port = new Int32Array(m);
    this.localAs = new Uint32Array(m);
    this.remoteAs = new Uint32Array(m);
    this.flags = new Uint8Array(m);
    let index: Map<string, number> | undefined;
    for (let i = 0; i < n; i++) {
      const row = rowOf(nodes[i]);
      if (row.epoch !== epoch) {
        if (!index) {
          index = new Map<string, number>();
          for (let j = 0; j < n; j++) index.set(names[j], j);
        }
        this.resolve(nodes, i, row, index, ranks);
        row.epoch = epoch;
      }
      const base = this.start[i];
      this.target.set(row.target, base);
      this.rank.set(row.rank, base);
      this.port.set(row.port, base);
      this.localAs.set(row.localAs, base);
      this.remoteAs.set(row.remoteAs, base);
      this.flags.set(row.flags, base);
    }
    this.nodes = nodes;
  }

  /** The node each of node i's sessions reaches, and the rank of its address. */
  private resolve(nodes: readonly CompiledNodeConfig[], i: number, row: Row, index: ReadonlyMap<string, number>, ranks: KeyRanks): void {
    const peers = nodes[i].peers;
    for (let j = 0; j < peers.length; j++) {
      const p = peers[j];
      const y = p.peerNode === '' ? undefined : index.get(p.peerNode);
      const at = y === undefined ? '' : p.family === 4 ? nodes[y].ipv4 : nodes[y].ipv6;
      if (y !== undefined && at === p.address) {
        row.target[j] = y;
        // The same address has the same key: the node's own rank, without a lookup.
        row.rank[j] = p.family === 4 ? this.ownRank4[y] : this.ownRank6[y];
      } else {
        row.target[j] = -1;
        row.rank[j] = ranks.of(p.addressKey);
      }
    }
  }

  /** How many sessions the nodes configure. */
  get sessions(): number {
    return this.start[this.nodes.length];
  }

  /** The session k as its node configures it. */
  peer(x: number, k: number): CompiledPeer {
    return this.nodes[x].peers[k - this.start[x]];
  }

  family(k: number): IPFamily {
    return (this.flags[k] & S_IPV6) !== 0 ? 6 : 4;
  }

  passive(k: number): boolean {
    return (this.flags[k] & S_PASSIVE) !== 0;
  }

  rrClient(k: number): boolean {
    return (this.flags[k] & S_RR_CLIENT) !== 0;
  }

  allowsOwnAs(k: number): boolean {
    return (this.flags[k] & S_ALLOWS_OWN_AS) !== 0;
  }

  /**
   * The session node `y` configures back to node `x`'s address of the family of session
   * `k`, preferring one aimed at x's listen port; -1 when none. Sessions are sorted by
   * address key: a binary search, after trying the two places a mesh puts x (its rank, or one
   * less when y sorts before it).
   */
  back(y: number, x: number, k: number): number {
    const key = (this.flags[k] & S_IPV6) === 0 ? this.ownRank4[x] : this.ownRank6[x];
    if (key < 0) return -1;
    const from = this.start[y];
    const to = this.start[y + 1];
    const r = this.rank;
    let lo: number;
    const guess = from + key;
    if (guess < to && r[guess] === key) lo = guess;
    else if (guess - 1 >= from && guess - 1 < to && r[guess - 1] === key) lo = guess - 1;
    else {
      lo = from;
      let hi = to;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (r[mid] < key) lo = mid + 1;
        else hi = mid;
      }
    }
    while (lo > from && r[lo - 1] === key) lo--;
    let found = -1;
    const listen = this.listenPort[x];
    for (let i = lo; i < to && r[i] === key; i++) {
      if (this.port[i] === listen) return i;
      if (found < 0) found = i;
    }
    return found;
  }

  /** Whether session k of x and q of y (-1: none) can come up: {@link viability} without its words. */
  viable(x: number, k: number, y: number, q: number): boolean {
    if (q < 0) return false;
    if (this.remoteAs[k] !== this.localAs[q] || this.remoteAs[q] !== this.localAs[k]) return false;
    return (!this.passive(k) && this.port[k] === this.listenPort[y]) || (!this.passive(q) && this.port[q] === this.listenPort[x]);
  }
}

/**
 * Calls `visit(x, k, y, q, viable)` for each session of the graph in {@link sessionGraph}'s
 * order: node x's session k to node y (-1: a router outside the cluster), which configures
 * q back (-1: none). A session both ends configure is visited once, from the end whose name
 * sorts first. With `only`, just the sessions of that node.
 */
export function forEachSession(
  t: SessionTable,
  visit: (x: number, k: number, y: number, q: number, viable: boolean) => void,
  only?: string,
): void {
  const n = t.nodes.length;
  for (let x = 0; x < n; x++) {
    const xName = t.nodes[x].node;
    for (let k = t.start[x]; k < t.start[x + 1]; k++) {
      const y = t.target[k];
      if (y < 0) {
        if (only === undefined || only === xName) visit(x, k, -1, -1, true);
        continue;
      }
      if (only !== undefined && only !== xName && only !== t.nodes[y].node) continue;
      const q = t.back(y, x, k);
      if (q >= 0 && y < x) continue;
      visit(x, k, y, q, t.viable(x, k, y, q));
    }
  }
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
  const t = new SessionTable(configs);
  const edges: GraphEdge[] = [];
  forEachSession(
    t,
    (x, k, y, q) => {
      const xc = t.nodes[x];
      const yc = y < 0 ? undefined : t.nodes[y];
      const p = t.peer(x, k);
      const qp = y < 0 || q < 0 ? undefined : t.peer(y, q);
      edges.push(edgeOf(xc, p, yc, qp, yc ? viability(xc, p, yc, qp) : undefined));
    },
    only,
  );
  return edges;
}

/** The graph edge of a session {@link forEachSession} visits. */
export function edgeOf(
  x: CompiledNodeConfig,
  p: CompiledPeer,
  y: CompiledNodeConfig | undefined,
  q: CompiledPeer | undefined,
  v: { kind: ViabilityProblem; problem: string } | undefined,
): GraphEdge {
  const xa = ownAddress(x, p.family);
  if (!y)
    return {
      family: p.family,
      a: { node: x.node, address: xa, as: p.localAs, config: p },
      b: { node: '', address: p.address, as: p.remoteAs, config: undefined },
      nodeToNode: false,
      viable: true,
      problemKind: undefined,
      problem: '',
    };
  return {
    family: p.family,
    a: { node: x.node, address: xa, as: p.localAs, config: p },
    b: { node: y.node, address: p.address, as: q?.localAs ?? p.remoteAs, config: q },
    nodeToNode: true,
    viable: v === undefined,
    problemKind: v?.kind,
    problem: v?.problem ?? '',
  };
}
