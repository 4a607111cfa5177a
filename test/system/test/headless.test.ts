/**
 * Headless safety: with the store and topology killed (-9) for 30 s, the agents keep their
 * configuration, their sessions and their routes; when the services return, status
 * reporting resumes and no unchanged session is reset.
 */
import { eventually } from '@tabby/harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, call } from './cluster.js';

const cluster = new Cluster();
const NODES = [
  ['node1', '127.0.0.31'],
  ['node2', '127.0.0.32'],
  ['node3', '127.0.0.33'],
] as const;

beforeAll(async () => {
  await cluster.start();
  await cluster.bgpConfiguration();
  await cluster.apply('apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: pool\nspec:\n  cidr: 10.30.0.0/16\n');
  for (const [node, address] of NODES) await cluster.startAgent(node, address);
  for (const [node] of NODES) await cluster.addWorkload('default', `pod-${node}`, node);
  for (const [node] of NODES) await cluster.waitEstablished(node, 2);
  for (const [node] of NODES) await eventually(`${node} has both other blocks`, async () => (await cluster.routes(node)).length === 3, 10_000, 100);
}, 120_000);
afterAll(() => cluster.stop(), 60_000);

async function snapshot(): Promise<string[]> {
  const out: string[] = [];
  for (const [node] of NODES) {
    const s = await cluster.status(node);
    for (const p of s.status?.bgp?.peersV4 ?? []) out.push(`${node} ${p.peerIP} ${p.state} ${p.info} since ${p.since}`);
    for (const r of await cluster.routes(node)) out.push(`${node} route ${r.prefix}`);
  }
  return out.sort();
}

describe('headless', () => {
  it('keeps sessions and routes for 30 s without store and topology, then reports again without resetting anything', async () => {
    const before = await snapshot();
    cluster.store.process.signal('SIGKILL');
    cluster.topology.process.signal('SIGKILL');
    await cluster.store.process.exited();
    await cluster.topology.process.exited();
    const killedAt = Date.now();
    // For 30 s (the figure), look every second: nothing may change.
    while (Date.now() - killedAt < 30_000) {
      expect(await snapshot()).toEqual(before);
      const s = await call(cluster.agents.get('node1')!.client.status.bind(cluster.agents.get('node1')!.client), {});
      expect(s.topologyConnected).toBe(false);
      await new Promise((r) => setTimeout(r, 1000));
    }
    const restartedAt = new Date();
    await cluster.startStore();
    await cluster.startTopology();
    for (const [node] of NODES) {
      await eventually(
        `${node} back in touch and reporting`,
        async () => {
          const a = cluster.agents.get(node)!;
          const s = await call(a.client.status.bind(a.client), {});
          if (!s.topologyConnected || !s.storeConnected) return false;
          const r = await call(cluster.storeClient.get.bind(cluster.storeClient), { kind: 'NodeStatus', namespace: '', name: node });
          const st = r.resource?.kind?.$case === 'nodeStatus' ? r.resource.kind.value : undefined;
          return st?.status && new Date(st.status.lastUpdated) > restartedAt;
        },
        30_000,
        200,
      );
    }
    // The same sessions (same "since"), the same routes.
    expect(await snapshot()).toEqual(before);
  }, 120_000);
});
