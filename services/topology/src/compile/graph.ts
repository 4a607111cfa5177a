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
 * Address keys as numbers: a node's own address key is twice its rank among all nodes'
 * keys, any other key the odd number between its neighbours in that order. IPv4 and IPv6
 * keys never compare equal (they start with the family), so one order serves both.
 */
class KeyRanks {
  private readonly rank = new Map<string, number>();
  private readonly sortedKeys: string[];

  constructor(keys: Iterable<string>) {
    this.sortedKeys = [...new Set(keys)].filter((k) => k !== '').sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    this.sortedKeys.forEach((k, i) => this.rank.set(k, 2 * i));
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
    return 2 * lo - 1;
  }
}

/** A node's own address that it does not have. */
const NO_RANK = -2;

/** Session flags. */
const S_PASSIVE = 1;
const S_RR_CLIENT = 2;
const S_ALLOWS_OWN_AS = 4;
const S_IPV6 = 8;
/** No node is named at the address (peerNode ''). */
const S_NO_PEER_NODE = 16;
/** A BGPPeer's session that the mesh also produced (a collapsed mesh source). */
const S_MESH_DUPLICATE = 32;

// A session's fields in a row, side by side so that a lookup touches one cache line.
const F_RANK = 0;
const F_TARGET = 1;
const F_PORT = 2;
const F_LOCAL_AS = 3;
const F_REMOTE_AS = 4;
const F_FLAGS = 5;
const STRIDE = 6;

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
 * One node's sessions as numbers (STRIDE per session), kept with its immutable
 * configuration: an analysis after a change reads the objects of the recompiled nodes only.
 * Target and rank depend on the other nodes: they hold for `epoch`.
 */
interface Row {
  readonly data: Int32Array;
  epoch: Epoch | undefined;
}

const rows = new WeakMap<CompiledNodeConfig, Row>();

function rowOf(x: CompiledNodeConfig): Row {
  let row = rows.get(x);
  if (row) return row;
  const peers = x.peers;
  const data = new Int32Array(peers.length * STRIDE);
  for (let j = 0; j < peers.length; j++) {
    const p = peers[j];
    const o = j * STRIDE;
    data[o + F_PORT] = p.port;
    data[o + F_LOCAL_AS] = p.localAs | 0;
    data[o + F_REMOTE_AS] = p.remoteAs | 0;
    data[o + F_FLAGS] =
      (p.passive ? S_PASSIVE : 0) |
      (p.rrClient ? S_RR_CLIENT : 0) |
      (p.numAllowedLocalAS > 0 ? S_ALLOWS_OWN_AS : 0) |
      (p.family === 6 ? S_IPV6 : 0) |
      (p.peerNode === '' ? S_NO_PEER_NODE : 0) |
      (p.kind !== 'mesh' && p.sources.some((x) => x.rule === 'mesh') ? S_MESH_DUPLICATE : 0);
  }
  row = { data, epoch: undefined };
  rows.set(x, row);
  return row;
}

/**
 * Every node's sessions as numbers. Matching each session with the one its peer configures
 * back is a million lookups in a 1,000-node mesh; on objects each costs cache misses, on
 * these rows a few number comparisons. Nodes are indexed in name order; session j of node x
 * is x's j-th peer. Built from per-configuration rows ({@link Row}), never copied.
 */
export class SessionTable {
  readonly nodes: readonly CompiledNodeConfig[];
  private readonly data: readonly Int32Array[];
  private readonly listenPort: Int32Array;
  /** Rank of each node's own IPv4 and IPv6 address key (NO_RANK: none). */
  private readonly ownRank4: Int32Array;
  private readonly ownRank6: Int32Array;
  /** How many sessions the nodes configure. */
  readonly sessions: number;

  constructor(configs: ReadonlyMap<string, CompiledNodeConfig>) {
    const names = [...configs.keys()].sort();
    const nodes = names.map((n) => configs.get(n) as CompiledNodeConfig);
    const n = nodes.length;
    const epoch = epochOf(nodes);
    const own4 = nodes.map((x) => ownKey(x, 4));
    const own6 = nodes.map((x) => ownKey(x, 6));
    const ranks = new KeyRanks([...own4, ...own6]);
    this.ownRank4 = Int32Array.from(own4, (k) => (k === '' ? NO_RANK : ranks.of(k)));
    this.ownRank6 = Int32Array.from(own6, (k) => (k === '' ? NO_RANK : ranks.of(k)));
    this.listenPort = Int32Array.from(nodes, (x) => x.listenPort);
    this.nodes = nodes;
    let index: Map<string, number> | undefined;
    let sessions = 0;
    const data: Int32Array[] = [];
    for (let i = 0; i < n; i++) {
      const row = rowOf(nodes[i]);
      if (row.epoch !== epoch) {
        if (!index) {
          index = new Map<string, number>();
          for (let j = 0; j < n; j++) index.set(names[j], j);
        }
        this.resolve(i, row.data, index, ranks);
        row.epoch = epoch;
      }
      data.push(row.data);
      sessions += nodes[i].peers.length;
    }
    this.data = data;
    this.sessions = sessions;
  }

  /** The node each of node i's sessions reaches, and the rank of its address. */
  private resolve(i: number, data: Int32Array, index: ReadonlyMap<string, number>, ranks: KeyRanks): void {
    const nodes = this.nodes;
    const peers = nodes[i].peers;
    for (let j = 0; j < peers.length; j++) {
      const p = peers[j];
      const o = j * STRIDE;
      const y = p.peerNode === '' ? undefined : index.get(p.peerNode);
      const at = y === undefined ? '' : p.family === 4 ? nodes[y].ipv4 : nodes[y].ipv6;
      if (y !== undefined && at === p.address) {
        data[o + F_TARGET] = y;
        // The same address has the same key: the node's own rank, without a lookup.
        data[o + F_RANK] = p.family === 4 ? this.ownRank4[y] : this.ownRank6[y];
      } else {
        data[o + F_TARGET] = -1;
        data[o + F_RANK] = ranks.of(p.addressKey);
      }
    }
  }

  /** Session j of node x as x configures it. */
  peer(x: number, j: number): CompiledPeer {
    return this.nodes[x].peers[j];
  }

  /** The node session j of x reaches (-1: a router outside the cluster). */
  target(x: number, j: number): number {
    return this.data[x][j * STRIDE + F_TARGET];
  }

  family(x: number, j: number): IPFamily {
    return (this.data[x][j * STRIDE + F_FLAGS] & S_IPV6) !== 0 ? 6 : 4;
  }

  port(x: number, j: number): number {
    return this.data[x][j * STRIDE + F_PORT];
  }

  localAs(x: number, j: number): number {
    return this.data[x][j * STRIDE + F_LOCAL_AS] >>> 0;
  }

  remoteAs(x: number, j: number): number {
    return this.data[x][j * STRIDE + F_REMOTE_AS] >>> 0;
  }

  rrClient(x: number, j: number): boolean {
    return (this.data[x][j * STRIDE + F_FLAGS] & S_RR_CLIENT) !== 0;
  }

  /** Whether no node is named at the session's address (its peerNode is ''). */
  noPeerNode(x: number, j: number): boolean {
    return (this.data[x][j * STRIDE + F_FLAGS] & S_NO_PEER_NODE) !== 0;
  }

  /** Whether the session is a BGPPeer's that the mesh also produced. */
  meshDuplicate(x: number, j: number): boolean {
    return (this.data[x][j * STRIDE + F_FLAGS] & S_MESH_DUPLICATE) !== 0;
  }

  allowsOwnAs(x: number, j: number): boolean {
    return (this.data[x][j * STRIDE + F_FLAGS] & S_ALLOWS_OWN_AS) !== 0;
  }

  /**
   * The session node `y` configures back to node `x`'s address of the family of x's session
   * j, preferring one aimed at x's listen port; -1 when none. Sessions are sorted by address
   * key: a binary search, after trying the two places a mesh puts x (its rank, or one less
   * when y sorts before it).
   */
  back(y: number, x: number, j: number): number {
    const key = (this.data[x][j * STRIDE + F_FLAGS] & S_IPV6) === 0 ? this.ownRank4[x] : this.ownRank6[x];
    if (key < 0) return -1;
    const r = this.data[y];
    const count = r.length / STRIDE;
    let lo: number;
    const guess = key >> 1;
    if (guess < count && r[guess * STRIDE] === key) lo = guess;
    else if (guess >= 1 && guess - 1 < count && r[(guess - 1) * STRIDE] === key) lo = guess - 1;
    else {
      lo = 0;
      let hi = count;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (r[mid * STRIDE] < key) lo = mid + 1;
        else hi = mid;
      }
    }
    while (lo > 0 && r[(lo - 1) * STRIDE] === key) lo--;
    let found = -1;
    const listen = this.listenPort[x];
    for (let i = lo; i < count && r[i * STRIDE] === key; i++) {
      if (r[i * STRIDE + F_PORT] === listen) return i;
      if (found < 0) found = i;
    }
    return found;
  }

  /** Whether session j of x and q of y (-1: none) can come up: {@link viability} without its words. */
  viable(x: number, j: number, y: number, q: number): boolean {
    if (q < 0) return false;
    const a = this.data[x];
    const b = this.data[y];
    const ja = j * STRIDE;
    const qb = q * STRIDE;
    if (a[ja + F_REMOTE_AS] !== b[qb + F_LOCAL_AS] || b[qb + F_REMOTE_AS] !== a[ja + F_LOCAL_AS]) return false;
    return ((a[ja + F_FLAGS] & S_PASSIVE) === 0 && a[ja + F_PORT] === this.listenPort[y]) || ((b[qb + F_FLAGS] & S_PASSIVE) === 0 && b[qb + F_PORT] === this.listenPort[x]);
  }
}

/**
 * Builds (and keeps) the session rows of every configuration, so that the next analysis of
 * this state does not read a million session objects first: the analysis worker calls it
 * after each compile, off the path of the calls.
 */
export function warmSessionRows(configs: ReadonlyMap<string, CompiledNodeConfig>): void {
  new SessionTable(configs);
}

/**
 * Calls `visit(x, j, y, q, viable)` for each session of the graph in {@link sessionGraph}'s
 * order: node x's session j to node y (-1: a router outside the cluster), which configures
 * its session q back (-1: none). A session both ends configure is visited once, from the
 * end whose name sorts first. With `only`, just the sessions of that node.
 */
export function forEachSession(
  t: SessionTable,
  visit: (x: number, j: number, y: number, q: number, viable: boolean) => void,
  only?: string,
): void {
  const n = t.nodes.length;
  for (let x = 0; x < n; x++) {
    const xName = t.nodes[x].node;
    const count = t.nodes[x].peers.length;
    for (let j = 0; j < count; j++) {
      const y = t.target(x, j);
      if (y < 0) {
        if (only === undefined || only === xName) visit(x, j, -1, -1, true);
        continue;
      }
      if (only !== undefined && only !== xName && only !== t.nodes[y].node) continue;
      const q = t.back(y, x, j);
      if (q >= 0 && y < x) continue;
      visit(x, j, y, q, t.viable(x, j, y, q));
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
    (x, j, y, q) => {
      const xc = t.nodes[x];
      const yc = y < 0 ? undefined : t.nodes[y];
      const p = t.peer(x, j);
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
