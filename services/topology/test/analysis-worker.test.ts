/**
 * Check and Preview run in the service's analysis worker: the real tabby-topology binary
 * (against a real tabby-store) keeps answering Health and other calls while a Preview of a
 * large mesh runs, fails a call cleanly when the worker dies and answers the next one, and
 * stops with its worker. The worker's test hooks (README "Check and Preview in a worker")
 * make the ordering certain: TABBY_TOPOLOGY_TEST_HOLD_FILE holds every analysis while the
 * file exists, TABBY_TOPOLOGY_TEST_CRASH_ON kills the worker on a Preview of that name.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { ProcessGroup, eventually, healthCheck, startService, tempDir, type ServiceProcess } from '@tabby/harness';
import { storeClient, topologyClient, type TopologyTestClient } from './client.js';
import { bgpPeer, manifest, node } from './support.js';

const NODES = 300;
const group = new ProcessGroup();
const dir = tempDir('tabby-topology-worker-');
const holdFile = `${dir.path}/hold`;
let store: ServiceProcess;
let topology: ServiceProcess;
let topo: TopologyTestClient;

const rackPeer = (name: string): ReturnType<typeof manifest> => manifest(bgpPeer(name, "nodeSelector: rack == 'r3'\npeerIP: 192.0.2.200\nasNumber: 65100"));

beforeAll(async () => {
  store = await startService(group, 'store', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/store`]);
  const st = storeClient(store.address);
  // A full mesh (the default): NODES × (NODES − 1) sessions for every analysis to walk.
  const nodes = Array.from({ length: NODES }, (_, i) => node(`node${i + 1}`, `10.0.${(i + 1) >> 8}.${(i + 1) & 255}/16`, { labels: { rack: `r${i % 10}` } }));
  for (const r of manifest(nodes.join('---\n'))) await st.apply(r);
  st.close();
  topology = await startService(group, 'topology', ['--listen', '127.0.0.1:0', '--store', store.address], {
    env: { TABBY_TOPOLOGY_TEST_HOLD_FILE: holdFile, TABBY_TOPOLOGY_TEST_CRASH_ON: 'crash-the-analysis' },
  });
  topo = topologyClient(topology.address);
  await eventually('topology in sync', async () => (await healthCheck(topology.address)) === 'SERVING', 20_000);
}, 120_000);

afterAll(async () => {
  topo?.close();
  rmSync(holdFile, { force: true });
  await group.stopAll();
  dir.remove();
});

describe('Check and Preview in a worker', () => {
  it('answers Health and GetNodeConfig while a Preview is still running', async () => {
    const order: string[] = [];
    writeFileSync(holdFile, '');
    const preview = topo.preview(rackPeer('tor-r3')).then((p) => {
      order.push('preview');
      return p;
    });
    try {
      expect(await healthCheck(topology.address)).toBe('SERVING');
      order.push('health');
      expect((await topo.get('node4')).peers).toHaveLength(NODES - 1);
      order.push('get-node-config');
      const check = topo.check().then(() => order.push('check'));
      expect((await topo.peerings('node4')).nodes[0].sessions).toBe(NODES - 1);
      order.push('list-peerings');
      expect(order).toEqual(['health', 'get-node-config', 'list-peerings']);
      rmSync(holdFile);
      const p = await preview;
      await check;
      // Calls to the worker are answered in order.
      expect(order).toEqual(['health', 'get-node-config', 'list-peerings', 'preview', 'check']);
      // The 30 nodes of rack r3 get a session to the new router, nothing else changes.
      expect(p.nodes).toHaveLength(NODES / 10);
      expect(p.nodes.every((n) => n.sessions.length === 1 && n.sessions[0].after?.address === '192.0.2.200')).toBe(true);
    } finally {
      rmSync(holdFile, { force: true });
    }
  });

  it('checks the state the store holds (the worker follows the same changes)', async () => {
    const c = await topo.check();
    expect(c.nodes).toBe(NODES);
    expect(c.sessions).toBe(NODES * (NODES - 1));
    expect(c.warnings.map((w) => w.code)).toEqual(['large-mesh']);
  });

  it('fails the call with UNAVAILABLE when the worker dies, and answers the next calls', async () => {
    const err = await topo.preview(rackPeer('crash-the-analysis')).then(
      () => undefined,
      (e: unknown) => e as { code: number; details: string },
    );
    expect(err?.code).toBe(status.UNAVAILABLE);
    expect(err?.details).toContain('the analysis worker of tabby-topology died');
    expect(await healthCheck(topology.address)).toBe('SERVING');
    expect((await topo.check()).nodes).toBe(NODES);
    expect((await topo.preview(rackPeer('tor-r3'))).nodes).toHaveLength(NODES / 10);
    expect(topology.process.output()).toContain('analysis worker died');
  });

  it('stops with its worker on SIGTERM', async () => {
    topology.process.signal('SIGTERM');
    expect(await topology.process.exited()).toEqual({ code: 0, signal: null });
  });
});
