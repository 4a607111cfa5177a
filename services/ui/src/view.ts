/**
 * The JSON the tabby-ui API answers, shared by the server (src/) and the page (web/, which
 * imports these types only). Every answer is one of these shapes or an {@link ApiError};
 * field names are stable: scripts may read them (curl …/api/v1/cluster | jq).
 *
 * Routes (all GET unless said; all read-only):
 *   /                           the page (web/index.html, the bundled app.js and app.css)
 *   /api/v1/cluster             ClusterView: the peering graph, session states, backends
 *   /api/v1/nodes/NAME          NodeView: NAME's session table (tabbyctl node status's columns)
 *   /api/v1/nodes/NAME/routes   RoutesView: NAME's routes, from its agent (Agent.Routes)
 *   /api/v1/ipam                IpamView: pools and blocks, used/total, borrowed, migrations
 *   POST /api/v1/preview        PreviewView of a manifest (body: YAML or JSON text; nothing written)
 *   /api/v1/events              Server-Sent Events: `view` {@link ViewEvent} on every change,
 *                               `backends` BackendState[] when a backend comes or goes
 *   /healthz                    200 "ok" (liveness; backends are in ClusterView.backends)
 * Errors: { "error": { "code": 404, "reason": "NotFound", "message": "no node nosuch: …" } }.
 */

/** The error body of every non-2xx answer. */
export interface ApiError {
  readonly error: { readonly code: number; readonly reason: string; readonly message: string };
}

export type BackendName = 'store' | 'topology' | 'ipam';

/** Whether tabby-ui can read a backend right now. */
export interface BackendState {
  readonly name: BackendName;
  readonly address: string;
  readonly reachable: boolean;
  /** Why not, in one line, when not reachable. */
  readonly error?: string;
  /** RFC 3339 time the state last changed. */
  readonly since: string;
}

/**
 * A session's state on the graph. BGP FSM states as BIRD and calicoctl's INFO name them;
 * `Unknown` when no agent at either end reported the session (agent not running, or the
 * peer is outside the cluster and its node's agent has not reported).
 */
export type SessionState = 'Established' | 'OpenConfirm' | 'OpenSent' | 'Active' | 'Connect' | 'Idle' | 'Unknown';

/** A Tabby node on the graph. */
export interface GraphNode {
  readonly name: string;
  readonly asNumber: number;
  readonly ipv4Address: string;
  readonly ipv6Address: string;
  /** Set when the node is a route reflector: its cluster id. */
  readonly routeReflectorClusterId: string;
  /** Ready, NotReady, Stale (report older than 3 periods) or Unknown (never reported). */
  readonly agent: 'Ready' | 'NotReady' | 'Stale' | 'Unknown';
  /** RFC 3339 time of the agent's last report, '' when none. */
  readonly lastReported: string;
}

/** A router outside the cluster that nodes peer with (a BGPPeer's peerIP). */
export interface GraphPeer {
  /** `peer:ADDRESS` or `peer:ADDRESS:PORT`; unique on the graph. */
  readonly id: string;
  readonly address: string;
  readonly port: number;
  readonly asNumber: number;
}

/** One BGP session (one per family), an edge of the graph. */
export interface GraphSession {
  /** Stable across updates: `FAMILY/A~B` with A a node and B a node name or a GraphPeer id. */
  readonly id: string;
  readonly family: 'ipv4' | 'ipv6';
  /** A node's name. */
  readonly from: string;
  /** A node's name, or a GraphPeer's id. */
  readonly to: string;
  /** calicoctl's PEER TYPE: node-to-node mesh, global, node specific (and route reflector roles). */
  readonly type: string;
  /** The worse of the two ends' reports (a node-to-node session is reported by both). */
  readonly state: SessionState;
  /** RFC 3339 time the state began, '' when unknown. */
  readonly since: string;
  /** The INFO text of the report the state came from ('' when none). */
  readonly info: string;
  /** False when topology says the session cannot come up; `problem` says why. */
  readonly viable: boolean;
  readonly problem: string;
}

/** A route-reflector cluster: its id and the nodes that reflect for it. */
export interface RrCluster {
  readonly clusterId: string;
  readonly reflectors: readonly string[];
}

export interface ClusterView {
  /** Grows by one on every change of anything in the view; SSE `view` events carry it. */
  readonly version: number;
  readonly generatedAt: string;
  readonly backends: readonly BackendState[];
  readonly nodes: readonly GraphNode[];
  readonly peers: readonly GraphPeer[];
  readonly sessions: readonly GraphSession[];
  readonly clusters: readonly RrCluster[];
}

/** A row of `tabbyctl node status`'s table: PEER ADDRESS, PEER TYPE, STATE, SINCE, INFO. */
export interface SessionRow {
  readonly peerAddress: string;
  readonly peerType: string;
  /** up, start, down (calicoctl's STATE). */
  readonly state: string;
  /** As tabbyctl prints SINCE (BIRD's format: a time today, else a date). */
  readonly since: string;
  readonly info: string;
}

export interface NodeView {
  readonly name: string;
  /** tabbyctl node status's first line ("Tabby agent on node1 is running."). */
  readonly health: string;
  readonly running: boolean;
  readonly ipv4: readonly SessionRow[];
  readonly ipv6: readonly SessionRow[];
}

/** A route of a node's RIB, as `tabbyctl node routes` lists it. */
export interface RouteRow {
  readonly prefix: string;
  readonly nextHop: string;
  /** Where it came from: a peer address, or `local` for the node's own blocks. */
  readonly from: string;
  readonly asPath: string;
  /** The node originates it (one of its blocks). */
  readonly local: boolean;
  readonly best: boolean;
}

export interface RoutesView {
  readonly node: string;
  readonly routes: readonly RouteRow[];
}

/**
 * Address counts are decimal strings, as IPAM's Utilization gives them (an IPv6 pool holds
 * more addresses than a JSON number can count exactly); `fraction` is used ÷ total for bars.
 */
export interface BlockUse {
  readonly cidr: string;
  /** The node the block is affine to ('' when none). */
  readonly node: string;
  readonly used: string;
  readonly total: string;
  readonly fraction: number;
  /** Addresses of this block held by nodes other than its affine node. */
  readonly borrowed: number;
}

export interface PoolUse {
  readonly name: string;
  readonly cidr: string;
  readonly disabled: boolean;
  readonly used: string;
  readonly total: string;
  readonly fraction: number;
  readonly blocks: readonly BlockUse[];
  /** Set while a disabled pool still holds workloads (being drained): how far along. */
  readonly migration?: { readonly remainingWorkloads: number; readonly startedWith?: number };
}

export interface IpamView {
  readonly version: number;
  readonly pools: readonly PoolUse[];
}

/** One node's change in a preview. */
export interface PreviewNode {
  readonly node: string;
  /** Sessions added and removed, each as `ADDRESS (TYPE)`. */
  readonly added: readonly string[];
  readonly removed: readonly string[];
}

export interface PreviewWarning {
  readonly severity: 'info' | 'warning' | 'error';
  readonly message: string;
}

export interface PreviewView {
  readonly nodes: readonly PreviewNode[];
  readonly warnings: readonly PreviewWarning[];
  readonly resolved: readonly PreviewWarning[];
  readonly ignored: readonly string[];
}

/** The data of an SSE `view` event: what changed, so the page refetches only that. */
export interface ViewEvent {
  readonly version: number;
  readonly cluster: boolean;
  readonly ipam: boolean;
}
