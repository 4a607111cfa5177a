/**
 * bench/ipam-etcd: AutoAssign/s of the real tabby-ipam binary with its blocks in etcd (Debian's
 * etcd-server on loopback, `--datastore etcd`), through one replica and through two replicas
 * sharing the etcd, with SQLite (one process, the default) beside them. 64 calls in flight over
 * gRPC, spread over the replicas; every answer is acknowledged only after etcd committed the
 * compare-and-swap transaction (or SQLite fsynced). Also prints the CAS conflicts the replicas
 * retried. Run: npm run bench:ipam-etcd -w @tabby/bench (BENCH_ETCD_MEMBERS=3 for a 3-member etcd).
 */
import { credentials } from '@grpc/grpc-js';
import { parseManifest } from '@tabby/api';
import { ProcessGroup, freePort, startEtcdCluster, startService, tempDir, type EtcdCluster } from '@tabby/harness';
import { IpamClient, ResourceStoreClient, type Resource } from '@tabby/proto';
import { callUnary } from '@tabby/runtime';

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const ASSIGNS = Number(process.env.BENCH_ASSIGNS ?? 4_000);
const MEMBERS = Number(process.env.BENCH_ETCD_MEMBERS ?? 1);
const NODES = 50;

function resource(text: string): Resource {
  const r = parseManifest(text);
  if (r.errors.length > 0 || !r.resources[0]) throw new Error(r.errors[0]?.message ?? 'empty manifest');
  return r.resources[0].resource;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

interface Replica {
  readonly client: IpamClient;
  readonly metricsPort: number;
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
}

async function scenario(group: ProcessGroup, dir: string, label: string, ipamArgs: readonly string[], replicas: number): Promise<void> {
  const store = await startService(group, 'store', ['--listen', '127.0.0.1:0', '--data-dir', `${dir}/${label}/store`, '--rpc-log', 'debug']);
  const storeClient = new ResourceStoreClient(store.address, credentials.createInsecure());
  await callUnary(storeClient.create.bind(storeClient), { resource: resource('apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: bench\nspec:\n  cidr: 10.0.0.0/8\n') });
  const nodes = Array.from({ length: NODES }, (_, i) => `node-${i}`);
  for (const n of nodes) {
    await callUnary(storeClient.create.bind(storeClient), { resource: resource(`apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: ${n}\nspec:\n  bgp:\n    ipv4Address: 127.0.0.1/32\n`) });
  }
  const started: Replica[] = [];
  const procs = [];
  for (let r = 0; r < replicas; r++) {
    const metricsPort = await freePort('127.0.0.1');
    const p = await startService(group, 'ipam', ['--listen', '127.0.0.1:0', '--store', store.address, '--rpc-log', 'debug', '--metrics', `127.0.0.1:${metricsPort}`, ...ipamArgs]);
    procs.push(p);
    started.push({ client: new IpamClient(p.address, credentials.createInsecure()), metricsPort });
  }
  // Each replica follows the store: wait until it assigns on the last node.
  for (const [r, rep] of started.entries()) {
    for (;;) {
      const ok = await callUnary(rep.client.autoAssign.bind(rep.client), { node: nodes[NODES - 1], handle: `warmup-${r}`, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], namespaceLabels: {}, attributes: {} }).then(
        () => true,
        () => false,
      );
      if (ok) break;
      await new Promise((res) => setTimeout(res, 100));
    }
  }
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < ASSIGNS) {
        const i = next++;
        const rep = started[i % started.length];
        const s = performance.now();
        await callUnary(rep.client.autoAssign.bind(rep.client), { node: nodes[i % NODES], handle: `a-${i}`, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], namespaceLabels: {}, attributes: { namespace: 'bench', pod: `p${i}` } });
        latencies.push(performance.now() - s);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  let conflicts = 0;
  for (const rep of started) conflicts += await metric(rep.metricsPort, 'tabby_ipam_cas_conflicts_total');
  console.log(
    `${label.padEnd(26)} ${Math.round(ASSIGNS / seconds).toLocaleString('en').padStart(7)}/s   p50 ${percentile(latencies, 50).toFixed(1).padStart(6)} ms   p99 ${percentile(latencies, 99).toFixed(1).padStart(6)} ms` +
      (ipamArgs.includes('etcd') ? `   CAS conflicts retried: ${conflicts.toLocaleString('en')}` : ''),
  );
  for (const rep of started) rep.client.close();
  storeClient.close();
  for (const p of procs) await p.process.stop();
  await store.process.stop();
}

async function main(): Promise<void> {
  const group = new ProcessGroup();
  const dir = tempDir('tabby-bench-ipam-etcd-');
  try {
    const etcd: EtcdCluster = await startEtcdCluster(group, `${dir.path}/etcd`, { size: MEMBERS });
    console.log(
      `bench/ipam-etcd: AutoAssign, ${ASSIGNS.toLocaleString('en')} calls, ${CONCURRENCY} in flight, ${NODES} nodes, pool 10.0.0.0/8 (/26 blocks); etcd: ${MEMBERS} member${MEMBERS === 1 ? '' : 's'} on loopback`,
    );
    await scenario(group, dir.path, 'sqlite, 1 process', ['--data-dir', `${dir.path}/sqlite-ipam`], 1);
    const onEtcd = ['--datastore', 'etcd', '--etcd-endpoints', etcd.endpoints];
    await scenario(group, dir.path, 'etcd, 1 replica', onEtcd, 1);
    await etcd.etcdctl(['del', '--prefix', '/calico/']);
    await etcd.etcdctl(['del', '--prefix', '/tabby/']);
    await scenario(group, dir.path, 'etcd, 2 replicas', onEtcd, 2);
  } finally {
    await group.stopAll();
    dir.remove();
  }
}

await main();
