/**
 * Issue 12, "routes reach the kernel": a whole cluster on a fabric of network namespaces, with
 * real packets between workloads.
 *
 * The fabric (reference: docs/calico-compat.md; nothing in this machine's own namespace, only
 * 198.18.0.0/15, no link to the root namespace):
 * - `ctl`: bridge br0 198.18.0.1/24; nats-server, tabby-store, tabby-ipam, tabby-topology;
 *   tabbyctl runs here;
 * - `node1..3`: eth0 198.18.0.11-13 on br0, ip_forward on, one tabby-agent each with the
 *   linux data plane (routes with protocol 84 in table main);
 * - workloads: one namespace each, wired as Calico's CNI plugin does (veth `cali…`, /32,
 *   default via 169.254.1.1, proxy ARP on the host side); the agent adds the /32 route;
 * - `bird` 198.18.0.2 (AS 64513) and `gobgp` 198.18.0.3 (AS 64514): external peers of node1.
 *   BIRD has no kernel protocol: it only shows what it learned. BIRD is a graceful-restart
 *   helper (`graceful restart aware`); GoBGP has no graceful restart configured, so it
 *   advertises no GR capability and sends no End-of-RIB, like many plain routers.
 *
 * The borrowed address: pool-borrow has a single block; node2's workload takes it, then
 * node1's workloads borrow from it. The borrower is node1, BIRD's peer, on purpose: Calico's
 * export filter rejects anything more specific inside the exporting node's own blocks
 * (`calico_aggr`, docs/calico-compat.md §2.8), so a /32 borrowed from node1's block by
 * node2 would (rightly) never reach BIRD through node1.
 *
 * Steps run in order; each prints what it saw (routes per node, ping results).
 */
import {
  NetnsControlPlane,
  eventually,
  fabricTestbed,
  phaseLogger,
  sleep,
  startBirdIn,
  startGobgpIn,
  type BirdProcess,
  type KernelRoute,
  type NetnsGobgpProcess,
  type PingResult,
  type ServiceProcess,
  type WorkloadWiring,
} from '@tabby/harness';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';

// Registered before anything is built: namespaces and processes go even when set-up fails.
const { fabric, dir, cleanup } = fabricTestbed('tabby-netns-');
afterAll(cleanup, 60_000);

const NODES = ['node1', 'node2', 'node3'] as const;
type NodeName = (typeof NODES)[number];
const CTL = '198.18.0.1';
const NODE_IP: Record<NodeName, string> = { node1: '198.18.0.11', node2: '198.18.0.12', node3: '198.18.0.13' };
const BIRD_IP = '198.18.0.2';
const GOBGP_IP = '198.18.0.3';
const CLUSTER_AS = 64512;
const BIRD_AS = 64513;
const GOBGP_AS = 64514;
/** What GoBGP announces to node1; node1 must not pass it on (no transit). */
const EXTERNAL_PREFIX = '198.18.200.0/24';
const TABBY_PROTO = 84;
/** Per step; the waits inside are shorter, so a failing step says what it waited for. */
const STEP_TIMEOUT = 90_000;

interface Pool {
  readonly name: string;
  readonly cidr: string;
  readonly blockSize: number;
  readonly exported: boolean;
}
const POOL_A: Pool = { name: 'pool-a', cidr: '198.19.0.0/24', blockSize: 26, exported: true };
/** One block only: the first node to use it owns it, the next one borrows. */
const POOL_BORROW: Pool = { name: 'pool-borrow', cidr: '198.19.1.0/26', blockSize: 26, exported: true };
const POOL_PRIVATE: Pool = { name: 'pool-private', cidr: '198.19.2.0/24', blockSize: 26, exported: false };
const pools: Pool[] = [];

interface Workload extends WorkloadWiring {
  readonly name: string;
  readonly node: NodeName;
  readonly pool: Pool;
  readonly block: string;
}
const workloads = new Map<string, Workload>();
/** Block → the node it is affine to (the node of its first workload). */
const blockOwner = new Map<string, NodeName>();

interface Agent {
  readonly node: NodeName;
  service: ServiceProcess;
}
const agents = new Map<NodeName, Agent>();
let bird: BirdProcess;
let gobgp: NetnsGobgpProcess;
const ctlNs = fabric.ns('ctl');
const nodeNs = (n: NodeName): string => fabric.ns(n);
/** nats-server, tabby-store, tabby-ipam, tabby-topology and tabbyctl in ctl, on CTL. */
const controlPlane = new NetnsControlPlane(fabric, ctlNs, CTL, dir.path);

// ---------------------------------------------------------------- addresses

function ipToInt(ip: string): number {
  return ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}
function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}
function networkOf(ip: string, len: number): string {
  const size = 2 ** (32 - len);
  return `${intToIp(Math.floor(ipToInt(ip) / size) * size)}/${len}`;
}
/** True when prefix `inner` (a.b.c.d/len) lies inside `outer`. */
function within(inner: string, outer: string): boolean {
  const [ip, len] = inner.split('/');
  const [, olen] = outer.split('/');
  return Number(len) >= Number(olen) && networkOf(ip, Number(olen)) === outer;
}

// ---------------------------------------------------------------- tabbyctl

const tabbyctl = (args: readonly string[], input?: string): Promise<string> => controlPlane.tabbyctl(args, input);

async function apply(yaml: string): Promise<void> {
  await tabbyctl(['apply', '-f', '-'], yaml);
}

function poolManifest(p: Pool): string {
  return `apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: ${p.name}
spec:
  cidr: ${p.cidr}
  blockSize: ${p.blockSize}
  nodeSelector: all()
  disableBGPExport: ${!p.exported}
`;
}

async function addPools(...ps: Pool[]): Promise<void> {
  await apply(ps.map(poolManifest).join('---\n'));
  pools.push(...ps);
}

/** `tabbyctl workload add`, then the Calico wiring of its namespace (the agent adds the /32 route). */
async function addWorkload(name: string, node: NodeName, pool: Pool): Promise<Workload> {
  const out = await tabbyctl(['workload', 'add', `default/${name}`, '--node', node, '--pool', pool.name]);
  const iface = /interface:\s+(\S+)/.exec(out)?.[1];
  const address = /addresses:\s+([\d.]+)(?:\/32)?/.exec(out)?.[1];
  if (!iface || !address) throw new Error(`tabbyctl workload add printed no interface or address:\n${out}`);
  expect(within(`${address}/32`, pool.cidr), `${name}'s address ${address} is in ${pool.cidr}`).toBe(true);
  const block = networkOf(address, pool.blockSize);
  if (!blockOwner.has(block)) blockOwner.set(block, node);
  const wiring = await fabric.wireWorkload(nodeNs(node), `w-${name}`, iface, address);
  const w: Workload = { ...wiring, name, node, pool, block };
  workloads.set(name, w);
  console.log(`workload ${name} on ${node}: ${address} (block ${block} of ${blockOwner.get(block)}${blockOwner.get(block) === node ? '' : ', borrowed'}) on ${iface}`);
  return w;
}

async function deleteWorkload(name: string): Promise<Workload> {
  const w = wl(name);
  const out = await tabbyctl(['workload', 'delete', `default/${name}`]);
  console.log(out.trim());
  workloads.delete(name);
  return w;
}

function wl(name: string): Workload {
  const w = workloads.get(name);
  if (!w) throw new Error(`no workload ${name}`);
  return w;
}

const isBorrowed = (w: Workload): boolean => blockOwner.get(w.block) !== w.node;

interface PeerRow {
  peerIP: string;
  type: string;
  state: string;
  info: string;
}
interface NodeStatusObject {
  metadata?: { name?: string };
  status?: { bgp?: { peersV4?: PeerRow[] } };
}

/**
 * Every node's Established IPv4 sessions, by peer address, from the NodeStatus the agents
 * report (one `tabbyctl get nodestatus -o json`: each tabbyctl costs a Node start-up).
 */
async function establishedSessions(): Promise<Map<string, Set<string>>> {
  const list = JSON.parse(await tabbyctl(['get', 'nodestatus', '-o', 'json'])) as { items?: NodeStatusObject[] };
  const out = new Map<string, Set<string>>();
  for (const item of list.items ?? []) {
    const up = (item.status?.bgp?.peersV4 ?? []).filter((r) => r.state === 'up' && r.info === 'Established').map((r) => r.peerIP);
    out.set(item.metadata?.name ?? '', new Set(up));
  }
  return out;
}

/** Whether each `[node, peer]` session is Established (`up` true) or not (`up` false). */
async function sessionsAre(want: readonly (readonly [NodeName, string])[], up: boolean): Promise<boolean> {
  const now = await establishedSessions();
  return want.every(([n, peer]) => (now.get(n)?.has(peer) ?? false) === up);
}

// ---------------------------------------------------------------- kernel routes

/** The routes Tabby programmed on a node: `ip -j route show proto 84` (table main). */
function tabbyRoutes(node: NodeName): Promise<KernelRoute[]> {
  return fabric.routes(nodeNs(node), { proto: TABBY_PROTO });
}

/** A route's shape, without metric or flags: what the expectations are written in. */
function shape(r: KernelRoute): string {
  if (r.type !== 'unicast') return `${r.type} ${r.dst}`;
  if (r.nexthops.length > 0) return `${r.dst} ${r.nexthops.map((n) => `nexthop ${n}`).join(' ')}`;
  if (r.gateway) return `${r.dst} via ${r.gateway} dev ${r.dev}`;
  return `${r.dst} dev ${r.dev}${r.scope === 'link' ? ' scope link' : ''}`;
}

const inSomePool = (prefix: string): boolean => pools.some((p) => within(prefix, p.cidr));

/**
 * The routes a node should have inside the IP pools, as Calico's node would have them
 * (docs/calico-compat.md §2.8, reference dataplane.md §1): a blackhole for each own block,
 * each other node's exported block via that node, a /32 `scope link` to each local
 * workload, each borrowed /32 held elsewhere via its holder.
 */
function expectedRoutes(node: NodeName): string[] {
  const exported = (prefix: string): boolean => pools.some((p) => p.exported && within(prefix, p.cidr));
  const out: string[] = [];
  for (const [block, owner] of blockOwner) {
    if (owner === node) out.push(`blackhole ${block}`);
    else if (exported(block)) out.push(`${block} via ${NODE_IP[owner]} dev eth0`);
  }
  for (const w of workloads.values()) {
    if (w.node === node) out.push(`${w.address}/32 dev ${w.interfaceName} scope link`);
    else if (isBorrowed(w) && exported(w.block)) out.push(`${w.address}/32 via ${NODE_IP[w.node]} dev eth0`);
  }
  return out.sort();
}

/** Counts by kind and the full list, for the log. */
function describeTable(node: NodeName, routes: readonly KernelRoute[]): string {
  const count = (f: (r: KernelRoute) => boolean): number => routes.filter(f).length;
  const blackholes = count((r) => r.type === 'blackhole');
  const remote = count((r) => r.type === 'unicast' && r.gateway !== undefined && !r.dst.endsWith('/32'));
  const local32 = count((r) => r.dst.endsWith('/32') && r.gateway === undefined && r.type === 'unicast');
  const via32 = count((r) => r.dst.endsWith('/32') && r.gateway !== undefined);
  return [
    `${node}: ${routes.length} routes proto ${TABBY_PROTO} (blackhole ${blackholes}, block via node ${remote}, /32 scope link ${local32}, /32 via node ${via32})`,
    ...routes.map((r) => `    ${r.text}`),
  ].join('\n');
}

/** Waits until a node's proto-84 routes inside the pools are exactly the expected ones, each once. */
async function waitForTable(node: NodeName, timeoutMs = 30_000): Promise<KernelRoute[]> {
  const want = expectedRoutes(node);
  return eventually(
    `${node}'s routes to be ${JSON.stringify(want)}`,
    async () => {
      const routes = await tabbyRoutes(node);
      const got = routes.filter((r) => inSomePool(r.dst)).map(shape).sort();
      if (JSON.stringify(got) === JSON.stringify(want)) return routes;
      throw new Error(`got ${JSON.stringify(got)}`);
    },
    timeoutMs,
    200,
  );
}

async function waitForTables(timeoutMs?: number): Promise<Map<NodeName, KernelRoute[]>> {
  const out = new Map<NodeName, KernelRoute[]>();
  for (const n of NODES) out.set(n, await waitForTable(n, timeoutMs));
  for (const n of NODES) console.log(describeTable(n, out.get(n)!));
  return out;
}

/** No prefix twice in a table (same prefix, other metric or tos would be a duplicate). */
function expectNoDuplicates(node: NodeName, routes: readonly KernelRoute[]): void {
  const dsts = routes.map((r) => r.dst);
  expect(
    dsts.filter((d, i) => dsts.indexOf(d) !== i),
    `${node} has duplicate routes`,
  ).toEqual([]);
}

/** Outside the pools only what node1 learned from GoBGP may be there (at node1 only). */
function expectNothingElse(node: NodeName, routes: readonly KernelRoute[]): void {
  const others = routes.filter((r) => !inSomePool(r.dst)).map(shape);
  const allowed = node === 'node1' ? [`${EXTERNAL_PREFIX} via ${GOBGP_IP} dev eth0`] : [];
  expect(
    others.filter((o) => !allowed.includes(o)),
    `${node}: routes proto ${TABBY_PROTO} outside the pools`,
  ).toEqual([]);
}

function logPing(what: string, r: PingResult): void {
  console.log(`ping ${what}: ${r.transmitted} sent, ${r.received} received, ${r.lost} lost${r.missingSeqs.length > 0 ? ` (seq ${r.missingSeqs.join(',')})` : ''}`);
}

// ---------------------------------------------------------------- agents

async function startAgent(node: NodeName): Promise<Agent> {
  const service = await controlPlane.startAgent({ node, bgpAddress: NODE_IP[node] });
  const a = agents.get(node);
  if (a) a.service = service;
  else agents.set(node, { node, service });
  return agents.get(node)!;
}

function agent(node: NodeName): Agent {
  const a = agents.get(node);
  if (!a) throw new Error(`no agent on ${node}`);
  return a;
}

const ALL_SESSIONS: (readonly [NodeName, string])[] = [
  ...NODES.flatMap((n) => NODES.filter((o) => o !== n).map((o) => [n, NODE_IP[o]] as const)),
  ['node1', BIRD_IP],
  ['node1', GOBGP_IP],
];

/** Every node's mesh sessions, and node1's sessions to BIRD and GoBGP, Established (seen from both ends). */
async function waitSessions(timeoutMs = 40_000): Promise<void> {
  await eventually('every BGP session to be Established in the NodeStatus of its node', () => sessionsAre(ALL_SESSIONS, true), timeoutMs, 250);
  await bird.waitEstablished('node1', timeoutMs);
  await gobgp.waitEstablished(NODE_IP.node1, timeoutMs);
}

/** On a failed step: the agents' warnings and errors, to say why. */
function showAgentLogsOnFailure(): void {
  onTestFailed(() => {
    for (const a of agents.values()) {
      const lines = a.service.process
        .output()
        .split('\n')
        .filter((l) => /"level":(40|50|60)/.test(l));
      console.log(`--- ${a.node} agent (pid ${a.service.process.pid}) warnings/errors, last 15:\n${lines.slice(-15).join('\n')}`);
    }
  });
}

// ---------------------------------------------------------------- set-up

async function buildFabric(): Promise<void> {
  await fabric.addNamespace('ctl');
  await fabric.addBridge(ctlNs, 'br0', `${CTL}/24`);
  // The control plane's namespace forwards nothing: the nodes' default route ends here.
  await fabric.sysctl(ctlNs, { 'net.ipv4.ip_forward': 0 });
  for (const n of NODES) {
    const ns = await fabric.addNamespace(n);
    await fabric.connectToBridge(ctlNs, 'br0', ns, { port: `p-${n}`, address: `${NODE_IP[n]}/24` });
    await fabric.sysctl(ns, { 'net.ipv4.ip_forward': 1 });
    // A host has a default gateway; Calico's proxy ARP for 169.254.1.1 answers only for an
    // address the host can route (out of another interface). ctl drops what reaches it.
    await fabric.ip(ns, ['route', 'add', 'default', 'via', CTL, 'dev', 'eth0']);
  }
  for (const [short, ip] of [
    ['bird', BIRD_IP],
    ['gobgp', GOBGP_IP],
  ] as const) {
    const ns = await fabric.addNamespace(short);
    await fabric.connectToBridge(ctlNs, 'br0', ns, { port: `p-${short}`, address: `${ip}/24` });
  }
}

async function configureCluster(): Promise<void> {
  await apply(`apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  nodeToNodeMeshEnabled: true
  asNumber: ${CLUSTER_AS}
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: node1-bird
spec:
  node: node1
  peerIP: ${BIRD_IP}
  asNumber: ${BIRD_AS}
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: node1-gobgp
spec:
  node: node1
  peerIP: ${GOBGP_IP}
  asNumber: ${GOBGP_AS}
---
${[POOL_A, POOL_BORROW].map(poolManifest).join('---\n')}`);
  pools.push(POOL_A, POOL_BORROW);
}

async function startPeers(): Promise<void> {
  bird = await startBirdIn(fabric, fabric.ns('bird'), dir.path, { address: BIRD_IP, as: BIRD_AS, peers: [{ name: 'node1', neighbor: NODE_IP.node1, remoteAs: CLUSTER_AS }] });
  gobgp = await startGobgpIn(fabric, fabric.ns('gobgp'), dir.path, { address: GOBGP_IP, as: GOBGP_AS, neighbors: [{ address: NODE_IP.node1, remoteAs: CLUSTER_AS }] });
  await gobgp.announce('ipv4', EXTERNAL_PREFIX, { nextHop: GOBGP_IP });
}

beforeAll(async () => {
  const phase = phaseLogger();
  await buildFabric();
  phase(`fabric ${fabric.prefix}: namespaces, bridge, veths`);
  await controlPlane.start();
  phase('nats-server, tabby-store, tabby-ipam, tabby-topology listening in ctl');
  await configureCluster();
  await startPeers();
  phase('cluster configured; BIRD and GoBGP answering');
  await Promise.all(NODES.map((n) => startAgent(n)));
  phase('agents listening');
  await waitSessions();
  phase('every BGP session Established');
  // pool-a: a block per node. pool-borrow has one block: node2 takes it, node1 borrows from it.
  // One node's workloads in order, the nodes side by side (each tabbyctl is a Node start-up).
  await Promise.all([
    addWorkload('w1', 'node1', POOL_A),
    addWorkload('w2', 'node2', POOL_A).then(() => addWorkload('w2b', 'node2', POOL_BORROW)),
    addWorkload('w3', 'node3', POOL_A).then(() => addWorkload('w3-gone', 'node3', POOL_A)),
  ]);
  await addWorkload('w1b', 'node1', POOL_BORROW);
  await addWorkload('w1c', 'node1', POOL_BORROW);
  for (const b of ['w1b', 'w1c']) expect(isBorrowed(wl(b)), `${b} borrows from node2's block`).toBe(true);
  phase(`${workloads.size} workloads added and wired; ${fabric.namespaces.length} namespaces`);
}, 120_000);

// ---------------------------------------------------------------- steps

describe('routes reach the kernel (issue 12)', () => {
  it('1. every node has a blackhole for its block, the other blocks via their nodes, /32s to its workloads; node1 pings node3', async () => {
    showAgentLogsOnFailure();
    const tables = await waitForTables();
    for (const [n, routes] of tables) {
      expectNoDuplicates(n, routes);
      expectNothingElse(n, routes);
    }
    const r = await fabric.ping(wl('w1').namespace, wl('w3').address, { count: 3, timeoutS: 2 });
    logPing(`w1 (node1) -> w3 (node3) ${wl('w3').address}`, r);
    expect(r.received, r.output).toBe(3);
  }, STEP_TIMEOUT);

  it('2. deleting a workload removes its /32 on its node, and a borrowed /32 everywhere', async () => {
    showAgentLogsOnFailure();
    const gone = await deleteWorkload('w3-gone');
    const borrowed = await deleteWorkload('w1c');
    // The interfaces are still there (CNI DEL has not run yet): the agent removed the routes.
    await waitForTables();
    for (const w of [gone, borrowed]) {
      const links = await fabric.ip(w.nodeNamespace, ['-br', 'link', 'show', 'dev', w.interfaceName]);
      expect(links, `${w.interfaceName} still exists on ${w.node}`).toContain(w.interfaceName);
      for (const n of NODES) expect((await tabbyRoutes(n)).map((r) => r.dst)).not.toContain(`${w.address}/32`);
    }
    console.log(`w3-gone's ${gone.address}/32 gone from node3, w1c's borrowed ${borrowed.address}/32 gone from node1, node2 and node3`);
    await fabric.deleteNamespace(gone.namespace);
    await fabric.deleteNamespace(borrowed.namespace);
  }, STEP_TIMEOUT);

  it("3. kill -9 of node2's agent keeps every route (graceful restart) and the ping flowing; after restart no duplicates", async () => {
    showAgentLogsOnFailure();
    const before = new Map<NodeName, string[]>();
    for (const n of NODES) before.set(n, (await tabbyRoutes(n)).map((r) => r.text).sort());
    const ping = fabric.startPing(wl('w1').namespace, wl('w2').address, 0.2);
    await eventually('the ping w1 -> w2 to flow', () => ping.replies() >= 5, 10_000, 100);

    const killed = agent('node2').service.process;
    killed.signal('SIGKILL');
    const exit = await killed.exited();
    console.log(`node2's agent (pid ${killed.pid}) killed: ${exit.signal}`);
    const toNode2 = [
      ['node1', NODE_IP.node2],
      ['node3', NODE_IP.node2],
    ] as const;
    await eventually('node1 and node3 to see their sessions to node2 go down', () => sessionsAre(toNode2, false), 20_000, 100);
    // The session is down at node1 and node3: their routes to node2's blocks stay (stale),
    // and node2's own table is untouched.
    for (const n of NODES) {
      const now = (await tabbyRoutes(n)).map((r) => r.text).sort();
      console.log(`while node2's agent is dead, ${n} has ${now.length} routes proto ${TABBY_PROTO}`);
      expect(now, `${n}'s routes while node2's agent is dead`).toEqual(before.get(n));
    }
    const repliesWhileDead = ping.replies();
    await eventually('pings to keep being answered while the agent is dead', () => ping.replies() >= repliesWhileDead + 5, 10_000, 100);

    await startAgent('node2');
    await eventually('node1 and node3 to see node2 again', () => sessionsAre(toNode2, true), 40_000, 250);
    // Let the restarted agent settle (end-of-RIB, its first reconcile) under the ping.
    const repliesAfter = ping.replies();
    await eventually('pings after the restart', () => ping.replies() >= repliesAfter + 10, 10_000, 100);
    const result = await ping.stop();
    logPing(`w1 (node1) -> w2 (node2) every 0.2 s across kill -9 and restart of node2's agent`, result);

    const tables = await waitForTables();
    for (const [n, routes] of tables) {
      expectNoDuplicates(n, routes);
      expect(routes.map((r) => r.text).sort(), `${n}'s routes after node2's agent restarted`).toEqual(before.get(n));
    }
    expect(result.received, 'replies across the restart').toBeGreaterThan(0);
    expect(result.lost, `ping lost ${result.lost} of ${result.transmitted}`).toBeLessThanOrEqual(2);
  }, STEP_TIMEOUT);

  it('4. routes of other protocols and tables are left alone, also across an agent restart', async () => {
    showAgentLogsOnFailure();
    const n1 = nodeNs('node1');
    const blockOf = (node: NodeName): string => [...blockOwner].find(([b, o]) => o === node && within(b, POOL_A.cidr))![0];
    await fabric.ip(n1, ['route', 'add', '198.19.250.0/24', 'via', NODE_IP.node2, 'proto', 'static']);
    // The same prefix Tabby programs (node3's block via 198.18.0.13), another protocol and metric.
    await fabric.ip(n1, ['route', 'add', blockOf('node3'), 'via', NODE_IP.node2, 'proto', 'static', 'metric', '100']);
    // The same prefix and even Tabby's protocol, in another table.
    await fabric.ip(n1, ['route', 'add', blockOf('node2'), 'via', NODE_IP.node3, 'proto', String(TABBY_PROTO), 'table', '100']);
    const foreign = async (): Promise<string[]> =>
      [...(await fabric.routes(n1, { proto: 'static' })).map((r) => `${r.text} proto static (main)`), ...(await fabric.routes(n1, { table: 100 })).map((r) => `${r.text} (table 100)`)].sort();
    const placed = await foreign();
    console.log(`foreign routes on node1:\n    ${placed.join('\n    ')}`);
    expect(placed).toHaveLength(3);

    // Make the agent reconcile: a workload comes and goes.
    await addWorkload('w1d', 'node1', POOL_A);
    await waitForTable('node1');
    expect(await foreign()).toEqual(placed);
    await deleteWorkload('w1d');
    await waitForTable('node1');
    expect(await foreign()).toEqual(placed);
    await fabric.deleteNamespace(fabric.ns('w-w1d'));

    // A route with Tabby's protocol in table main that Tabby does not want (step 4b checks it goes).
    await fabric.ip(n1, ['route', 'add', '198.19.252.0/24', 'via', NODE_IP.node3, 'proto', String(TABBY_PROTO)]);

    const old = agent('node1').service.process;
    await old.stop();
    const fromNode1 = [
      ['node2', NODE_IP.node1],
      ['node3', NODE_IP.node1],
    ] as const;
    await eventually("node2 and node3 to see node1's agent go", () => sessionsAre(fromNode1, false), 20_000, 100);
    console.log(`node1's agent stopped (SIGTERM); node1 has ${(await tabbyRoutes('node1')).length} routes proto ${TABBY_PROTO}, foreign routes: ${(await foreign()).length}`);
    await startAgent('node1');
    await waitSessions();
    const tables = await waitForTables();
    expectNoDuplicates('node1', tables.get('node1')!);
    const after = await foreign();
    console.log(`after node1's agent restarted, foreign routes on node1:\n    ${after.join('\n    ')}`);
    expect(after).toEqual(placed);
  }, STEP_TIMEOUT);

  it('4b. a route with protocol 84 in table main that Tabby does not want is removed', async () => {
    showAgentLogsOnFailure();
    onTestFailed(async () => {
      const status = JSON.parse(await tabbyctl(['get', 'nodestatus', 'node1', '-o', 'json'])) as { status?: { routes?: unknown } };
      console.log(`node1's NodeStatus routes: ${JSON.stringify(status.status?.routes)}`);
      const lines = agent('node1').service.process.output().split('\n');
      console.log(`node1's agent on convergence:\n${lines.filter((l) => /converg|End-of-RIB|stale/i.test(l)).slice(-10).join('\n')}`);
      const caps = (await gobgp.gobgp(['neighbor', NODE_IP.node1])).split('\n').filter((l) => /graceful-restart|Neighbor capabilities/i.test(l));
      console.log(`GoBGP's capabilities towards node1:\n${caps.join('\n')}`);
    });
    await eventually('the stray 198.19.252.0/24 proto 84 to be removed from node1', async () => !(await tabbyRoutes('node1')).some((r) => r.dst === '198.19.252.0/24'), 30_000, 250);
    const routes = await tabbyRoutes('node1');
    expectNothingElse('node1', routes);
    console.log(describeTable('node1', routes));
  }, STEP_TIMEOUT);

  it('5. the borrowed address is reachable from the other nodes', async () => {
    showAgentLogsOnFailure();
    const b = wl('w1b');
    for (const n of ['node2', 'node3'] as const) console.log(`${n}: ip route get ${b.address}: ${(await fabric.ip(nodeNs(n), ['route', 'get', b.address])).trim()}`);
    const fromNode3 = await fabric.ping(wl('w3').namespace, b.address, { count: 3, timeoutS: 2 });
    logPing(`w3 (node3) -> w1b ${b.address} (borrowed from node2's block, on node1)`, fromNode3);
    const fromOwner = await fabric.ping(wl('w2').namespace, b.address, { count: 3, timeoutS: 2 });
    logPing(`w2 (node2, owner of the block) -> w1b ${b.address}`, fromOwner);
    expect(fromNode3.received, fromNode3.output).toBe(3);
    expect(fromOwner.received, fromOwner.output).toBe(3);
  }, STEP_TIMEOUT);

  it('6. BIRD (peer of node1) has the pool blocks and the borrowed /32, nothing else; nothing from GoBGP', async () => {
    showAgentLogsOnFailure();
    // Calico's export to a BGP peer (docs/calico-compat.md §2.8): every block inside an
    // exported pool (own and learned), no /32 inside the node's own blocks (calico_aggr),
    // borrowed /32s in other nodes' blocks; nothing learned from another external peer.
    const want = [
      ...[...blockOwner.keys()].filter((b) => pools.some((p) => p.exported && within(b, p.cidr))),
      ...[...workloads.values()].filter((w) => isBorrowed(w) && w.pool.exported && !(blockOwner.get(w.block) === 'node1')).map((w) => `${w.address}/32`),
    ].sort();
    const routes = await eventually(
      `BIRD to have exactly ${JSON.stringify(want)}`,
      async () => {
        const rs = await bird.routes('ipv4');
        const got = [...new Set(rs.map((r) => r.prefix))].sort();
        if (JSON.stringify(got) === JSON.stringify(want)) return rs;
        throw new Error(`BIRD has ${JSON.stringify(got)}`);
      },
      20_000,
      250,
    );
    console.log(`BIRD learned ${routes.length} routes:\n    ${routes.map((r) => `${r.prefix} ${r.via.join(' ')} from ${r.protocol} as-path ${r.asPath.join(' ')}`).join('\n    ')}`);
    expect(routes.every((r) => r.protocol === 'node1' && r.asPath[0] === CLUSTER_AS)).toBe(true);
    expect(routes.some((r) => r.prefix === EXTERNAL_PREFIX)).toBe(false);
    // The check above means something only if node1 has GoBGP's route.
    const node1Rib = JSON.parse(await tabbyctl(['node', 'routes', 'node1', '-o', 'json'])) as { routes?: { prefix: string }[] } | { prefix: string }[];
    const prefixes = (Array.isArray(node1Rib) ? node1Rib : (node1Rib.routes ?? [])).map((r) => r.prefix);
    console.log(`node1's RIB has ${prefixes.length} prefixes, ${EXTERNAL_PREFIX} among them: ${prefixes.includes(EXTERNAL_PREFIX)}`);
    expect(prefixes).toContain(EXTERNAL_PREFIX);
    // GoBGP, node1's other external peer, gets the same routes (plus its own).
    const gobgpPrefixes = [...new Set((await gobgp.rib('ipv4')).map((p) => p.prefix))].sort();
    console.log(`GoBGP has ${gobgpPrefixes.length} prefixes: ${gobgpPrefixes.join(' ')}`);
    expect(gobgpPrefixes).toEqual([...want, EXTERNAL_PREFIX].sort());
  }, STEP_TIMEOUT);

  it('7. a disableBGPExport pool: its block is blackholed on node1 but appears nowhere else', async () => {
    showAgentLogsOnFailure();
    await addPools(POOL_PRIVATE);
    const wp = await addWorkload('wp', 'node1', POOL_PRIVATE);
    await waitForTables();
    const seen: string[] = [];
    // "Never": watched for 5 s after node1 has the blackhole.
    const until = Date.now() + 5000;
    while (Date.now() < until) {
      for (const n of ['node2', 'node3'] as const) for (const r of await tabbyRoutes(n)) if (within(r.dst, POOL_PRIVATE.cidr)) seen.push(`${n}: ${r.text}`);
      for (const r of await bird.routes('ipv4')) if (within(r.prefix, POOL_PRIVATE.cidr)) seen.push(`BIRD: ${r.prefix}`);
      for (const p of await gobgp.rib('ipv4')) if (within(p.prefix, POOL_PRIVATE.cidr)) seen.push(`GoBGP: ${p.prefix}`);
      await sleep(500);
    }
    console.log(`${wp.block} (disableBGPExport) blackholed on node1; seen elsewhere: ${seen.length === 0 ? 'nowhere' : seen.join(', ')}`);
    expect(seen).toEqual([]);
  }, STEP_TIMEOUT);

  it('8. afterwards every namespace and process of the fabric is gone', async () => {
    const pids = [...agents.values()].map((a) => a.service.process.pid);
    await fabric.cleanup();
    const left = await fabric.listOurs();
    console.log(`after cleanup: ${left.length} namespaces with prefix ${fabric.prefix}`);
    expect(left).toEqual([]);
    for (const pid of pids) expect(() => process.kill(pid, 0), `pid ${pid} is gone`).toThrow();
  }, STEP_TIMEOUT);
});
