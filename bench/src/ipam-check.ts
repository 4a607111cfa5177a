/**
 * bench/ipam-check: `ipam check` over 100,000 allocations. The real tabby-store and tabby-ipam
 * on loopback (tabby-ipam with --leak-grace 0); 100,000 addresses are allocated on 200 nodes:
 * BENCH_WORKLOADS of them by WorkloadAdd (with their WorkloadEndpoints in the store),
 * BENCH_LEAKED by AutoAssign for pods that have no endpoint (leaked), the rest by AutoAssign
 * in batches of 256 (non-workload addresses). Prints the time of the Check RPC and of the
 * whole `tabbyctl ipam check -o report.json` process, and what it found.
 * Run: npm run bench:ipam-check -w @tabby/bench.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { parseManifest } from '@tabby/api';
import { ProcessGroup, REPO_ROOT, startService, tempDir } from '@tabby/harness';
import { IpamClient, ResourceStoreClient, type Resource } from '@tabby/proto';
import { callUnary } from '@tabby/runtime';

const TOTAL = Number(process.env.BENCH_ALLOCATIONS ?? 100_000);
const WORKLOADS = Number(process.env.BENCH_WORKLOADS ?? 2_000);
const LEAKED = Number(process.env.BENCH_LEAKED ?? 100);
const NODES = 200;
const CONCURRENCY = 32;

function resource(text: string): Resource {
  const r = parseManifest(text);
  if (r.errors.length > 0 || !r.resources[0]) throw new Error(r.errors[0]?.message ?? 'empty manifest');
  return r.resources[0].resource;
}

async function parallel(n: number, op: (i: number) => Promise<unknown>, label: string): Promise<void> {
  let next = 0;
  let done = 0;
  const progress = setInterval(() => process.stderr.write(`  ${label}: ${done.toLocaleString('en')} / ${n.toLocaleString('en')}\r`), 1000);
  try {
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < n) {
          await op(next++);
          done++;
        }
      }),
    );
  } finally {
    clearInterval(progress);
  }
}

async function main(): Promise<void> {
  const group = new ProcessGroup();
  const dir = tempDir('tabby-bench-ipam-check-');
  try {
    const store = await startService(group, 'store', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/store`]);
    const ipam = await startService(group, 'ipam', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/ipam`, '--store', store.address, '--leak-grace', '0']);
    const storeClient = new ResourceStoreClient(store.address, credentials.createInsecure());
    const client = new IpamClient(ipam.address, credentials.createInsecure(), { 'grpc.max_receive_message_length': 256 * 1024 * 1024 });
    await callUnary(storeClient.create.bind(storeClient), { resource: resource('apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: bench\nspec:\n  cidr: 10.0.0.0/8\n') });
    const nodes = Array.from({ length: NODES }, (_, i) => `node-${i}`);
    for (const n of nodes) {
      await callUnary(storeClient.create.bind(storeClient), { resource: resource(`apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: ${n}\nspec:\n  bgp:\n    ipv4Address: 127.0.0.1/32\n`) });
    }
    const assign = (node: string, handle: string, n: number, attributes: Record<string, string>): Promise<unknown> =>
      callUnary(client.autoAssign.bind(client), { node, handle, numIpv4: n, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], namespaceLabels: {}, attributes });
    // ipam follows the store: wait until it knows the pool and the last node.
    for (;;) {
      if (await assign(nodes[NODES - 1], 'warmup', 1, {}).then(() => true, () => false)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const t0 = performance.now();
    await parallel(WORKLOADS, (i) => callUnary(client.workloadAdd.bind(client), { namespace: 'bench', name: `pod-${i}`, node: nodes[i % NODES], labels: {}, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], ipAddrs: [], namespaceLabels: {} }), 'WorkloadAdd');
    await parallel(LEAKED, (i) => assign(nodes[i % NODES], `leak-${i}`, 1, { namespace: 'bench', pod: `gone-${i}`, node: nodes[i % NODES] }), 'leaked');
    const rest = TOTAL - WORKLOADS - LEAKED - 1;
    const batches = Math.ceil(rest / 256);
    await parallel(batches, (i) => assign(nodes[i % NODES], `fill-${i}`, Math.min(256, rest - i * 256), { node: nodes[i % NODES] }), 'fill');
    console.log(`bench/ipam-check: tabby-store + tabby-ipam on loopback, pool 10.0.0.0/8 (/26 blocks), ${NODES} nodes`);
    console.log(`  filled ${TOTAL.toLocaleString('en')} allocations (${WORKLOADS.toLocaleString('en')} workloads with endpoints, ${LEAKED} leaked) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    for (let run = 1; run <= 3; run++) {
      const s = performance.now();
      const r = await callUnary(client.check.bind(client), { repair: false }, { timeoutMs: 300_000 });
      const ms = performance.now() - s;
      console.log(
        `  Check RPC #${run}: ${(ms / 1000).toFixed(2)} s for ${r.allocationsChecked.toLocaleString('en')} allocations, ${r.blocksChecked.toLocaleString('en')} blocks, ${r.workloadsChecked.toLocaleString('en')} endpoints; ${r.problems.length} problems`,
      );
    }
    const s = performance.now();
    const cli = spawnSync(process.execPath, [path.join(REPO_ROOT, 'packages/cli/dist/main.js'), 'ipam', 'check', '-o', path.join(dir.path, 'report.json')], {
      env: { ...process.env, HOME: dir.path, TABBY_CONFIG: '', TABBY_STORE_ADDR: store.address, TABBY_IPAM_ADDR: ipam.address },
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const ms = performance.now() - s;
    if (cli.status !== 0) throw new Error(`tabbyctl ipam check failed (${cli.status}): ${cli.stderr}`);
    const last = cli.stdout.trimEnd().split('\n').pop();
    console.log(`  tabbyctl ipam check -o report.json: ${(ms / 1000).toFixed(2)} s end to end (process start included): "${last}"`);
    storeClient.close();
    client.close();
  } finally {
    await group.stopAll();
    dir.remove();
  }
}

await main();
