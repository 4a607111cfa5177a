/**
 * bench/convergence: route convergence of the whole control plane. Real nats-server,
 * tabby-store, tabby-ipam and tabby-topology processes; N agents (10, then 50) running in this
 * process as a library (@tabby/agent startAgent), each with its BGP speaker on its own
 * 127.0.100.x address, in a full node-to-node mesh. Each sample adds the first workload on a
 * node (WorkloadAdd: the node claims a new /26 block) and measures the time from WorkloadAdd
 * returning to the block's route being in every agent's RIB (ipam -> topology -> the owning
 * agent -> BGP UPDATE -> N-1 agents; often already done when the reply arrives, since
 * WorkloadAdd also writes the WorkloadEndpoint after the block is committed and published,
 * so the time from sending WorkloadAdd is printed too); then WorkloadDelete releases the block and the withdrawal
 * is timed the same way before the next sample. Prints p50/p99; nothing is asserted.
 * Then the same with 200 agents and the mesh off: two of them are route reflectors (one
 * cluster, labelled `route-reflector`), every other agent peers with both (Calico's BGPPeer
 * selectors), so a route travels owner -> reflectors -> 197 clients.
 * Aim: p99 <= 1 s. Run: npm run bench:convergence -w @tabby/bench
 * (BENCH_SAMPLES=N samples per size, default 100; BENCH_SIZES=10,50 for the meshes;
 * BENCH_RR_AGENTS=200 for the reflector scenario, 0 to skip it).
 */
import { credentials } from '@grpc/grpc-js';
import { startAgent, type AgentApp } from '@tabby/agent';
import { parseManifest } from '@tabby/api';
import { ProcessGroup, freePort, startNats, startService, tempDir } from '@tabby/harness';
import { IpamClient, ResourceStoreClient, type Resource } from '@tabby/proto';
import { NatsBus, callUnary, createLogger, createMetrics } from '@tabby/runtime';
import { report } from './results.js';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 100);
const WARMUP = 5;
const SIZES = (process.env.BENCH_SIZES ?? '10,50').split(',').filter(Boolean).map(Number);
const RR_AGENTS = Number(process.env.BENCH_RR_AGENTS ?? 200);
/** Agents 1 and 2 are the route reflectors of the reflector scenario. */
const REFLECTORS = 2;
const BLOCK_BITS = 26;
const POLL_MS = 1;

function resource(text: string): Resource {
  const r = parseManifest(text);
  if (r.errors.length > 0 || !r.resources[0]) throw new Error(r.errors[0]?.message ?? 'empty manifest');
  return r.resources[0].resource;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** The /26 block holding an IPv4 address (`192.168.3.70/32` -> `192.168.3.64/26`). */
function blockOf(ipNetwork: string): string {
  const o = (ipNetwork.split('/')[0] ?? '').split('.').map(Number);
  const n = (((o[0] ?? 0) << 24) | ((o[1] ?? 0) << 16) | ((o[2] ?? 0) << 8) | (o[3] ?? 0)) >>> 0;
  const net = (n & ~((1 << (32 - BLOCK_BITS)) - 1)) >>> 0;
  return `${net >>> 24}.${(net >>> 16) & 255}.${(net >>> 8) & 255}.${net & 255}/${BLOCK_BITS}`;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every POLL_MS until true (or `timeoutMs`); resolves with the ms since `t0`. */
async function until(check: () => boolean, t0: number, what: string, timeoutMs = 30_000): Promise<number> {
  for (;;) {
    if (check()) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(POLL_MS);
  }
}

interface Figures {
  /** From sending WorkloadAdd (the RPC itself included). */
  readonly fromCall: number[];
  readonly origin: number[];
  readonly all: number[];
  readonly withdrawn: number[];
}

function line(label: string, xs: readonly number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const f = (v: number): string => `${v.toFixed(0).padStart(5)} ms`;
  return `  ${label.padEnd(52)} p50 ${f(percentile(s, 50))}   p99 ${f(percentile(s, 99))}   max ${f(s[s.length - 1] ?? 0)}`;
}

type Shape = 'mesh' | 'reflectors';

async function run(size: number, shape: Shape): Promise<Figures> {
  const group = new ProcessGroup();
  const dir = tempDir('tabby-bench-convergence-');
  const apps: AgentApp[] = [];
  let bus: NatsBus | undefined;
  try {
    const nats = await startNats(group, dir.path);
    const quiet = ['--rpc-log', 'debug', '--nats', nats.url];
    const store = await startService(group, 'store', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/store`, ...quiet]);
    const ipam = await startService(group, 'ipam', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/ipam`, '--store', store.address, ...quiet]);
    const topology = await startService(group, 'topology', ['--listen', '127.0.0.1:0', '--store', store.address, '--ipam', ipam.address, ...quiet]);
    const storeClient = new ResourceStoreClient(store.address, credentials.createInsecure());
    const ipamClient = new IpamClient(ipam.address, credentials.createInsecure());
    const bgpPort = await freePort('127.0.100.1');
    const mesh = shape === 'mesh';
    await callUnary(storeClient.apply.bind(storeClient), {
      resource: resource(`apiVersion: projectcalico.org/v3\nkind: BGPConfiguration\nmetadata:\n  name: default\nspec:\n  listenPort: ${bgpPort}\n  nodeToNodeMeshEnabled: ${mesh}\n`),
    });
    if (!mesh) {
      // The reflectors' Nodes before their agents start (an agent keeps what it does not own: labels, cluster id).
      for (let i = 1; i <= REFLECTORS; i++) {
        await callUnary(storeClient.apply.bind(storeClient), {
          resource: resource(
            `apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: node-${i}\n  labels:\n    route-reflector: "true"\nspec:\n  bgp:\n    ipv4Address: 127.0.100.${i}/32\n    routeReflectorClusterID: 224.0.0.1\n`,
          ),
        });
      }
      for (const [name, nodeSelector] of [
        ['peer-with-reflectors', '!has(route-reflector)'],
        ['reflector-mesh', 'has(route-reflector)'],
      ]) {
        await callUnary(storeClient.apply.bind(storeClient), {
          resource: resource(`apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata:\n  name: ${name}\nspec:\n  nodeSelector: "${nodeSelector}"\n  peerSelector: "has(route-reflector)"\n`),
        });
      }
    }
    await callUnary(storeClient.apply.bind(storeClient), { resource: resource('apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: bench\nspec:\n  cidr: 192.168.0.0/16\n  blockSize: 26\n') });

    bus = await NatsBus.connect({ url: nats.url, name: 'bench-agents', logger: createLogger({ service: 'bench-nats', level: 'error' }) });
    const logger = createLogger({ service: 'tabby-agent', level: 'error' });
    const nodes = Array.from({ length: size }, (_, i) => `node-${i + 1}`);
    const t0 = performance.now();
    for (const [i, node] of nodes.entries()) {
      apps.push(
        await startAgent({
          node,
          listen: { host: '127.0.0.1', port: 0, text: '127.0.0.1:0' },
          bgpAddress: `127.0.100.${i + 1}`,
          bgpPort: 0,
          bgpListen: 'node-address',
          asNumber: 0,
          holdTimeS: 30,
          peerAllow: '127.0.0.0/8',
          store: store.address,
          topology: topology.address,
          bus,
          logger,
          metrics: createMetrics('tabby-agent'),
          statusIntervalMs: 30_000,
          callLogLevel: 'debug',
        }),
      );
    }
    const startedMs = performance.now() - t0;
    const wanted = (i: number): number => (mesh || i < REFLECTORS ? size - 1 : REFLECTORS);
    const meshMs = await until(
      () => apps.every((a, i) => a.agent.nodeStatus().status?.bgp?.numberEstablishedV4 === wanted(i)),
      t0,
      mesh ? `a full mesh of ${size} agents` : `${size} agents peered with ${REFLECTORS} route reflectors`,
      300_000,
    );
    const sessions = mesh ? (size * (size - 1)) / 2 : (size - REFLECTORS) * REFLECTORS + 1;
    console.log(
      `${size} agents: ${mesh ? 'full mesh' : `${REFLECTORS} route reflectors`} (${sessions} sessions) Established ${(meshMs / 1000).toFixed(1)} s after the first agent started (all started after ${(startedMs / 1000).toFixed(1)} s)`,
    );

    const figures: Figures = { fromCall: [], origin: [], all: [], withdrawn: [] };
    for (let s = 0; s < WARMUP + SAMPLES; s++) {
      const i = s % size;
      const node = nodes[i];
      const owner = apps[i];
      const name = `w-${s}`;
      const tCall = performance.now();
      const added = await callUnary(ipamClient.workloadAdd.bind(ipamClient), { namespace: 'bench', name, node, labels: {}, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], ipAddrs: [], namespaceLabels: {} });
      const tAdd = performance.now();
      const block = blockOf(added.ipNetworks[0] ?? '');
      const has = (a: AgentApp): boolean => a.agent.routes('ipv4', block).length > 0;
      const origin = await until(() => has(owner), tAdd, `${node} to originate ${block}`);
      const all = await until(() => apps.every(has), tAdd, `every agent to have ${block}`);
      await callUnary(ipamClient.workloadDelete.bind(ipamClient), { namespace: 'bench', name });
      const tDel = performance.now();
      const withdrawn = await until(() => !apps.some(has), tDel, `every agent to drop ${block}`);
      if (s >= WARMUP) {
        figures.fromCall.push(all + (tAdd - tCall));
        figures.origin.push(origin);
        figures.all.push(all);
        figures.withdrawn.push(withdrawn);
      }
      if (s % 10 === 0) process.stderr.write(`  ${size} agents: sample ${s + 1} / ${WARMUP + SAMPLES}\r`);
    }
    process.stderr.write('\x1b[2K');
    storeClient.close();
    ipamClient.close();
    return figures;
  } finally {
    await Promise.allSettled(apps.map((a) => a.stop()));
    await bus?.close();
    await group.stopAll();
    dir.remove();
  }
}

async function main(): Promise<void> {
  console.log(
    `bench/convergence: nats-server, tabby-store, -ipam, -topology as processes; agents in this process on 127.0.100.x (full meshes, then ${RR_AGENTS} agents with ${REFLECTORS} route reflectors); ${SAMPLES} samples per size (after ${WARMUP} warm-up), /26 blocks`,
  );
  const runs: [number, Shape][] = [...SIZES.map((n): [number, Shape] => [n, 'mesh']), ...(RR_AGENTS > 0 ? [[RR_AGENTS, 'reflectors'] as [number, Shape]] : [])];
  for (const [size, shape] of runs) {
    const f = await run(size, shape);
    const what = shape === 'mesh' ? `${size} agents` : `${size} agents, ${REFLECTORS} RRs`;
    console.log(line(`${what}: WorkloadAdd -> route on every agent`, f.all));
    console.log(line(`${what}:   (from WorkloadAdd sent)`, f.fromCall));
    console.log(line(`${what}: WorkloadAdd -> originated by its node`, f.origin));
    console.log(line(`${what}: WorkloadDelete -> gone from every agent`, f.withdrawn));
    const p99 = percentile([...f.fromCall].sort((a, b) => a - b), 99);
    report({
      bench: 'convergence',
      measure: `${shape === 'mesh' ? `${size} agents, full mesh` : `${size} agents, ${REFLECTORS} route reflectors`}: p99 from WorkloadAdd sent to the route in every agent's RIB`,
      unit: 'ms',
      tabby: p99,
      better: 'lower',
      goal: 1000,
    });
  }
}

await main();
