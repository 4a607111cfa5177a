/**
 * Issue 12, "IPv6 works the same way": the cluster of routes-reach-the-kernel.test.ts made
 * dual-stack, on a fabric of its own.
 *
 * The fabric (nothing in this machine's own namespace; IPv4 from 198.18.0.0/15, IPv6 from
 * 2001:db8::/32 only; no link to the root namespace):
 * - `ctl`: bridge br0 198.18.0.1/24; nats-server, tabby-store, tabby-ipam, tabby-topology;
 *   tabbyctl runs here (the control plane speaks IPv4);
 * - `node1..3`: eth0 198.18.0.11-13/24 and 2001:db8:0:1::11-13/64 (nodad) on br0, forwarding
 *   on for both families, one tabby-agent each with `--bgp-ipv6-address` and the linux data
 *   plane: the Node gets its ipv6Address and the mesh runs one IPv4 and one IPv6 session per
 *   node pair, as Calico does;
 * - workloads: dual-stack, one namespace each, wired as Calico's CNI plugin does
 *   (Fabric.wireWorkload): ADDR/32 and ADDR/128 on eth0, IPv6 default via
 *   fe80::ecee:eeff:feee:eeee — the link-local address the kernel gives the host side from
 *   its MAC ee:ee:ee:ee:ee:ee, so the host answers the neighbour solicitations for the
 *   gateway itself (no proxy NDP needed); the agent adds the /32 and /128 routes.
 *
 * Steps run in order; each prints what it saw (routes per node and family, ping results).
 */
import { FABRIC_RANGE, FABRIC_RANGE_V6, NetnsControlPlane, eventually, fabricTestbed, phaseLogger, type KernelRoute, type PingResult, type ServiceProcess, type WorkloadWiring } from '@tabby/harness';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';

// Registered before anything is built: namespaces and processes go even when set-up fails.
const { fabric, dir, cleanup } = fabricTestbed('tabby-netns6-');
afterAll(cleanup, 60_000);

const NODES = ['node1', 'node2', 'node3'] as const;
type NodeName = (typeof NODES)[number];
type Family = 4 | 6;
const CTL = '198.18.0.1';
const NODE_IP: Record<NodeName, string> = { node1: '198.18.0.11', node2: '198.18.0.12', node3: '198.18.0.13' };
const NODE_IP6: Record<NodeName, string> = { node1: '2001:db8:0:1::11', node2: '2001:db8:0:1::12', node3: '2001:db8:0:1::13' };
const nodeAddress = (n: NodeName, f: Family): string => (f === 4 ? NODE_IP[n] : NODE_IP6[n]);
const CLUSTER_AS = 64512;
const TABBY_PROTO = 84;
const STEP_TIMEOUT = 60_000;

interface Pool {
  readonly name: string;
  readonly cidr: string;
  readonly blockSize: number;
  readonly family: Family;
}
const POOL_V4: Pool = { name: 'pool-v4', cidr: '198.19.0.0/24', blockSize: 26, family: 4 };
/** Calico's default IPv6 block size (the pool validation allows 116-128). */
const POOL_V6: Pool = { name: 'pool-v6', cidr: '2001:db8:100::/112', blockSize: 122, family: 6 };
const POOLS = [POOL_V4, POOL_V6];

interface Workload extends WorkloadWiring {
  readonly name: string;
  readonly node: NodeName;
  readonly ipv6Address: string;
  /** Its block of each family. */
  readonly blocks: Record<Family, string>;
}
const workloads = new Map<string, Workload>();
/** Block → the node it is affine to (the node of its first workload). */
const blockOwner = new Map<string, NodeName>();

const agents = new Map<NodeName, ServiceProcess>();
const ctlNs = fabric.ns('ctl');
const nodeNs = (n: NodeName): string => fabric.ns(n);
/** nats-server, tabby-store, tabby-ipam, tabby-topology and tabbyctl in ctl, on CTL (the control plane speaks IPv4). */
const controlPlane = new NetnsControlPlane(fabric, ctlNs, CTL, dir.path);

// ---------------------------------------------------------------- addresses

/** An address as a number (IPv4 or IPv6) and its family. */
function toBig(ip: string): { value: bigint; family: Family } {
  if (!ip.includes(':')) return { value: ip.split('.').reduce((a, o) => a * 256n + BigInt(o), 0n), family: 4 };
  const [head, tail] = ip.split('::');
  const groups = (s: string | undefined): string[] => (s ? s.split(':') : []);
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return { value: all.reduce((a, g) => a * 65536n + BigInt(parseInt(g, 16)), 0n), family: 6 };
}

/** Canonical text (RFC 5952 for IPv6, as iproute2 prints it; the WHATWG URL host serializer compresses the same way). */
function fromBig(value: bigint, family: Family): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 255n)).join('.');
  const groups = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((s) => ((value >> s) & 65535n).toString(16));
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

function networkOf(ip: string, len: number): string {
  const { value, family } = toBig(ip);
  const host = BigInt((family === 4 ? 32 : 128) - len);
  return `${fromBig((value >> host) << host, family)}/${len}`;
}

/** True when prefix `inner` lies inside `outer` (same family). */
function within(inner: string, outer: string): boolean {
  const [ip, len] = inner.split('/');
  const [oip, olen] = outer.split('/');
  return ip.includes(':') === oip.includes(':') && Number(len) >= Number(olen) && networkOf(ip, Number(olen)) === outer;
}

const familyOf = (prefix: string): Family => (prefix.includes(':') ? 6 : 4);
const hostLen = (f: Family): number => (f === 4 ? 32 : 128);

// ---------------------------------------------------------------- tabbyctl

const tabbyctl = (args: readonly string[], input?: string): Promise<string> => controlPlane.tabbyctl(args, input);

function poolManifest(p: Pool): string {
  return `apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: ${p.name}
spec:
  cidr: ${p.cidr}
  blockSize: ${p.blockSize}
  nodeSelector: all()
`;
}

/** `tabbyctl workload add --ipv6` from both pools, then the dual-stack Calico wiring of its namespace. */
async function addWorkload(name: string, node: NodeName): Promise<Workload> {
  const out = await tabbyctl(['workload', 'add', `default/${name}`, '--node', node, '--ipv6', '--pool', POOL_V4.name, '--pool', POOL_V6.name]);
  const iface = /interface:\s+(\S+)/.exec(out)?.[1];
  const addresses = (/addresses:\s+(.+)/.exec(out)?.[1] ?? '').split(',').map((a) => a.trim().split('/')[0]);
  const v4 = addresses.find((a) => a.includes('.'));
  const v6 = addresses.find((a) => a.includes(':'));
  if (!iface || !v4 || !v6) throw new Error(`tabbyctl workload add --ipv6 printed no interface or not both addresses:\n${out}`);
  for (const p of POOLS) expect(within(`${p.family === 4 ? v4 : v6}/${hostLen(p.family)}`, p.cidr), `${name}'s IPv${p.family} address is in ${p.cidr}`).toBe(true);
  const blocks: Record<Family, string> = { 4: networkOf(v4, POOL_V4.blockSize), 6: networkOf(v6, POOL_V6.blockSize) };
  for (const b of Object.values(blocks)) if (!blockOwner.has(b)) blockOwner.set(b, node);
  const wiring = await fabric.wireWorkload(nodeNs(node), `w-${name}`, iface, v4, { ipv6Address: v6 });
  const w: Workload = { ...wiring, name, node, ipv6Address: v6, blocks };
  workloads.set(name, w);
  console.log(`workload ${name} on ${node}: ${v4} (block ${blocks[4]}), ${v6} (block ${blocks[6]}) on ${iface}`);
  return w;
}

function wl(name: string): Workload {
  const w = workloads.get(name);
  if (!w) throw new Error(`no workload ${name}`);
  return w;
}

const addressOf = (w: Workload, f: Family): string => (f === 4 ? w.address : w.ipv6Address);

// ---------------------------------------------------------------- sessions

interface PeerRow {
  peerIP: string;
  state: string;
  info: string;
}
interface NodeStatusObject {
  metadata?: { name?: string };
  status?: { bgp?: { peersV4?: PeerRow[]; peersV6?: PeerRow[] } };
}

/** Every node's Established sessions of a family, by peer address, from the NodeStatus the agents report. */
async function establishedSessions(): Promise<Map<string, Record<Family, Set<string>>>> {
  const list = JSON.parse(await tabbyctl(['get', 'nodestatus', '-o', 'json'])) as { items?: NodeStatusObject[] };
  const up = (rows: PeerRow[] | undefined): Set<string> => new Set((rows ?? []).filter((r) => r.state === 'up' && r.info === 'Established').map((r) => r.peerIP));
  const out = new Map<string, Record<Family, Set<string>>>();
  for (const item of list.items ?? []) out.set(item.metadata?.name ?? '', { 4: up(item.status?.bgp?.peersV4), 6: up(item.status?.bgp?.peersV6) });
  return out;
}

/** The full mesh, per family: every node has every other node's address of that family. */
const MESH: (readonly [NodeName, Family, string])[] = NODES.flatMap((n) => NODES.filter((o) => o !== n).flatMap((o) => [[n, 4, NODE_IP[o]] as const, [n, 6, NODE_IP6[o]] as const]));

async function meshEstablished(): Promise<Map<string, Record<Family, Set<string>>>> {
  const now = await establishedSessions();
  const missing = MESH.filter(([n, f, peer]) => !(now.get(n)?.[f].has(peer) ?? false));
  if (missing.length > 0) throw new Error(`not Established: ${missing.map(([n, f, p]) => `${n} → ${p} (IPv${f})`).join(', ')}`);
  return now;
}

// ---------------------------------------------------------------- kernel routes

/** The routes Tabby programmed on a node: `ip -j [-6] route show proto 84` (table main). */
function tabbyRoutes(node: NodeName, family: Family): Promise<KernelRoute[]> {
  return fabric.routes(nodeNs(node), { proto: TABBY_PROTO, family });
}

/** A route's shape, without metric or flags (an IPv6 blackhole's `dev lo` left out too). */
function shape(r: KernelRoute): string {
  if (r.type !== 'unicast') return `${r.type} ${r.dst}`;
  if (r.nexthops.length > 0) return `${r.dst} ${r.nexthops.map((n) => `nexthop ${n}`).join(' ')}`;
  if (r.gateway) return `${r.dst} via ${r.gateway} dev ${r.dev}`;
  return `${r.dst} dev ${r.dev}${r.scope === 'link' ? ' scope link' : ''}`;
}

/**
 * The routes a node should have, as Calico's node would have them (reference dataplane.md
 * §1: "IPv6 is the same with /128"): a blackhole for its own block, each other node's block
 * via that node's address of the family, a host route to each local workload — `scope link`
 * for IPv4; IPv6 routes carry no scope (the kernel keeps none, iproute2 prints none).
 */
function expectedRoutes(node: NodeName, family: Family): string[] {
  const out: string[] = [];
  for (const [block, owner] of blockOwner) {
    if (familyOf(block) !== family) continue;
    if (owner === node) out.push(`blackhole ${block}`);
    else out.push(`${block} via ${nodeAddress(owner, family)} dev eth0`);
  }
  for (const w of workloads.values()) if (w.node === node) out.push(`${addressOf(w, family)}/${hostLen(family)} dev ${w.interfaceName}${family === 4 ? ' scope link' : ''}`);
  return out.sort();
}

function describeTable(node: NodeName, family: Family, routes: readonly KernelRoute[]): string {
  const count = (f: (r: KernelRoute) => boolean): number => routes.filter(f).length;
  const host = `/${hostLen(family)}`;
  const blackholes = count((r) => r.type === 'blackhole');
  const remote = count((r) => r.type === 'unicast' && (r.gateway !== undefined || r.nexthops.length > 0));
  const local = count((r) => r.type === 'unicast' && r.dst.endsWith(host) && r.gateway === undefined && r.nexthops.length === 0);
  return [
    `${node} IPv${family}: ${routes.length} routes proto ${TABBY_PROTO} (blackhole ${blackholes}, block via node ${remote}, ${host} to a workload ${local})`,
    ...routes.map((r) => `    ${r.text}`),
  ].join('\n');
}

/** Waits until a node's proto-84 routes of a family are exactly the expected ones, each once. */
async function waitForTable(node: NodeName, family: Family, timeoutMs = 20_000): Promise<KernelRoute[]> {
  const want = expectedRoutes(node, family);
  return eventually(
    `${node}'s IPv${family} routes to be ${JSON.stringify(want)}`,
    async () => {
      const routes = await tabbyRoutes(node, family);
      const got = routes.map(shape).sort();
      if (JSON.stringify(got) === JSON.stringify(want)) return routes;
      throw new Error(`got ${JSON.stringify(got)}`);
    },
    timeoutMs,
    200,
  );
}

/** Both families of every node, then prints them. */
async function waitForTables(): Promise<void> {
  const seen: string[] = [];
  for (const f of [6, 4] as const) for (const n of NODES) seen.push(describeTable(n, f, await waitForTable(n, f)));
  console.log(seen.join('\n'));
}

function logPing(what: string, r: PingResult): void {
  console.log(`ping ${what}: ${r.transmitted} sent, ${r.received} received, ${r.lost} lost${r.missingSeqs.length > 0 ? ` (seq ${r.missingSeqs.join(',')})` : ''}`);
}

/** On a failed step: the agents' warnings and errors, to say why. */
function showAgentLogsOnFailure(): void {
  onTestFailed(() => {
    for (const [node, a] of agents) {
      const lines = a.process
        .output()
        .split('\n')
        .filter((l) => /"level":(40|50|60)/.test(l));
      console.log(`--- ${node} agent (pid ${a.process.pid}) warnings/errors, last 15:\n${lines.slice(-15).join('\n')}`);
    }
  });
}

// ---------------------------------------------------------------- set-up

async function buildFabric(): Promise<void> {
  await fabric.addNamespace('ctl');
  await fabric.addBridge(ctlNs, 'br0', `${CTL}/24`);
  await fabric.sysctl(ctlNs, { 'net.ipv4.ip_forward': 0, 'net.ipv6.conf.all.forwarding': 0 });
  await Promise.all(
    NODES.map(async (n) => {
      const ns = await fabric.addNamespace(n);
      await fabric.connectToBridge(ctlNs, 'br0', ns, { port: `p-${n}`, address: `${NODE_IP[n]}/24`, ipv6Address: `${NODE_IP6[n]}/64` });
      await fabric.sysctl(ns, { 'net.ipv4.ip_forward': 1, 'net.ipv6.conf.all.forwarding': 1 });
      // Proxy ARP for 169.254.1.1 answers only for an address the host can route elsewhere.
      await fabric.ip(ns, ['route', 'add', 'default', 'via', CTL, 'dev', 'eth0']);
    }),
  );
}

async function configureCluster(): Promise<void> {
  await tabbyctl(
    ['apply', '-f', '-'],
    `apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  nodeToNodeMeshEnabled: true
  asNumber: ${CLUSTER_AS}
---
${POOLS.map(poolManifest).join('---\n')}`,
  );
}

async function startAgent(node: NodeName): Promise<void> {
  const service = await controlPlane.startAgent({ node, bgpAddress: NODE_IP[node], bgpIpv6Address: NODE_IP6[node], peerAllow: `${FABRIC_RANGE},${FABRIC_RANGE_V6}` });
  agents.set(node, service);
}

beforeAll(async () => {
  const phase = phaseLogger();
  await buildFabric();
  phase(`fabric ${fabric.prefix}: namespaces, bridge, veths (dual-stack eth0)`);
  await controlPlane.start();
  phase('nats-server, tabby-store, tabby-ipam, tabby-topology listening in ctl');
  await configureCluster();
  await Promise.all(NODES.map((n) => startAgent(n)));
  phase('cluster configured; agents listening');
  await eventually('every mesh session of both families to be Established', meshEstablished, 40_000, 250);
  phase('every IPv4 and IPv6 mesh session Established');
  await Promise.all([addWorkload('w1', 'node1'), addWorkload('w2', 'node2'), addWorkload('w3', 'node3').then(() => addWorkload('w3-gone', 'node3'))]);
  phase(`${workloads.size} dual-stack workloads added and wired; ${fabric.namespaces.length} namespaces`);
}, 90_000);

// ---------------------------------------------------------------- steps

describe('IPv6 works the same way (issue 12)', () => {
  it('1. every Node has its ipv6Address, and the mesh runs an IPv6 session beside the IPv4 one for each node pair', async () => {
    showAgentLogsOnFailure();
    const list = JSON.parse(await tabbyctl(['get', 'node', '-o', 'json'])) as { items?: { metadata?: { name?: string }; spec?: { bgp?: { ipv4Address?: string; ipv6Address?: string } } }[] };
    const registered = new Map((list.items ?? []).map((i) => [i.metadata?.name ?? '', i.spec?.bgp ?? {}]));
    for (const n of NODES) {
      const bgp = registered.get(n);
      console.log(`Node ${n}: ipv4Address ${bgp?.ipv4Address}, ipv6Address ${bgp?.ipv6Address}`);
      expect(bgp?.ipv6Address?.split('/')[0], `${n}'s ipv6Address`).toBe(NODE_IP6[n]);
      expect(bgp?.ipv4Address?.split('/')[0], `${n}'s ipv4Address`).toBe(NODE_IP[n]);
    }
    const sessions = await meshEstablished();
    for (const n of NODES) {
      const s = sessions.get(n)!;
      console.log(`${n}: Established IPv4 ${[...s[4]].sort().join(' ')}; IPv6 ${[...s[6]].sort().join(' ')}`);
      // Exactly one session per family and pair: nothing else in either list.
      expect([...s[4]].sort()).toEqual(NODES.filter((o) => o !== n).map((o) => NODE_IP[o]));
      expect([...s[6]].sort()).toEqual(NODES.filter((o) => o !== n).map((o) => NODE_IP6[o]));
    }
  }, STEP_TIMEOUT);

  it("2. every node's tables: a blackhole for its /122, the other nodes' /122s via their IPv6 addresses, a /128 per local workload; IPv4 alongside", async () => {
    showAgentLogsOnFailure();
    await waitForTables();
    for (const n of NODES) {
      const v6 = await tabbyRoutes(n, 6);
      const dsts = v6.map((r) => r.dst);
      expect(
        dsts.filter((d, i) => dsts.indexOf(d) !== i),
        `${n} has duplicate IPv6 routes`,
      ).toEqual([]);
    }
    // One session per family: node1's IPv6 paths came over the IPv6 sessions, next hop the
    // sending node's IPv6 address (and IPv4 likewise), never across families.
    const rib = JSON.parse(await tabbyctl(['node', 'routes', 'node1', '-o', 'json'])) as { routes?: { prefix: string; family: string; local: boolean; paths: { fromPeer: string; nextHop: string }[] }[] };
    const learned = (rib.routes ?? []).filter((r) => !r.local).flatMap((r) => r.paths.map((p) => ({ prefix: r.prefix, family: r.family, ...p })));
    console.log(`node1's RIB, learned paths:\n    ${learned.map((p) => `${p.prefix} (${p.family}) via ${p.nextHop} from ${p.fromPeer}`).join('\n    ')}`);
    const others = NODES.filter((o) => o !== 'node1');
    const want = (f: Family): string[] => others.map((o) => `${[...blockOwner].find(([b, n]) => n === o && familyOf(b) === f)![0]} via ${nodeAddress(o, f)} from ${nodeAddress(o, f)}`);
    const fromPeer = (p: string): string => p.replace(/^\[(.*)\](:\d+)?$/, '$1').replace(/^([\d.]+):\d+$/, '$1');
    expect(learned.map((p) => `${p.prefix} via ${p.nextHop} from ${fromPeer(p.fromPeer)}`).sort()).toEqual([...want(4), ...want(6)].sort());
    const w3 = wl('w3');
    console.log(`node1: ip -6 route get ${w3.ipv6Address}: ${(await fabric.ip(nodeNs('node1'), ['-6', 'route', 'get', w3.ipv6Address])).trim()}`);
  }, STEP_TIMEOUT);

  it('3. ping -6 from a workload on node1 to one on node3 (and node2); IPv4 pings alongside', async () => {
    showAgentLogsOnFailure();
    const w1 = wl('w1');
    const results: [string, PingResult][] = [];
    for (const target of ['w3', 'w2'] as const) {
      const t = wl(target);
      for (const f of [6, 4] as const) {
        const r = await fabric.ping(w1.namespace, addressOf(t, f), { count: 3, timeoutS: 2 });
        const what = `${f === 6 ? '-6 ' : ''}w1 (node1) -> ${target} (${t.node}) ${addressOf(t, f)}`;
        logPing(what, r);
        results.push([what, r]);
      }
    }
    for (const [what, r] of results) expect(r.received, `${what}\n${r.output}`).toBe(3);
  }, STEP_TIMEOUT);

  it('4. deleting a workload removes its /128 (and its /32) on its node; the rest stays and still answers', async () => {
    showAgentLogsOnFailure();
    const gone = wl('w3-gone');
    console.log((await tabbyctl(['workload', 'delete', 'default/w3-gone'])).trim());
    workloads.delete('w3-gone');
    // The interface is still there (CNI DEL has not run yet): the agent removed the routes.
    await waitForTables();
    const links = await fabric.ip(gone.nodeNamespace, ['-br', 'link', 'show', 'dev', gone.interfaceName]);
    expect(links, `${gone.interfaceName} still exists on node3`).toContain(gone.interfaceName);
    for (const n of NODES) {
      expect((await tabbyRoutes(n, 6)).map((r) => r.dst)).not.toContain(`${gone.ipv6Address}/128`);
      expect((await tabbyRoutes(n, 4)).map((r) => r.dst)).not.toContain(`${gone.address}/32`);
    }
    console.log(`w3-gone's ${gone.ipv6Address}/128 and ${gone.address}/32 gone from node3 (${gone.interfaceName} still there)`);
    await fabric.deleteNamespace(gone.namespace);
    const r = await fabric.ping(wl('w1').namespace, wl('w3').ipv6Address, { count: 2, timeoutS: 2 });
    logPing(`-6 w1 (node1) -> w3 (node3) ${wl('w3').ipv6Address} after the delete`, r);
    expect(r.received, r.output).toBe(2);
  }, STEP_TIMEOUT);

  it('5. afterwards every namespace and process of the fabric is gone', async () => {
    const pids = [...agents.values()].map((a) => a.process.pid);
    await fabric.cleanup();
    const left = await fabric.listOurs();
    console.log(`after cleanup: ${left.length} namespaces with prefix ${fabric.prefix}`);
    expect(left).toEqual([]);
    for (const pid of pids) expect(() => process.kill(pid, 0), `pid ${pid} is gone`).toThrow();
  }, STEP_TIMEOUT);
});
