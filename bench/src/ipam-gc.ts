/**
 * bench/ipam-gc: tabby-ipam's garbage collector on a 1,000-node cluster. The real tabby-store
 * and tabby-ipam binaries on loopback (SQLite, or etcd with BENCH_GC_DATASTORE=etcd); every node
 * gets a tunnel address and BENCH_GC_PODS workloads (WorkloadAdd: address + WorkloadEndpoint),
 * then one Node is deleted. Prints the time from the delete to the last of that node's addresses
 * released (as seen through ListAllocations), the collector's own pass time for it (from its log)
 * and an idle pass over the whole cluster for comparison, and checks that one pass did it and
 * that no other node lost anything. Run: npm run bench:ipam-gc -w @tabby/bench.
 */
import { credentials } from '@grpc/grpc-js';
import { parseManifest } from '@tabby/api';
import { ProcessGroup, freePort, startEtcdCluster, startService, tempDir } from '@tabby/harness';
import { IpamClient, ResourceStoreClient, type Resource } from '@tabby/proto';
import { callUnary } from '@tabby/runtime';

const NODES = Number(process.env.BENCH_GC_NODES ?? 1_000);
const PODS = Number(process.env.BENCH_GC_PODS ?? 10);
const DATASTORE = process.env.BENCH_GC_DATASTORE === 'etcd' ? 'etcd' : 'sqlite';
const CONCURRENCY = 64;

function resource(text: string): Resource {
  const r = parseManifest(text);
  if (r.errors.length > 0 || !r.resources[0]) throw new Error(r.errors[0]?.message ?? 'empty manifest');
  return r.resources[0].resource;
}

async function drive(n: number, op: (i: number) => Promise<unknown>, label: string): Promise<number> {
  let next = 0;
  let done = 0;
  const t0 = performance.now();
  const progress = setInterval(() => process.stderr.write(`  ${label}: ${done.toLocaleString('en')} / ${n.toLocaleString('en')}\r`), 1000);
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) {
        await op(next++);
        done++;
      }
    }),
  );
  clearInterval(progress);
  return (performance.now() - t0) / 1000;
}

/** The `gc pass done` log lines of tabby-ipam so far. */
function passes(output: string): { addresses: number; blocks: number; seconds: number }[] {
  return output
    .split('\n')
    .filter((l) => l.includes('"msg":"gc pass done"'))
    .map((l) => JSON.parse(l) as { addresses: number; blocks: number; seconds: number });
}

async function main(): Promise<void> {
  const group = new ProcessGroup();
  const dir = tempDir('tabby-bench-ipam-gc-');
  try {
    const store = await startService(group, 'store', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/store`, '--rpc-log', 'debug']);
    const where = DATASTORE === 'etcd' ? ['--datastore', 'etcd', '--etcd-endpoints', (await startEtcdCluster(group, `${dir.path}/etcd`, { size: 1 })).endpoints] : ['--data-dir', `${dir.path}/ipam`];
    const metricsPort = await freePort('127.0.0.1');
    // Passes only when asked (a Node deleted) or every 10 minutes; `--trace gc` logs every pass.
    const ipam = await startService(group, 'ipam', [
      '--listen',
      '127.0.0.1:0',
      ...where,
      '--store',
      store.address,
      '--rpc-log',
      'debug',
      '--trace',
      'gc',
      '--metrics',
      `127.0.0.1:${metricsPort}`,
      '--gc-interval',
      '600',
    ]);
    const storeClient = new ResourceStoreClient(store.address, credentials.createInsecure());
    const ipamClient = new IpamClient(ipam.address, credentials.createInsecure());
    await callUnary(storeClient.create.bind(storeClient), { resource: resource('apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: bench\nspec:\n  cidr: 10.0.0.0/8\n') });
    const nodes = Array.from({ length: NODES }, (_, i) => `node-${i}`);
    await drive(
      NODES,
      (i) => callUnary(storeClient.create.bind(storeClient), { resource: resource(`apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: ${nodes[i]}\nspec:\n  bgp:\n    ipv4Address: 127.0.0.1/32\n`) }),
      'nodes',
    );
    for (;;) {
      const ok = await callUnary(ipamClient.autoAssign.bind(ipamClient), { node: nodes[NODES - 1], handle: `ipip-tunnel-addr-${nodes[NODES - 1]}`, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], namespaceLabels: {}, attributes: { type: 'ipipTunnelAddress' } }).then(
        () => true,
        () => false,
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await drive(
      NODES - 1,
      (i) => callUnary(ipamClient.autoAssign.bind(ipamClient), { node: nodes[i], handle: `ipip-tunnel-addr-${nodes[i]}`, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], namespaceLabels: {}, attributes: { type: 'ipipTunnelAddress' } }),
      'tunnel addresses',
    );
    const addSeconds = await drive(
      NODES * PODS,
      (i) => callUnary(ipamClient.workloadAdd.bind(ipamClient), { namespace: 'bench', name: `pod-${i}`, node: nodes[i % NODES], labels: {}, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], ipAddrs: [], namespaceLabels: {} }),
      'WorkloadAdd',
    );
    const total = NODES * (PODS + 1);
    console.log(`bench/ipam-gc: tabby-store + tabby-ipam (${DATASTORE}) on loopback, ${NODES.toLocaleString('en')} nodes, ${total.toLocaleString('en')} allocations with ${(NODES * PODS).toLocaleString('en')} WorkloadEndpoints (added in ${addSeconds.toFixed(1)} s)`);

    // An idle pass over the whole cluster: a Node that never held anything is deleted.
    await callUnary(storeClient.create.bind(storeClient), { resource: resource('apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: empty\nspec:\n  bgp:\n    ipv4Address: 127.0.0.1/32\n') });
    const before = passes(ipam.process.output()).length;
    await callUnary(storeClient.delete.bind(storeClient), { kind: 'Node', namespace: '', name: 'empty', resourceVersion: '', force: false });
    while (passes(ipam.process.output()).length === before) await new Promise((r) => setTimeout(r, 20));
    const idle = passes(ipam.process.output()).at(-1);
    console.log(`idle pass (nothing to release):            ${((idle?.seconds ?? 0) * 1000).toFixed(0).padStart(6)} ms`);

    const victim = nodes[Math.floor(NODES / 2)];
    const held = (await callUnary(ipamClient.listAllocations.bind(ipamClient), { node: victim, handlePrefix: '' })).allocations.length;
    const passesBefore = passes(ipam.process.output()).length;
    const t0 = performance.now();
    await callUnary(storeClient.delete.bind(storeClient), { kind: 'Node', namespace: '', name: victim, resourceVersion: '', force: false });
    for (;;) {
      const left = (await callUnary(ipamClient.listAllocations.bind(ipamClient), { node: victim, handlePrefix: '' })).allocations.length;
      if (left === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const wall = performance.now() - t0;
    while (passes(ipam.process.output()).length === passesBefore) await new Promise((r) => setTimeout(r, 20));
    const ran = passes(ipam.process.output()).slice(passesBefore);
    const pass = ran.find((p) => p.addresses > 0);
    const remaining = (await callUnary(ipamClient.listAllocations.bind(ipamClient), { node: '', handlePrefix: '' })).allocations.length;
    console.log(`dead node ${victim} (${held} allocations): delete -> all released ${wall.toFixed(0).padStart(6)} ms (includes the 500 ms debounce after the Node event)`);
    console.log(`  its GC pass: ${((pass?.seconds ?? 0) * 1000).toFixed(0)} ms, released ${pass?.addresses ?? 0} addresses and ${pass?.blocks ?? 0} block(s) in ${ran.filter((p) => p.addresses > 0).length} pass(es)`);
    console.log(`  allocations left in the cluster: ${remaining.toLocaleString('en')} of ${total.toLocaleString('en')} (expected ${(total - held).toLocaleString('en')})`);
    if (remaining !== total - held) throw new Error('the collector released something of another node');
    storeClient.close();
    ipamClient.close();
  } finally {
    await group.stopAll();
    dir.remove();
  }
}

await main();
