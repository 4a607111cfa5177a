/**
 * BGPPeer `reachableBy` end to end (Calico: the gateway through which the peer is reached;
 * BIRD's static `route <peerIP>/32 via <reachableBy>;`): the agent with the linux data plane
 * programs that host route (protocol 84, table main), and it is what carries the session.
 *
 * The fabric (nothing in this machine's own namespace, only 198.18.0.0/15 and a pool in
 * 198.19.40.0/24, no link to the root namespace):
 *
 *                      br0 198.18.40.0/24 (in ctl)
 *   ctl .1 ── node1 .11 ── r1 .2 ── 198.18.41.1/30 ──┐
 *                       └─ r2 .3 ── 198.18.41.5/30 ──┴─ bird (lo 198.18.42.1/32, AS 64513)
 *
 * - `ctl`: the bridge, nats-server, tabby-store, tabby-ipam, tabby-topology, tabbyctl; it
 *   forwards nothing. node1's default route points at it, so without a host route node1's
 *   packets to BIRD die there;
 * - `node1`: tabby-agent (AS 64512) with `--dataplane linux`;
 * - `r1`, `r2`: routers on node1's link, each with a /30 to `bird` and a route to BIRD's
 *   address; `bird` routes back through r1 (its default);
 * - `bird`: BIRD with its session address on lo (a router's loopback, the usual reachableBy
 *   case), eBGP multihop 2 to node1; no kernel protocol.
 *
 * Steps, in order:
 * 1. the BGPPeer without reachableBy: the agent dials, no route to BIRD is programmed, the
 *    session never comes up (the premise: BIRD is reachable only through a gateway);
 * 2. reachableBy r1: `198.18.42.1 via 198.18.40.2 dev eth0 proto 84` appears beside the
 *    node's blackhole and workload route, the session is Established on both ends (BIRD's
 *    `show protocols`, `tabbyctl node status`) and BIRD has exactly the node's block (the
 *    host route is not announced), and it never flapped since it first came up (the agent's own
 *    dial, pending while no route led to BIRD, is abandoned when BIRD's connection is accepted);
 * 3. reachableBy r2: the route moves to `via 198.18.40.3`, the session stays up without a
 *    flap and its packets now pass r2;
 * 4. deleting the BGPPeer removes the host route and nothing else;
 * 5. afterwards no namespace and no process of the fabric is left.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { NetnsControlPlane, eventually, fabricTestbed, phaseLogger, sameBirdSince, sleep, startBirdIn, type BirdProcess, type KernelRoute, type NodeStatusRow, type ServiceProcess } from '@tabby/harness';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';

// Registered before anything is built: namespaces and processes go even when set-up fails.
const { fabric, dir, cleanup } = fabricTestbed('tabby-reachable-by-');
afterAll(cleanup, 60_000);

const CTL = '198.18.40.1';
const NODE = 'node1';
const NODE_IP = '198.18.40.11';
const R1 = '198.18.40.2';
const R2 = '198.18.40.3';
/** r1 ↔ bird and r2 ↔ bird, /30 each. */
const R1_BIRD = '198.18.41.1';
const BIRD_R1 = '198.18.41.2';
const R2_BIRD = '198.18.41.5';
const BIRD_R2 = '198.18.41.6';
/** BIRD's session address, on its lo: reachable from node1 only through r1 or r2. */
const BIRD_IP = '198.18.42.1';
const CLUSTER_AS = 64512;
const BIRD_AS = 64513;
const POOL = { name: 'pool-rb', cidr: '198.19.40.0/24', blockSize: 26 };
const TABBY_PROTO = 84;
const STEP_TIMEOUT = 90_000;

const ctlNs = fabric.ns('ctl');
const nodeNs = fabric.ns(NODE);
const r1Ns = fabric.ns('r1');
const r2Ns = fabric.ns('r2');
const birdNs = fabric.ns('bird');
/** nats-server, tabby-store, tabby-ipam, tabby-topology and tabbyctl in ctl, on CTL. */
const controlPlane = new NetnsControlPlane(fabric, ctlNs, CTL, dir.path);
let agent: ServiceProcess;
let bird: BirdProcess;
/** node1's block and its workload's host-side route, as `ip route` shows them. */
let nodeRoutes: string[] = [];
let block = '';

// ---------------------------------------------------------------- helpers

const tabbyctl = (args: readonly string[], input?: string): Promise<string> => controlPlane.tabbyctl(args, input);

function peerManifest(reachableBy?: string): string {
  return `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: node1-bird
spec:
  node: ${NODE}
  peerIP: ${BIRD_IP}
  asNumber: ${BIRD_AS}
${reachableBy ? `  reachableBy: ${reachableBy}\n` : ''}`;
}

/** node1's routes with Tabby's protocol (table main), by shape: `198.18.42.1/32 via 198.18.40.2 dev eth0`. */
async function tabbyRoutes(): Promise<string[]> {
  const routes: KernelRoute[] = await fabric.routes(nodeNs, { proto: TABBY_PROTO });
  // The shape only: the agent writes a gateway on a connected network as `dev IF onlink`.
  const shape = (r: KernelRoute): string =>
    r.type !== 'unicast' ? `${r.type} ${r.dst}` : r.gateway ? `${r.dst} via ${r.gateway} dev ${r.dev}` : `${r.dst} dev ${r.dev}${r.scope === 'link' ? ' scope link' : ''}`;
  return routes.map(shape).sort();
}

/** BIRD's row of `tabbyctl node status node1`: state, since and info, or undefined without one. */
const nodeStatusRow = (): Promise<NodeStatusRow | undefined> => controlPlane.nodeStatusRow(NODE, BIRD_IP);

/** node1's own dials to BIRD still waiting for an answer (sockets in SYN-SENT). */
async function pendingDials(): Promise<string[]> {
  const r = await fabric.exec(nodeNs, 'ss', ['-Htn', 'state', 'syn-sent', 'dst', BIRD_IP]);
  return r.stdout.split('\n').filter((l) => l.trim() !== '');
}

/** Packets r2 has sent to BIRD (its end of the r2 ↔ bird link). */
async function r2ToBirdPackets(): Promise<number> {
  const link = JSON.parse(await fabric.ip(r2Ns, ['-s', '-j', 'link', 'show', 'dev', 'rb'])) as { stats64?: { tx?: { packets?: number } } }[];
  return link[0]?.stats64?.tx?.packets ?? 0;
}

function showLogsOnFailure(): void {
  onTestFailed(async () => {
    const lines = agent.process.output().split('\n');
    console.log(`--- agent (pid ${agent.process.pid}) warnings/errors and route/peer lines, last 20:\n${lines
      .filter((l) => /"level":(40|50|60)|route|peer/i.test(l))
      .slice(-20)
      .join('\n')}`);
    console.log(`--- node1 ip route:\n${await fabric.ip(nodeNs, ['route', 'show'])}`);
    const logFile = path.join(dir.path, 'bird.log');
    const birdLog = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n') : ['(no bird.log)'];
    console.log(`--- BIRD's log (states, events), last 25:\n${birdLog.slice(-25).join('\n')}`);
  });
}

// ---------------------------------------------------------------- set-up

async function buildFabric(): Promise<void> {
  await fabric.addNamespace('ctl');
  await fabric.addBridge(ctlNs, 'br0', `${CTL}/24`);
  // node1's default gateway forwards nothing: what is not on br0 dies here.
  await fabric.sysctl(ctlNs, { 'net.ipv4.ip_forward': 0 });
  await fabric.addNamespace(NODE);
  await fabric.connectToBridge(ctlNs, 'br0', nodeNs, { port: 'p-node1', address: `${NODE_IP}/24` });
  await fabric.ip(nodeNs, ['route', 'add', 'default', 'via', CTL, 'dev', 'eth0']);

  await fabric.addNamespace('bird');
  await fabric.ip(birdNs, ['addr', 'add', `${BIRD_IP}/32`, 'dev', 'lo']);
  for (const [short, ns, lan, routerEnd, birdEnd, birdIf] of [
    ['r1', r1Ns, R1, R1_BIRD, BIRD_R1, 'r1'],
    ['r2', r2Ns, R2, R2_BIRD, BIRD_R2, 'r2'],
  ] as const) {
    await fabric.addNamespace(short);
    await fabric.connectToBridge(ctlNs, 'br0', ns, { port: `p-${short}`, address: `${lan}/24` });
    await fabric.connectDirect({ ns, ifname: 'rb', address: `${routerEnd}/30` }, { ns: birdNs, ifname: birdIf, address: `${birdEnd}/30` });
    await fabric.sysctl(ns, { 'net.ipv4.ip_forward': 1 });
    await fabric.ip(ns, ['route', 'add', `${BIRD_IP}/32`, 'via', birdEnd, 'dev', 'rb']);
  }
  // BIRD answers through r1 whichever router brought the packet: no reverse-path filter.
  await fabric.ip(birdNs, ['route', 'add', 'default', 'via', R1_BIRD, 'dev', 'r1']);
  await fabric.sysctl(birdNs, { 'net.ipv4.conf.all.rp_filter': 0, 'net.ipv4.conf.r1.rp_filter': 0, 'net.ipv4.conf.r2.rp_filter': 0 });
}

beforeAll(async () => {
  const phase = phaseLogger();
  await buildFabric();
  phase(`fabric ${fabric.prefix}: ${fabric.namespaces.length} namespaces`);
  await controlPlane.start();
  phase('nats-server, tabby-store, tabby-ipam, tabby-topology listening in ctl');
  await tabbyctl(
    ['apply', '-f', '-'],
    `apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  asNumber: ${CLUSTER_AS}
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: ${POOL.name}
spec:
  cidr: ${POOL.cidr}
  blockSize: ${POOL.blockSize}
  nodeSelector: all()
`,
  );
  bird = await startBirdIn(fabric, birdNs, dir.path, { address: BIRD_IP, as: BIRD_AS, peers: [{ name: 'node1', neighbor: NODE_IP, remoteAs: CLUSTER_AS, multihop: 2 }] });
  agent = await controlPlane.startAgent({ node: NODE, bgpAddress: NODE_IP });
  phase('BIRD answering, agent listening');
  // A workload gives node1 a block to announce (and a second kind of route to leave alone).
  const out = await tabbyctl(['workload', 'add', 'default/w1', '--node', NODE, '--pool', POOL.name]);
  const iface = /interface:\s+(\S+)/.exec(out)?.[1];
  const address = /addresses:\s+([\d.]+)/.exec(out)?.[1];
  if (!iface || !address) throw new Error(`tabbyctl workload add printed no interface or address:\n${out}`);
  await fabric.wireWorkload(nodeNs, 'w-w1', iface, address);
  const size = 2 ** (32 - POOL.blockSize);
  block = `${address.split('.').slice(0, 3).join('.')}.${Math.floor(Number(address.split('.')[3]) / size) * size}/${POOL.blockSize}`;
  nodeRoutes = [`blackhole ${block}`, `${address}/32 dev ${iface} scope link`].sort();
  await eventually(`node1's table to have ${JSON.stringify(nodeRoutes)}`, async () => JSON.stringify(await tabbyRoutes()) === JSON.stringify(nodeRoutes), 20_000, 200);
  phase(`workload w1 ${address} on ${iface}; node1 blackholes ${block}`);
}, 120_000);

// ---------------------------------------------------------------- steps

describe('BGPPeer reachableBy: a host route to the peer via its gateway', () => {
  it('1. without reachableBy the agent dials BIRD but the session never comes up', async () => {
    showLogsOnFailure();
    await bird.birdc('debug node1 { states, events }');
    await tabbyctl(['apply', '-f', '-'], peerManifest());
    // The agent has the peer (node status lists it) before "never" means anything.
    const row = await eventually('node status to list BIRD', nodeStatusRow, 20_000, 250);
    const path0 = (await fabric.ip(nodeNs, ['route', 'get', BIRD_IP])).trim();
    console.log(`node1 -> ${BIRD_IP} without reachableBy: ${row.state} ${row.info}; ${path0}`);
    expect(path0, 'node1 reaches BIRD only by its default route, towards ctl').toContain(`via ${CTL} dev eth0`);
    const until = Date.now() + 6000;
    while (Date.now() < until) {
      expect((await bird.protocol('node1')).bgpState).not.toBe('Established');
      await sleep(500);
    }
    expect((await nodeStatusRow())?.info).not.toBe('Established');
    expect(await tabbyRoutes()).toEqual(nodeRoutes);
  }, STEP_TIMEOUT);

  it('2. reachableBy r1: BIRD/32 via r1 with protocol 84, the session Established at both ends, BIRD has the block', async () => {
    showLogsOnFailure();
    await tabbyctl(['apply', '-f', '-'], peerManifest(R1));
    const want = [...nodeRoutes, `${BIRD_IP}/32 via ${R1} dev eth0`].sort();
    await eventually(`node1's table to have ${JSON.stringify(want)}`, async () => JSON.stringify(await tabbyRoutes()) === JSON.stringify(want), 20_000, 200);
    console.log(`node1 ip route show proto ${TABBY_PROTO}:\n    ${(await fabric.ip(nodeNs, ['route', 'show', 'proto', String(TABBY_PROTO)])).trim().split('\n').join('\n    ')}`);

    const first = await bird.waitEstablished('node1', 30_000);
    // Until the route came, both ends dialled into the void. Whichever connection won, the
    // agent's other dial must not reach BIRD later: BIRD (graceful restart aware) would take a
    // second connection for a restart of the agent and drop the session. Wait until no dial
    // of node1 is pending, give BIRD a keepalive interval to react, then require no flap.
    await eventually("node1's pending dial to BIRD to be answered or dropped", async () => (await pendingDials()).length === 0, 20_000, 100);
    const agentSide = await eventually(
      'node status to show BIRD Established',
      async () => {
        const r = await nodeStatusRow();
        if (r?.info === 'Established') return r;
        throw new Error(`node status row: ${JSON.stringify(r)}`);
      },
      20_000,
      250,
    );
    await sleep(3000);
    const birdSide = await bird.protocol('node1');
    const agentAfter = await nodeStatusRow();
    // BIRD prints one instant up to 1 ms apart from one read to the next (sameBirdSince).
    expect(birdSide.bgpState, 'BIRD: Established since it first came up').toBe('Established');
    expect(sameBirdSince(birdSide.since, first.since), `BIRD's since ${first.since} -> ${birdSide.since}`).toBe(true);
    expect([agentAfter?.info, agentAfter?.since], 'agent: Established since it first came up').toEqual(['Established', agentSide.since]);
    console.log(`session Established without a flap: BIRD since ${birdSide.since}, tabbyctl node status node1 Established since ${agentSide.since}`);

    // Exactly the node's block, with node1 as next hop: the host route is never announced.
    // (BIRD lists it as unreachable: it has no IGP routes to resolve a multihop next hop.)
    const routes = await eventually(
      `BIRD to have exactly ${block}`,
      async () => {
        const rs = await bird.routes('ipv4');
        if (JSON.stringify(rs.map((r) => r.prefix)) === JSON.stringify([block])) return rs;
        throw new Error(`BIRD has ${JSON.stringify(rs.map((r) => r.prefix))}`);
      },
      20_000,
      250,
    );
    console.log(`BIRD learned: ${routes.map((r) => `${r.prefix} ${r.dest} from ${r.protocol} next hop ${r.nextHop} as-path ${r.asPath.join(' ')}`).join('; ')}`);
    expect(routes.map((r) => [r.protocol, r.nextHop, r.asPath])).toEqual([['node1', NODE_IP, [CLUSTER_AS]]]);
  }, STEP_TIMEOUT);

  it('3. reachableBy r2: the route moves to r2, the session stays up and passes r2', async () => {
    showLogsOnFailure();
    const before = await bird.protocol('node1');
    await tabbyctl(['apply', '-f', '-'], peerManifest(R2));
    const want = [...nodeRoutes, `${BIRD_IP}/32 via ${R2} dev eth0`].sort();
    await eventually(`node1's table to have ${JSON.stringify(want)}`, async () => JSON.stringify(await tabbyRoutes()) === JSON.stringify(want), 20_000, 200);
    // Keepalives every 3 s (hold 9): two of them must now go through r2.
    const sent = await r2ToBirdPackets();
    await eventually('node1 -> BIRD packets through r2', async () => (await r2ToBirdPackets()) >= sent + 2, 15_000, 250);
    const after = await bird.protocol('node1');
    console.log(`route moved to ${R2}; r2 forwarded ${(await r2ToBirdPackets()) - sent} packets to BIRD; BIRD ${after.bgpState} since ${after.since} (before: ${before.since})`);
    expect(after.bgpState).toBe('Established');
    expect(sameBirdSince(after.since, before.since), `BIRD's since ${before.since} -> ${after.since}`).toBe(true);
  }, STEP_TIMEOUT);

  it('4. deleting the BGPPeer removes the host route and nothing else', async () => {
    showLogsOnFailure();
    await tabbyctl(['delete', 'bgppeer', 'node1-bird']);
    await eventually(`node1's table to be back to ${JSON.stringify(nodeRoutes)}`, async () => JSON.stringify(await tabbyRoutes()) === JSON.stringify(nodeRoutes), 20_000, 200);
    const p = await bird.protocol('node1');
    console.log(`BGPPeer deleted: node1 has ${JSON.stringify(await tabbyRoutes())}; BIRD ${p.state} ${p.info}`);
  }, STEP_TIMEOUT);

  it('5. afterwards every namespace and process of the fabric is gone', async () => {
    const pids = [agent.process.pid, bird.process.pid];
    await fabric.cleanup();
    expect(await fabric.listOurs()).toEqual([]);
    for (const pid of pids) expect(() => process.kill(pid, 0), `pid ${pid} is gone`).toThrow();
  }, STEP_TIMEOUT);
});
