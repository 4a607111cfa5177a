/**
 * bench/ipam: the real tabby-store and tabby-ipam binaries over gRPC on loopback, 64 calls in
 * flight over 4 channels, pool 10.0.0.0/8 in /26 blocks, 50 nodes. Every answer is acknowledged
 * only after its SQLite transaction is durable (fdatasync of the WAL); WorkloadAdd also writes
 * the WorkloadEndpoint to the store. Reported rows (src/results.ts):
 *
 * - IPAM AutoAssign/s and WorkloadAdd/s, 64 in flight (goals 10,000/s and 5,000/s);
 * - AutoAssign p50 latency at 1k and at 1M live allocations, and their ratio (goal ≤ 1.5: flat).
 *
 * Order: a warm-up (assigned, then released, twice, so the JIT is warm for the 1k level), the 1k
 * level, the two throughput runs, then the growth to 1M live and the 1M level. Each level is
 * BENCH_SAMPLE AutoAssigns of one address at 64 in flight, starting at that many live
 * allocations. The growth to 1M goes through the API, not around it: AutoAssign calls of 256
 * addresses each (one handle per call, nodes round-robin; ipam runs with
 * --max-blocks-per-host 100000 so that 20,000 addresses per node fit in their own blocks), 8
 * in flight; that is ~3,900 calls. ipam runs with --gc-interval 3600: a garbage collection
 * pass reads every allocation, which at 1M holds the event loop for seconds (bench/ipam-gc is
 * about GC); these figures are AutoAssign's. BENCH_LIVE sets the top level (default
 * 1,000,000). Whole run: about 1-3 minutes. Run: npm run bench:ipam -w @tabby/bench.
 */
import { readFileSync } from 'node:fs';
import { credentials } from '@grpc/grpc-js';
import { parseManifest } from '@tabby/api';
import { ProcessGroup, freePort, startService, tempDir } from '@tabby/harness';
import { IpamClient, ResourceStoreClient, type Resource } from '@tabby/proto';
import { callUnary } from '@tabby/runtime';
import { report } from './results.js';

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const CHANNELS = 4;
const ASSIGNS = Number(process.env.BENCH_ASSIGNS ?? 20_000);
const WORKLOADS = Number(process.env.BENCH_WORKLOADS ?? 5_000);
const NODES = Number(process.env.BENCH_NODES ?? 50);
const LOW = 1_000;
const HIGH = Number(process.env.BENCH_LIVE ?? 1_000_000);
const SAMPLE = Number(process.env.BENCH_SAMPLE ?? 2_000);
const WARMUP = 5_000;
/** Addresses per AutoAssign call while growing to HIGH, and such calls in flight. */
const FILL_BATCH = 256;
const FILL_IN_FLIGHT = 8;

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

/** Runs `n` calls with `inFlight` at once; `op(i)` makes call i. */
async function drive(n: number, op: (i: number) => Promise<unknown>, label: string, inFlight = CONCURRENCY): Promise<Run> {
  const latencies: number[] = [];
  let next = 0;
  let done = 0;
  const t0 = performance.now();
  const progress = setInterval(() => process.stderr.write(`  ${label}: ${done.toLocaleString('en')} / ${n.toLocaleString('en')}\r`), 1000);
  try {
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < n) {
          const i = next++;
          const s = performance.now();
          await op(i);
          latencies.push(performance.now() - s);
          done++;
        }
      }),
    );
  } finally {
    clearInterval(progress);
  }
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return { perSecond: n / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); 0 elsewhere. */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

const fmt = (r: Run): string => `${Math.round(r.perSecond).toLocaleString('en').padStart(8)}/s   p50 ${r.p50.toFixed(2).padStart(6)} ms   p99 ${r.p99.toFixed(2).padStart(6)} ms`;

async function main(): Promise<void> {
  const group = new ProcessGroup();
  const dir = tempDir('tabby-bench-ipam-');
  try {
    const store = await startService(group, 'store', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/store`, '--rpc-log', 'debug']);
    const metricsPort = await freePort('127.0.0.1');
    const ipam = await startService(group, 'ipam', [
      '--listen', '127.0.0.1:0',
      '--data-dir', `${dir.path}/ipam`,
      '--store', store.address,
      '--rpc-log', 'debug',
      '--metrics', `127.0.0.1:${metricsPort}`,
      '--max-blocks-per-host', '100000',
      // A garbage collection pass reads every allocation (O(live)): at 1M it holds the event loop
      // for seconds. Hourly here, so that these figures are AutoAssign's; bench/ipam-gc measures GC.
      '--gc-interval', '3600',
    ]);
    /** ipam's CPU per call since the last call (a figure the shared machine's load does not skew as much as the rates). */
    let lastCpu = cpuSeconds(ipam.process.pid);
    const cpuPerCall = (calls: number): string => {
      const now = cpuSeconds(ipam.process.pid);
      const us = ((now - lastCpu) / calls) * 1e6;
      lastCpu = now;
      return `ipam CPU ${us.toFixed(0)} µs/call`;
    };
    /** Operations per commit since the last call, from ipam's own histogram (group commit at work). */
    let lastSum = 0;
    let lastCount = 0;
    const opsPerCommit = async (): Promise<string> => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const sum = Number(/^tabby_ipam_commit_batch_ops_sum(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1] ?? 0);
      const count = Number(/^tabby_ipam_commit_batch_ops_count(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1] ?? 0);
      const [s, c] = [sum - lastSum, count - lastCount];
      [lastSum, lastCount] = [sum, count];
      return c > 0 ? `${(s / c).toFixed(1)} ops/commit over ${c.toLocaleString('en')} commits` : 'no commits';
    };
    const storeClient = new ResourceStoreClient(store.address, credentials.createInsecure());
    const clients = Array.from({ length: CHANNELS }, (_, i) => new IpamClient(ipam.address, credentials.createInsecure(), { 'grpc.channel_id': i }));
    const ipamOf = (i: number): IpamClient => clients[i % CHANNELS];
    await callUnary(storeClient.create.bind(storeClient), { resource: resource('apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: bench\nspec:\n  cidr: 10.0.0.0/8\n') });
    const nodes = Array.from({ length: NODES }, (_, i) => `node-${i}`);
    for (const n of nodes) {
      await callUnary(storeClient.create.bind(storeClient), { resource: resource(`apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: ${n}\nspec:\n  bgp:\n    ipv4Address: 127.0.0.1/32\n`) });
    }
    const assignCall = (i: number, handle: string, numIpv4: number, attributes: Record<string, string> = {}): Promise<{ ipv4: string[] }> => {
      const c = ipamOf(i);
      return callUnary(c.autoAssign.bind(c), { node: nodes[i % NODES], handle, numIpv4, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], namespaceLabels: {}, attributes });
    };
    // ipam follows the store: wait for the pool and the last node.
    for (;;) {
      const ok = await assignCall(NODES - 1, 'warmup', 1).then(
        () => true,
        () => false,
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    console.log(`bench/ipam: tabby-store + tabby-ipam on loopback, ${CONCURRENCY} calls in flight over ${CHANNELS} channels, pool 10.0.0.0/8 (/26 blocks), ${NODES} nodes`);

    // Warm-up: assigned and released again, twice (the second round as long as a level), so
    // that the 1k level runs as warm as the 1M level.
    const c0 = ipamOf(0);
    for (const [round, n] of [[0, WARMUP], [1, SAMPLE]] as const) {
      const warm: string[] = [];
      await drive(n, async (i) => warm.push(...(await assignCall(i, `w${round}-${i}`, 1)).ipv4), 'warm-up');
      for (let i = 0; i < warm.length; i += 500) await callUnary(c0.releaseIPs.bind(c0), { addresses: warm.slice(i, i + 500), handle: '' });
    }
    await opsPerCommit();
    cpuPerCall(1);

    let live = 1;
    let filler = 0;
    /** Grows the live allocations to `level` through AutoAssign calls of FILL_BATCH addresses. */
    const fillTo = async (level: number): Promise<number> => {
      const t0 = performance.now();
      const calls: number[] = [];
      for (let left = level - live; left > 0; left -= FILL_BATCH) calls.push(Math.min(FILL_BATCH, left));
      await drive(calls.length, (i) => assignCall(filler + i, `fill-${filler + i}`, calls[i]), `growing to ${level.toLocaleString('en')} live`, FILL_IN_FLIGHT);
      filler += calls.length;
      live = Math.max(live, level);
      return (performance.now() - t0) / 1000;
    };
    let sampled = 0;
    const level = async (at: number): Promise<Run> => {
      const base = sampled;
      sampled += SAMPLE;
      const r = await drive(SAMPLE, (i) => assignCall(i, `s-${base + i}`, 1), `at ${at.toLocaleString('en')} live`);
      live += SAMPLE;
      return r;
    };

    await fillTo(LOW);
    cpuPerCall(1);
    const low = await level(LOW);
    console.log(`AutoAssign at ${LOW.toLocaleString('en').padStart(9)} live   ${fmt(low)}   (${cpuPerCall(SAMPLE)})`);

    const a = await drive(ASSIGNS, (i) => assignCall(i, `a-${i}`, 1, { namespace: 'bench', pod: `p${i}` }), 'AutoAssign');
    live += ASSIGNS;
    console.log(`AutoAssign   ${ASSIGNS.toLocaleString('en').padStart(7)} calls  ${fmt(a)}   (${await opsPerCommit()}, ${cpuPerCall(ASSIGNS)})`);
    const w = await drive(
      WORKLOADS,
      (i) => {
        const c = ipamOf(i);
        return callUnary(c.workloadAdd.bind(c), { namespace: 'bench', name: `pod-${i}`, node: nodes[i % NODES], labels: { app: 'bench' }, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], ipAddrs: [], namespaceLabels: {} });
      },
      'WorkloadAdd',
    );
    live += WORKLOADS;
    console.log(`WorkloadAdd  ${WORKLOADS.toLocaleString('en').padStart(7)} calls  ${fmt(w)}   (${await opsPerCommit()}, ${cpuPerCall(WORKLOADS)})`);

    const grew = await fillTo(HIGH);
    console.log(`grew to ${HIGH.toLocaleString('en')} live allocations in ${grew.toFixed(1)} s (AutoAssign of ${FILL_BATCH} addresses, ${FILL_IN_FLIGHT} in flight)`);
    cpuPerCall(1);
    const high = await level(HIGH);
    console.log(`AutoAssign at ${HIGH.toLocaleString('en').padStart(9)} live   ${fmt(high)}   (${cpuPerCall(SAMPLE)})`);

    const highName = HIGH === 1_000_000 ? '1M' : HIGH.toLocaleString('en');
    report({ bench: 'ipam', measure: 'IPAM AutoAssign/s, 64 in flight', unit: 'ops/s', tabby: a.perSecond, better: 'higher', goal: 10_000 });
    report({ bench: 'ipam', measure: 'IPAM WorkloadAdd/s, 64 in flight', unit: 'ops/s', tabby: w.perSecond, better: 'higher', goal: 5_000 });
    report({ bench: 'ipam', measure: 'AutoAssign p50 latency at 1k live allocations', unit: 'ms', tabby: low.p50, better: 'lower' });
    report({ bench: 'ipam', measure: `AutoAssign p50 latency at ${highName} live allocations`, unit: 'ms', tabby: high.p50, better: 'lower' });
    report({ bench: 'ipam', measure: `AutoAssign p50 latency at ${highName} live allocations ÷ at 1k (flat: ≤ 1.5)`, unit: '×', tabby: high.p50 / low.p50, better: 'lower', goal: 1.5 });
    storeClient.close();
    for (const c of clients) c.close();
  } finally {
    await group.stopAll();
    dir.remove();
  }
}

await main();
