/**
 * An agent that dies without a goodbye (kill -9): its peers drop the session and withdraw its
 * routes, and restarting the agent brings the sessions and routes back. Two ways to die:
 * - the process is killed on a live host: the kernel closes its TCP connections, so the peers
 *   see the session end at once; as BGP graceful-restart helpers (RFC 4724, what Calico's
 *   BIRD does) they keep its routes, stale, for its restart time — Calico's default 120 s,
 *   which keeps the data plane up across an agent restart — and withdraw them after it. This
 *   file sets nodeMeshMaxRestartTime: 5s so the withdrawal comes within the hold time (9 s);
 * - the host freezes or vanishes (SIGSTOP, then kill -9): nothing arrives at all, the hold
 *   timer expires, and the routes go at once (no graceful restart after a hold-timer expiry).
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
const RESTART_S = 5;
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

/** Waits until node1 and node2 no longer have node3's session up; resolves with their rows' last errors. */
async function peersDropSession(timeoutMs: number): Promise<string[]> {
  const lastErrors: string[] = [];
  for (const node of ['node1', 'node2']) {
    const row = await eventually(
      `${node} to see node3's session go down`,
      async () => {
        const r = await rowFor(node, '127.0.8.3');
        return r && r.state !== 'up' ? r : undefined;
      },
      timeoutMs,
      50,
    );
    lastErrors.push(row.lastError);
  }
  return lastErrors;
}

async function peersWithdrawNode3(timeoutMs: number): Promise<void> {
  for (const node of ['node1', 'node2']) await eventually(`${node} to withdraw node3's block`, async () => !(await cluster.routes(node)).some((r) => r.prefix === blocks.get('node3')), timeoutMs, 50);
}

describe('an agent killed with kill -9', () => {
  it('has its peers drop the session at once, keep its routes for its restart time (graceful restart), then withdraw them: within the hold time', async () => {
    await fullyConverged();
    const agent = cluster.agents.get('node3')!;
    const t0 = Date.now();
    agent.process.process.signal('SIGKILL');
    expect((await agent.process.process.exited()).signal).toBe('SIGKILL');
    const lastErrors = await peersDropSession(HOLD_S * 1000);
    const down = Date.now() - t0;
    for (const e of lastErrors) expect(e).toMatch(/^Socket: /);
    // Still there, stale, while node3 may be restarting ...
    expect(down).toBeLessThan(RESTART_S * 1000 - 1000);
    expect(await hasBest('node1', blocks.get('node3')!, '127.0.8.3')).toBe(true);
    // ... withdrawn when its restart time is up, within the hold time of the kill.
    await peersWithdrawNode3((HOLD_S + 3) * 1000);
    const withdrawn = Date.now() - t0;
    expect(withdrawn).toBeGreaterThanOrEqual(RESTART_S * 1000 - 500);
    expect(withdrawn).toBeLessThan((HOLD_S + 1) * 1000);
    // node1 and node2 keep their own session and routes.
    expect(await rowFor('node1', '127.0.8.2')).toMatchObject({ state: 'up' });
    expect(await hasBest('node1', blocks.get('node2')!, '127.0.8.2')).toBe(true);
  }, 60_000);

  it('comes back when restarted: sessions up again, its routes re-learned, the others re-learned by it', async () => {
    await cluster.restartAgent('node3');
    await fullyConverged();
  }, 60_000);

  it('frozen (no FIN, no KEEPALIVE) then killed: the peers drop it when the hold time is up and withdraw its routes at once; it comes back on restart', async () => {
    await fullyConverged();
    const agent = cluster.agents.get('node3')!;
    const t0 = Date.now();
    agent.process.process.signal('SIGSTOP');
    try {
      const lastErrors = await peersDropSession((HOLD_S + 5) * 1000);
      const ms = Date.now() - t0;
      // The last KEEPALIVE came at most one keepalive interval (hold / 3) before the freeze.
      expect(ms).toBeGreaterThanOrEqual(((HOLD_S * 2) / 3) * 1000 - 500);
      expect(ms).toBeLessThan((HOLD_S + 2) * 1000);
      for (const e of lastErrors) expect(e).toBe('BGP Error: Hold Timer Expired');
      await peersWithdrawNode3(1000);
    } finally {
      agent.process.process.signal('SIGKILL');
      await agent.process.process.exited();
    }
    await cluster.restartAgent('node3');
    await fullyConverged();
  }, 60_000);
});
