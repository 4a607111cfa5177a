/**
 * An agent that dies without a goodbye (kill -9): its peers drop the session and withdraw its
 * routes, and restarting the agent brings the sessions and routes back. Two ways to die:
 * - the process is killed on a live host: the kernel closes its TCP connections, so the peers
 *   see the session end at once (a socket error, not the hold timer); as BGP graceful-restart
 *   helpers (RFC 4724, what Calico's BIRD does) they keep its routes, stale, for its restart
 *   time — Calico's default 120 s, which keeps the data plane up across an agent restart — and
 *   withdraw them when it ends. This file sets nodeMeshMaxRestartTime to RESTART_S;
 * - the host freezes or vanishes (SIGSTOP, then kill -9): nothing arrives at all, the hold
 *   timer expires, and the routes go with the session (no graceful restart after a hold-timer
 *   expiry).
 * What happened is read from the peers' status rows, RIBs and session log events, never from a
 * stopwatch; how long detection and withdrawal take follows from the configured hold and
 * restart times.
 */
import { eventually } from '@tabby/harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from './cluster.js';

const cluster = new Cluster();
const NODES = [
  ['node1', '127.0.8.1'],
  ['node2', '127.0.8.2'],
  ['node3', '127.0.8.3'],
] as const;
const HOLD_S = 9;
/** Long enough that the stale routes are surely still there when the test looks, after the kill. */
const RESTART_S = 10;
const blocks = new Map<string, string>();

beforeAll(async () => {
  await cluster.start();
  await cluster.bgpConfiguration(`  nodeMeshMaxRestartTime: ${RESTART_S}s`);
  await cluster.apply('apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: default-ipv4-ippool\nspec:\n  cidr: 192.168.0.0/16\n  natOutgoing: true\n');
  await Promise.all(NODES.map(([node, address]) => cluster.startAgent(node, address)));
  for (const [node] of NODES) await cluster.waitEstablished(node, 2);
  for (const [node] of NODES) {
    await cluster.addWorkload('default', `web-${node}`, node);
    const [block] = await cluster.blocksOf(node);
    if (!block) throw new Error(`no block for ${node}`);
    blocks.set(node, block);
  }
}, 120_000);
afterAll(() => cluster.stop(), 60_000);

/** node3's session row at `node`: `state info`, or undefined without a row. */
async function rowFor(node: string, peer: string): Promise<{ state: string; info: string; lastError: string } | undefined> {
  return (await cluster.status(node)).status?.bgp?.peersV4.find((p) => p.peerIP === peer);
}

async function hasBest(node: string, block: string, from: string): Promise<boolean> {
  return (await cluster.routes(node)).some((r) => r.prefix === block && r.paths.some((p) => p.best && p.fromPeer === from));
}

/** Every node has every other node's block from that node, and every session is up. */
async function fullyConverged(): Promise<void> {
  for (const [node] of NODES) await cluster.waitEstablished(node, 2);
  for (const [node] of NODES) {
    for (const [owner, address] of NODES) {
      if (owner === node) continue;
      await eventually(`${node} to have ${owner}'s block`, () => hasBest(node, blocks.get(owner)!, address), 15_000, 50);
    }
  }
}

/** Waits until node1 and node2 no longer have node3's session up; resolves with their rows. */
async function peersDropSession(): Promise<{ state: string; info: string; lastError: string }[]> {
  const rows: { state: string; info: string; lastError: string }[] = [];
  for (const node of ['node1', 'node2']) {
    rows.push(
      await eventually(
        `${node} to see node3's session go down`,
        async () => {
          const r = await rowFor(node, '127.0.8.3');
          return r && r.state !== 'up' ? r : undefined;
        },
        (HOLD_S + 30) * 1000,
        50,
      ),
    );
  }
  return rows;
}

async function hasNode3Block(node: string): Promise<boolean> {
  return (await cluster.routes(node)).some((r) => r.prefix === blocks.get('node3'));
}

async function peersWithdrawNode3(): Promise<void> {
  for (const node of ['node1', 'node2']) await eventually(`${node} to withdraw node3's block`, async () => !(await hasNode3Block(node)), (RESTART_S + 30) * 1000, 50);
}

/** The graceful-restart events of a node's BGP session with node3, from its agent's JSON log. */
const GR_EVENTS = new Set(['peer may be restarting: keeping its routes', 'stale routes removed', 'peer restarted: refreshing its stale routes']);
interface GrEvent {
  readonly msg: string;
  readonly time: string;
  readonly why?: string;
  readonly restartTimeS?: number;
  readonly withdrawn?: number;
}
/** node's graceful-restart events about node3 logged at or after `since` (ISO time, as pino writes it). */
function grEvents(node: string, since: string): GrEvent[] {
  const out: GrEvent[] = [];
  for (const line of cluster.agents.get(node)!.process.process.output().split('\n')) {
    if (!line.startsWith('{') || !line.includes('"127.0.8.3')) continue;
    try {
      const e = JSON.parse(line) as GrEvent & { peer?: string };
      if (GR_EVENTS.has(e.msg) && e.peer?.startsWith('127.0.8.3') && e.time >= since) out.push(e);
    } catch {
      // Deliberate: a line cut by the output buffer's start is not an event.
    }
  }
  return out;
}

describe('an agent killed with kill -9', () => {
  it('has its peers drop the session at once (socket closed), keep its routes while its restart time lasts (graceful restart), then withdraw them', async () => {
    await fullyConverged();
    // By log time, not by position: the kept output is trimmed from the front when it grows.
    const since = new Date().toISOString();
    const agent = cluster.agents.get('node3')!;
    agent.process.process.signal('SIGKILL');
    expect((await agent.process.process.exited()).signal).toBe('SIGKILL');
    // The peers learn it from the closed connection, not from the hold timer.
    for (const row of await peersDropSession()) expect(row.lastError).toMatch(/^Socket: /);
    // With the session down, node3's routes are still there, stale, while node3 may be restarting ...
    for (const node of ['node1', 'node2'] as const) {
      expect(await hasBest(node, blocks.get('node3')!, '127.0.8.3')).toBe(true);
      expect(grEvents(node, since)).toEqual([expect.objectContaining({ msg: 'peer may be restarting: keeping its routes', restartTimeS: RESTART_S })]);
    }
    // ... and withdrawn because its restart time ended (it never came back).
    await peersWithdrawNode3();
    for (const node of ['node1', 'node2'] as const) {
      await eventually(`${node} to log the end of node3's restart time`, () => grEvents(node, since).length >= 2, 10_000, 50);
      expect(grEvents(node, since)).toEqual([
        expect.objectContaining({ msg: 'peer may be restarting: keeping its routes' }),
        expect.objectContaining({ msg: 'stale routes removed', why: 'restart time expired', withdrawn: 1 }),
      ]);
    }
    // node1 and node2 keep their own session and routes.
    expect(await rowFor('node1', '127.0.8.2')).toMatchObject({ state: 'up' });
    expect(await hasBest('node1', blocks.get('node2')!, '127.0.8.2')).toBe(true);
  }, 120_000);

  it('comes back when restarted: sessions up again, its routes re-learned, the others re-learned by it', async () => {
    await cluster.restartAgent('node3');
    await fullyConverged();
  }, 60_000);

  it('frozen (no FIN, no KEEPALIVE) then killed: the peers drop it when the hold timer expires, its routes going with the session; it comes back on restart', async () => {
    await fullyConverged();
    // By log time, not by position: the kept output is trimmed from the front when it grows.
    const since = new Date().toISOString();
    const agent = cluster.agents.get('node3')!;
    agent.process.process.signal('SIGSTOP');
    try {
      for (const row of await peersDropSession()) {
        expect(row.lastError).toBe('BGP Error: Hold Timer Expired');
        expect(row.info).toMatch(/^(Idle|Connect|Active) BGP Error: Hold Timer Expired$/);
      }
      // The session went down and the routes with it, in one step: no graceful restart after a
      // hold-timer expiry, so nothing is kept stale.
      for (const node of ['node1', 'node2'] as const) {
        expect(await hasNode3Block(node)).toBe(false);
        expect(grEvents(node, since)).toEqual([]);
      }
    } finally {
      agent.process.process.signal('SIGKILL');
      await agent.process.process.exited();
    }
    await cluster.restartAgent('node3');
    await fullyConverged();
  }, 120_000);
});
