/**
 * bench/ipam: the real tabby-store and tabby-ipam binaries over gRPC on loopback, 64 calls in
 * flight. Prints AutoAssign/s and WorkloadAdd/s end to end (each acknowledged only after its
 * SQLite transaction is fsynced; WorkloadAdd also writes the WorkloadEndpoint to the store),
 * with p50/p99 latency, and AutoAssign latency as live allocations grow from 1k to 100k in a
 * /8 pool. Run: npm run bench:ipam -w @tabby/bench.
 */
import { credentials } from '@grpc/grpc-js';
import { parseManifest } from '@tabby/api';
import { ProcessGroup, freePort, startService, tempDir } from '@tabby/harness';
import { IpamClient, ResourceStoreClient, type Resource } from '@tabby/proto';
import { callUnary } from '@tabby/runtime';

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const CHANNELS = 4;
const ASSIGNS = Number(process.env.BENCH_ASSIGNS ?? 20_000);
const WORKLOADS = Number(process.env.BENCH_WORKLOADS ?? 5_000);
const NODES = 200;
const LEVELS = [1_000, 10_000, 100_000];
const SAMPLE = 2_000;

function resource(text: string): Resource {
  const r = parseManifest(text);
  if (r.errors.length > 0 || !r.resources[0]) throw new Error(r.errors[0]?.message ?? 'empty manifest');
  return r.resources[0].resource;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

interface Run {
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
}

/** Runs `n` calls with CONCURRENCY in flight; `op(i)` makes call i. */
async function drive(n: number, op: (i: number) => Promise<unknown>, label: string): Promise<Run> {
  const latencies: number[] = [];
  let next = 0;
  let done = 0;
  const t0 = performance.now();
  const progress = setInterval(() => process.stderr.write(`  ${label}: ${done.toLocaleString('en')} / ${n.toLocaleString('en')}\r`), 1000);
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) {
        const i = next++;
        const s = performance.now();
        await op(i);
        latencies.push(performance.now() - s);
        done++;
      }
    }),
  );
  clearInterval(progress);
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return { perSecond: n / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

const fmt = (r: Run): string => `${Math.round(r.perSecond).toLocaleString('en').padStart(8)}/s   p50 ${r.p50.toFixed(2).padStart(6)} ms   p99 ${r.p99.toFixed(2).padStart(6)} ms`;

async function main(): Promise<void> {
  const group = new ProcessGroup();
  const dir = tempDir('tabby-bench-ipam-');
  try {
    const store = await startService(group, 'store', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/store`, '--rpc-log', 'debug']);
    const metricsPort = await freePort('127.0.0.1');
    const ipam = await startService(group, 'ipam', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/ipam`, '--store', store.address, '--rpc-log', 'debug', '--metrics', `127.0.0.1:${metricsPort}`]);
    /** Operations per commit so far, from ipam's own histogram (group commit at work). */
    const opsPerCommit = async (): Promise<string> => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const sum = Number(/^tabby_ipam_commit_batch_ops_sum(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1] ?? 0);
      const count = Number(/^tabby_ipam_commit_batch_ops_count(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1] ?? 0);
      return count > 0 ? `${(sum / count).toFixed(1)} ops/commit over ${count.toLocaleString('en')} commits` : 'no commits';
    };
    const storeClient = new ResourceStoreClient(store.address, credentials.createInsecure());
    const clients = Array.from({ length: CHANNELS }, (_, i) => new IpamClient(ipam.address, credentials.createInsecure(), { 'grpc.channel_id': i }));
    const ipamOf = (i: number): IpamClient => clients[i % CHANNELS];
    await callUnary(storeClient.create.bind(storeClient), { resource: resource('apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: bench\nspec:\n  cidr: 10.0.0.0/8\n') });
    const nodes = Array.from({ length: NODES }, (_, i) => `node-${i}`);
    for (const n of nodes) {
      await callUnary(storeClient.create.bind(storeClient), { resource: resource(`apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: ${n}\nspec:\n  bgp:\n    ipv4Address: 127.0.0.1/32\n`) });
    }
    // ipam follows the store: wait for the pool and the last node.
    for (;;) {
      const ok = await callUnary(ipamOf(0).autoAssign.bind(ipamOf(0)), { node: nodes[NODES - 1], handle: 'warmup', numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], namespaceLabels: {}, attributes: {} }).then(
        () => true,
        () => false,
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    let live = 1;
    console.log(`bench/ipam: tabby-store + tabby-ipam on loopback, ${CONCURRENCY} calls in flight over ${CHANNELS} channels, pool 10.0.0.0/8 (/26 blocks), ${NODES} nodes`);
    const assign = (i: number): Promise<unknown> => {
      const c = ipamOf(i);
      return callUnary(c.autoAssign.bind(c), { node: nodes[i % NODES], handle: `a-${live + i}`, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], namespaceLabels: {}, attributes: { namespace: 'bench', pod: `p${i}` } });
    };
    const a = await drive(ASSIGNS, assign, 'AutoAssign');
    live += ASSIGNS;
    console.log(`AutoAssign   ${ASSIGNS.toLocaleString('en').padStart(7)} calls  ${fmt(a)}   (${await opsPerCommit()})`);
    const w = await drive(
      WORKLOADS,
      (i) => {
        const c = ipamOf(i);
        return callUnary(c.workloadAdd.bind(c), { namespace: 'bench', name: `pod-${i}`, node: nodes[i % NODES], labels: { app: 'bench' }, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], ipAddrs: [], namespaceLabels: {} });
      },
      'WorkloadAdd',
    );
    live += WORKLOADS;
    console.log(`WorkloadAdd  ${WORKLOADS.toLocaleString('en').padStart(7)} calls  ${fmt(w)}`);

    // Latency as the number of live allocations grows: release everything, then fill to each level.
    const c0 = ipamOf(0);
    for (let i = 0; i < ASSIGNS; i++) {
      if (i % 1000 === 0) process.stderr.write(`  releasing: ${i}\r`);
      await callUnary(c0.releaseByHandle.bind(c0), { handle: `a-${1 + i}` });
    }
    live = 1 + WORKLOADS;
    console.log('AutoAssign latency by live allocations (each level: 2,000 calls, then kept):');
    let filler = 0;
    for (const level of LEVELS) {
      while (live < level) {
        const batch = Math.min(256, level - live);
        const c = ipamOf(filler);
        await callUnary(c.autoAssign.bind(c), { node: nodes[filler % NODES], handle: `fill-${filler}`, numIpv4: batch, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], namespaceLabels: {}, attributes: {} });
        filler++;
        live += batch;
      }
      const base = 10_000_000 + level;
      const r = await drive(
        SAMPLE,
        (i) => {
          const c = ipamOf(i);
          return callUnary(c.autoAssign.bind(c), { node: nodes[i % NODES], handle: `s-${base + i}`, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], namespaceLabels: {}, attributes: {} });
        },
        `at ${level}`,
      );
      live += SAMPLE;
      console.log(`  ${level.toLocaleString('en').padStart(8)} live  ${fmt(r)}`);
    }
    storeClient.close();
    for (const c of clients) c.close();
  } finally {
    await group.stopAll();
    dir.remove();
  }
}

await main();
