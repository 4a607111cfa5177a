/**
 * BGPPeer `sourceAddress` and BGPConfiguration `bindMode` on the wire, against BIRD, when the
 * node's BGP address is not the address of its link to the peer (a router loopback, the
 * usual case where they matter):
 *
 *   ctl 198.18.50.1 ── br0 ── 198.18.50.11 node1 (lo 198.18.52.11/32, --bgp-address)
 *                                           └─ 198.18.51.1/30 ── 198.18.51.2 bird (AS 64513)
 *
 * - `ctl`: the bridge, nats-server, tabby-store, tabby-ipam, tabby-topology, tabbyctl;
 * - `node1`: tabby-agent (AS 64512, `--dataplane linux`, no --bgp-listen: bindMode decides);
 *   its BGP address 198.18.52.11 sits on lo, its link to BIRD is 198.18.51.1;
 * - `bird`: BIRD, direct eBGP session bound to 198.18.51.2 with `neighbor 198.18.51.1` (the
 *   node's LINK address) and a route back to the node address via the link. BIRD refuses a
 *   connection from any other address ("Unexpected connect from unknown address").
 *
 * Steps, in order:
 * 1. sourceAddress default (UseNodeIP), BIRD passive: the agent dials from 198.18.52.11, BIRD
 *    refuses it (its log names that address) and the session never comes up;
 * 2. sourceAddress None: the agent dials without a bind, the kernel picks 198.18.51.1, the
 *    session is Established at both ends (node1's socket goes 198.18.51.1 → BIRD:179);
 * 3. sourceAddress UseNodeIP again, BIRD active (it dials 198.18.51.1:179): under bindMode None
 *    (the default) the agent listens on 0.0.0.0:179 and accepts BIRD's connection: Established,
 *    node1's socket is 198.18.51.1:179 ← BIRD;
 * 4. bindMode NodeIP: node1 listens only on 198.18.52.11:179; the accepted session stays up
 *    (same since at both ends, same socket) over keepalives;
 * 5. `birdc restart`: BIRD's connection to 198.18.51.1:179 is refused, the session stays down;
 * 6. bindMode unset: 0.0.0.0:179 again, BIRD's next dial gets through: Established;
 * 7. afterwards no namespace and no process of the fabric is left.
 *
 * Safety as in the other netns tests: namespaces of this fabric only, addresses from
 * 198.18.0.0/15, no link to this machine's namespace, every process stopped by PID and every
 * namespace deleted in afterAll (also on failure).
 */
import { writeFileSync } from 'node:fs';
import {
  NetnsControlPlane,
  checkBirdConfig,
  eventually,
  fabricTestbed,
  phaseLogger,
  renderFabricBirdConfig,
  sameBirdSince,
  sleep,
  startBirdIn,
  type BirdProcess,
  type FabricBirdConfig,
  type NodeStatusRow,
  type ServiceProcess,
} from '@tabby/harness';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';

// Registered before anything is built: namespaces and processes go even when set-up fails.
const { fabric, dir, cleanup } = fabricTestbed('tabby-source-bind-');
afterAll(cleanup, 60_000);

const CTL = '198.18.50.1';
const NODE = 'node1';
/** node1 on the control-plane bridge (gRPC only). */
const NODE_ETH = '198.18.50.11';
/** node1's BGP address (--bgp-address), on its lo. */
const NODE_IP = '198.18.52.11';
/** node1's end of the /30 to BIRD. */
const NODE_LINK = '198.18.51.1';
const BIRD_IP = '198.18.51.2';
const CLUSTER_AS = 64512;
const BIRD_AS = 64513;
const STEP_TIMEOUT = 90_000;
/** BIRD's log line for a connection from an address no protocol has as its neighbor. */
const REFUSED_FROM_NODE_IP = `Unexpected connect from unknown address ${NODE_IP}`;

const ctlNs = fabric.ns('ctl');
const nodeNs = fabric.ns(NODE);
const birdNs = fabric.ns('bird');
/** nats-server, tabby-store, tabby-ipam, tabby-topology and tabbyctl in ctl, on CTL. */
const controlPlane = new NetnsControlPlane(fabric, ctlNs, CTL, dir.path);
let agent: ServiceProcess;
let bird: BirdProcess;

// ---------------------------------------------------------------- helpers

const tabbyctl = (args: readonly string[], input?: string): Promise<string> => controlPlane.tabbyctl(args, input);

async function applyBgpConfiguration(bindMode?: 'NodeIP'): Promise<void> {
  await tabbyctl(
    ['apply', '-f', '-'],
    `apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  asNumber: ${CLUSTER_AS}
${bindMode ? `  bindMode: ${bindMode}\n` : ''}`,
  );
}

async function applyPeer(sourceAddress?: 'None'): Promise<void> {
  await tabbyctl(
    ['apply', '-f', '-'],
    `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: node1-bird
spec:
  node: ${NODE}
  peerIP: ${BIRD_IP}
  asNumber: ${BIRD_AS}
${sourceAddress ? `  sourceAddress: ${sourceAddress}\n` : ''}`,
  );
}

function birdConfig(passive: boolean): FabricBirdConfig {
  // A direct eBGP session (no multihop): the neighbor is the node's address on the link.
  return { address: BIRD_IP, as: BIRD_AS, peers: [{ name: 'node1', neighbor: NODE_LINK, remoteAs: CLUSTER_AS, passive }] };
}

/** Rewrites bird.conf (passive or not), has BIRD reload it, and restarts the session. */
async function reconfigureBird(passive: boolean): Promise<void> {
  const text = renderFabricBirdConfig(birdConfig(passive));
  const staged = `${bird.configPath}.next`;
  writeFileSync(staged, text);
  await checkBirdConfig(staged, text);
  writeFileSync(bird.configPath, text);
  await bird.birdc('configure');
  await bird.birdc('restart node1');
}

/** BIRD's row of `tabbyctl node status node1`, or undefined without one. */
const nodeStatusRow = (): Promise<NodeStatusRow | undefined> => controlPlane.nodeStatusRow(NODE, BIRD_IP);

async function agentEstablished(): Promise<NodeStatusRow> {
  return eventually(
    'tabbyctl node status node1 to show BIRD Established',
    async () => {
      const row = await nodeStatusRow();
      if (row?.info === 'Established') return row;
      throw new Error(`node status row: ${JSON.stringify(row)}`);
    },
    20_000,
    250,
  );
}

/** node1's BGP listening sockets (`ss -ltn`), local address:port. */
async function listening(): Promise<string[]> {
  const r = await fabric.exec(nodeNs, 'ss', ['-Hltn', 'sport', '=', ':179']);
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.trim().split(/\s+/)[3])
    .sort();
}

/** node1's established BGP connections (`ss -tn`), as `local peer`. */
async function connections(): Promise<string[]> {
  const r = await fabric.exec(nodeNs, 'ss', ['-Htn', 'state', 'established', '(', 'sport', '=', ':179', 'or', 'dport', '=', ':179', ')']);
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.trim().split(/\s+/).slice(2, 4).join(' '));
}

/** Waits until node1 listens on exactly `want` (`ss -ltn`); the timeout names the agent's bindMode error, if it logged one. */
async function waitListening(want: readonly string[]): Promise<void> {
  await eventually(
    `node1 to listen on ${want.join(' or ')} only`,
    async () => {
      const have = await listening();
      if (have.length === 1 && want.includes(have[0])) return true;
      const err = agent.process
        .output()
        .split('\n')
        .filter((l) => l.includes('cannot follow bindMode'))
        .at(-1);
      throw new Error(`ss -ltn: ${JSON.stringify(have)}; agent: ${err ?? 'no bindMode error logged'}`);
    },
    10_000,
    200,
  );
}

function refusalsFromNodeIp(): number {
  return bird.process.output().split(REFUSED_FROM_NODE_IP).length - 1;
}

/** Asserts for `ms` that neither BIRD nor the agent reports the session Established. */
async function staysDown(ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    expect((await bird.protocol('node1')).bgpState).not.toBe('Established');
    expect((await nodeStatusRow())?.info).not.toBe('Established');
    await sleep(500);
  }
}

function showLogsOnFailure(): void {
  onTestFailed(async () => {
    const lines = agent.process.output().split('\n');
    console.log(`--- agent (pid ${agent.process.pid}) warnings/errors and peer/listen lines, last 25:\n${lines
      .filter((l) => /"level":(40|50|60)|peer|listen|bindMode|connect/i.test(l))
      .slice(-25)
      .join('\n')}`);
    console.log(`--- node1 ss -tan port 179:\n${(await fabric.exec(nodeNs, 'ss', ['-tan', '(', 'sport', '=', ':179', 'or', 'dport', '=', ':179', ')'])).stdout}`);
    console.log(`--- BIRD (pid ${bird.process.pid}), last 25 lines:\n${bird.process.output().split('\n').slice(-25).join('\n')}`);
  });
}

// ---------------------------------------------------------------- set-up

async function buildFabric(): Promise<void> {
  await fabric.addNamespace('ctl');
  await fabric.addBridge(ctlNs, 'br0', `${CTL}/24`);
  await fabric.addNamespace(NODE);
  await fabric.connectToBridge(ctlNs, 'br0', nodeNs, { port: 'p-node1', address: `${NODE_ETH}/24` });
  await fabric.ip(nodeNs, ['addr', 'add', `${NODE_IP}/32`, 'dev', 'lo']);
  await fabric.addNamespace('bird');
  await fabric.connectDirect({ ns: nodeNs, ifname: 'nb', address: `${NODE_LINK}/30` }, { ns: birdNs, ifname: 'bn', address: `${BIRD_IP}/30` });
  // BIRD answers the node address too: a connection from it is refused by BIRD, not lost.
  await fabric.ip(birdNs, ['route', 'add', `${NODE_IP}/32`, 'via', NODE_LINK, 'dev', 'bn']);
}

beforeAll(async () => {
  const phase = phaseLogger();
  await buildFabric();
  phase(`fabric ${fabric.prefix}: ${fabric.namespaces.length} namespaces`);
  await controlPlane.start();
  phase('nats-server, tabby-store, tabby-ipam, tabby-topology listening in ctl');
  await applyBgpConfiguration();
  bird = await startBirdIn(fabric, birdNs, dir.path, birdConfig(true));
  await bird.birdc('debug node1 { states, events }');
  // No --bgp-listen: bindMode decides where it listens; gRPC on the bridge.
  agent = await controlPlane.startAgent({ node: NODE, bgpAddress: NODE_IP, listenAddress: NODE_ETH });
  phase('BIRD (passive) answering, agent listening');
}, 120_000);

// ---------------------------------------------------------------- steps

describe('sourceAddress and bindMode when the node address is not the link address', () => {
  it('1. sourceAddress UseNodeIP (default): the agent dials from the node address, BIRD refuses it, no session', async () => {
    showLogsOnFailure();
    await applyPeer();
    // On the wire: BIRD saw the agent's connection come from 198.18.52.11 and dropped it.
    await bird.process.waitForLine(new RegExp(REFUSED_FROM_NODE_IP.replaceAll('.', '\\.')), 30_000);
    const row = await eventually('node status to list BIRD', nodeStatusRow, 20_000, 250);
    console.log(`BIRD: "${REFUSED_FROM_NODE_IP}"; agent: ${row.state} ${row.info}`);
    await staysDown(6000);
  }, STEP_TIMEOUT);

  it('2. sourceAddress None: the kernel picks the link address, Established at both ends', async () => {
    showLogsOnFailure();
    await applyPeer('None');
    const p = await bird.waitEstablished('node1', 30_000);
    const row = await agentEstablished();
    const conns = await connections();
    console.log(`BIRD ${p.bgpState} since ${p.since}, neighbor ${p.neighborAddress}; agent ${row.info} since ${row.since}; node1 sockets: ${JSON.stringify(conns)}`);
    expect(p.neighborAddress).toBe(NODE_LINK);
    // The agent's own dial: from the link address to BIRD's port 179.
    expect(conns).toEqual([expect.stringMatching(new RegExp(`^${NODE_LINK.replaceAll('.', '\\.')}:\\d+ ${BIRD_IP.replaceAll('.', '\\.')}:179$`))]);
  }, STEP_TIMEOUT);

  it('3. bindMode None (default): the agent listens on 0.0.0.0:179 and accepts BIRD dialling its link address', async () => {
    showLogsOnFailure();
    await applyPeer(); // UseNodeIP again: the agent's own dials are refused by BIRD
    const refusedBefore = refusalsFromNodeIp();
    await reconfigureBird(false);
    const p = await bird.waitEstablished('node1', 30_000);
    const row = await agentEstablished();
    const conns = await connections();
    const listen = await listening();
    console.log(
      `BIRD ${p.bgpState} since ${p.since}; agent ${row.info} since ${row.since}; node1 listens on ${JSON.stringify(listen)}, sockets ${JSON.stringify(conns)}; BIRD refused ${refusalsFromNodeIp() - refusedBefore} more dials from ${NODE_IP}`,
    );
    expect(listen.length === 1 && ['0.0.0.0:179', '*:179'].includes(listen[0]), `ss -ltn: ${JSON.stringify(listen)}`).toBe(true);
    // Accepted by the agent: its end is the link address, port 179.
    expect(conns).toEqual([expect.stringMatching(new RegExp(`^${NODE_LINK.replaceAll('.', '\\.')}:179 ${BIRD_IP.replaceAll('.', '\\.')}:\\d+$`))]);
  }, STEP_TIMEOUT);

  it('4. bindMode NodeIP: only the node address listens, the accepted session stays up', async () => {
    showLogsOnFailure();
    // BIRD prints "since" by converting its monotonic timestamp to wall-clock time at each
    // `show protocols`, so the same instant can print 1 ms apart (CI saw .417 read twice, then
    // .418 for a moment long past): the no-flap proof is the same socket at both ends, the
    // agent's unchanged since, and BIRD's since within that 1 ms.
    const birdBefore = await bird.protocol('node1');
    const agentBefore = await agentEstablished();
    const connsBefore = await connections();
    await applyBgpConfiguration('NodeIP');
    await waitListening([`${NODE_IP}:179`]);
    // Keepalives every 3 s: a few of them pass on the old connection.
    await sleep(7000);
    const birdAfter = await bird.protocol('node1');
    const agentAfter = await nodeStatusRow();
    const connsAfter = await connections();
    console.log(`listening ${JSON.stringify(await listening())}; BIRD ${birdAfter.bgpState} since ${birdAfter.since} (before ${birdBefore.since}); agent ${agentAfter?.info} since ${agentAfter?.since} (before ${agentBefore.since})`);
    expect(birdAfter.bgpState).toBe('Established');
    expect(sameBirdSince(birdAfter.since, birdBefore.since), `BIRD's since ${birdBefore.since} -> ${birdAfter.since}`).toBe(true);
    expect([agentAfter?.info, agentAfter?.since]).toEqual(['Established', agentBefore.since]);
    expect(connsAfter).toEqual(connsBefore);
  }, STEP_TIMEOUT);

  it("5. after birdc restart BIRD's connection to the link address is refused: the session stays down", async () => {
    showLogsOnFailure();
    expect(await listening(), "step 4's listening socket").toEqual([`${NODE_IP}:179`]);
    await bird.birdc('restart node1');
    const p = await eventually(
      "BIRD's dial to be refused",
      async () => {
        const d = await bird.protocol('node1');
        if (/Connection refused/.test(d.lastError ?? '')) return d;
        throw new Error(`${d.bgpState} ${d.info} (last error: ${d.lastError})`);
      },
      20_000,
      200,
    );
    console.log(`BIRD ${p.bgpState}, last error: ${p.lastError}`);
    await staysDown(6000);
  }, STEP_TIMEOUT);

  it('6. bindMode unset again: 0.0.0.0:179, BIRD gets through, Established', async () => {
    showLogsOnFailure();
    await applyBgpConfiguration();
    await waitListening(['0.0.0.0:179', '*:179']);
    const p = await bird.waitEstablished('node1', 30_000);
    const row = await agentEstablished();
    console.log(`BIRD ${p.bgpState} since ${p.since}; agent ${row.info} since ${row.since}; node1 sockets ${JSON.stringify(await connections())}`);
    expect(row.info).toBe('Established');
  }, STEP_TIMEOUT);

  it('7. afterwards every namespace and process of the fabric is gone', async () => {
    const pids = [agent.process.pid, bird.process.pid];
    await fabric.cleanup();
    expect(await fabric.listOurs()).toEqual([]);
    for (const pid of pids) expect(() => process.kill(pid, 0), `pid ${pid} is gone`).toThrow();
  }, STEP_TIMEOUT);
});
