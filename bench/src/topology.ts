/**
 * bench/topology: the topology compiler (pure, in process). Prints the full compile time
 * and the time of single changes compiled incrementally, for a 1,000-node full mesh and for
 * 5,000 nodes behind 3 route reflectors with 20 selector peers (ToR per rack); the safety
 * check and the Preview of one BGPPeer as the service's analysis worker runs them; and a
 * Preview through the real tabby-topology (store, service, worker) over gRPC. Figures are
 * printed, never asserted; the headline ones are reported as result rows. Aim: 5,000-node
 * full compile <= 300 ms, one-node label change <= 5 ms, check and preview <= 200 ms on the
 * 1,000-node mesh. Run: npm run bench:topology -w @tabby/bench.
 */
import { credentials } from '@grpc/grpc-js';
import { ProcessGroup, eventually, healthCheck, startService, tempDir } from '@tabby/harness';
import { BGPConfiguration, BGPPeer, Node, ResourceStoreClient, TopologyClient, type Resource } from '@tabby/proto';
import { callUnary } from '@tabby/runtime';
import { TopologyCompiler, analyze, currentWarnings, preview } from '@tabby/topology';
import { report } from './results.js';

const RUNS = Number(process.env.BENCH_TOPOLOGY_RUNS ?? 5);

function node(name: string, i: number, labels: Record<string, string>, clusterId = ''): Resource {
  return {
    kind: {
      $case: 'node',
      value: Node.fromPartial({
        metadata: { name, labels },
        spec: { bgp: { ipv4Address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/16`, routeReflectorClusterID: clusterId } },
      }),
    },
  };
}

function peer(name: string, spec: Partial<BGPPeer['spec']>): Resource {
  return { kind: { $case: 'bgpPeer', value: BGPPeer.fromPartial({ metadata: { name }, spec }) } };
}

function config(mesh: boolean): Resource {
  return { kind: { $case: 'bgpConfiguration', value: BGPConfiguration.fromPartial({ metadata: { name: 'default' }, spec: { nodeToNodeMeshEnabled: mesh } }) } };
}

function ms(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e6;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function fmt(x: number): string {
  return x < 10 ? x.toFixed(2) : x.toFixed(0);
}

interface Scenario {
  readonly title: string;
  /** Result rows: the full compile's, and the check's and preview's. */
  readonly rows: { readonly compile?: string; readonly check?: string; readonly preview?: string };
  readonly resources: () => Resource[];
  /** Changes, each applied then reverted, timed incrementally (a commit each). */
  readonly changes: readonly { readonly what: string; readonly apply: (c: TopologyCompiler) => void; readonly revert: (c: TopologyCompiler) => void }[];
}

const put =
  (...resources: Resource[]) =>
  (c: TopologyCompiler): void => {
    for (const r of resources) c.apply(r);
  };

const remove =
  (kind: 'Node' | 'BGPPeer', name: string) =>
  (c: TopologyCompiler): void =>
    c.delete(kind, name);

const extraPeer = (): Resource => peer('extra', { nodeSelector: "rack == 'r3'", peerIP: '192.0.2.200', asNumber: 65100 });

function run(s: Scenario): void {
  const resources = s.resources();
  let full: number[] = [];
  let load: number[] = [];
  let c = new TopologyCompiler();
  for (let r = 0; r < RUNS; r++) {
    c = new TopologyCompiler();
    const t0 = process.hrtime.bigint();
    for (const res of resources) c.apply(res);
    load.push(ms(t0));
    const t = process.hrtime.bigint();
    c.commit();
    full.push(ms(t));
  }
  full = full.slice(1);
  load = load.slice(1);
  let sessions = 0;
  for (const cfg of c.allConfigs().values()) sessions += cfg.peers.length;
  const heap = process.memoryUsage().heapUsed / 2 ** 20;
  console.log(`\n${s.title}`);
  console.log(`  ${c.allConfigs().size} nodes, ${sessions} sessions (both ends counted), heap ${heap.toFixed(0)} MiB`);
  console.log(`  loading ${resources.length} resources (parse, index, match selectors): ${fmt(median(load))} ms`);
  console.log(`  full compile: ${fmt(median(full))} ms (median of ${full.length}, after a warm-up)`);
  if (s.rows.compile) report({ bench: 'topology', measure: s.rows.compile, unit: 'ms', tabby: median(full), better: 'lower', goal: 300 });
  // The first analysis of a state nothing was analysed in yet (every session read from its object).
  let t = process.hrtime.bigint();
  analyze(c);
  const coldCheck = ms(t);
  for (const ch of s.changes) {
    const times: number[] = [];
    let changed = 0;
    let recompiled = 0;
    for (let r = 0; r < RUNS * 4; r++) {
      const t = process.hrtime.bigint();
      (r % 2 === 0 ? ch.apply : ch.revert)(c);
      const result = c.commit();
      times.push(ms(t));
      changed = result.changed.length;
      recompiled = result.recompiled;
    }
    console.log(`  ${ch.what}: ${fmt(median(times))} ms (median of ${times.length}; ${recompiled} recompiled, ${changed} changed)`);
  }
  // Check as the analysis worker runs it after a change: the state's warnings are not cached
  // (the change is its first analysis); the unchanged nodes' session rows are.
  const checks: number[] = [];
  const previews: number[] = [];
  const coldPreviews: number[] = [];
  const first = s.changes[0];
  for (let r = 0; r < RUNS; r++) {
    (r % 2 === 0 ? first.apply : first.revert)(c);
    c.commit();
    t = process.hrtime.bigint();
    currentWarnings(c);
    checks.push(ms(t));
    // Preview right after that Check (the worker's steady state: the current warnings known).
    t = process.hrtime.bigint();
    preview(c, { apply: [extraPeer()], delete: [] });
    previews.push(ms(t));
  }
  for (let r = 0; r < 3; r++) {
    (r % 2 === 0 ? first.apply : first.revert)(c);
    c.commit();
    // A Preview right after a change: it analyses the current state too.
    t = process.hrtime.bigint();
    preview(c, { apply: [extraPeer()], delete: [] });
    coldPreviews.push(ms(t));
  }
  console.log(`  check (safety analysis, route propagation) after a change: ${fmt(median(checks))} ms (the first analysis of a fresh state: ${fmt(coldCheck)} ms)`);
  console.log(`  preview of one BGPPeer (incremental compile, analysis of the result, diff): ${fmt(median(previews))} ms; right after a change (both states analysed): ${fmt(median(coldPreviews))} ms`);
  if (s.rows.check) report({ bench: 'topology', measure: s.rows.check, unit: 'ms', tabby: median(checks), better: 'lower', goal: 200 });
  if (s.rows.preview) report({ bench: 'topology', measure: s.rows.preview, unit: 'ms', tabby: median(previews), better: 'lower', goal: 200 });
}

/**
 * A Preview of one BGPPeer through the real service: tabby-store holding an n-node mesh,
 * tabby-topology following it, the Preview over gRPC (validation, the worker round trip,
 * the analysis in the worker, the answer's encoding). Median of several, after a warm-up.
 */
async function servicePreview(n: number): Promise<void> {
  const group = new ProcessGroup();
  const dir = tempDir('tabby-bench-topology-');
  try {
    const store = await startService(group, 'store', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/store`]);
    const st = new ResourceStoreClient(store.address, credentials.createInsecure());
    const resources = mesh(n).resources();
    for (let i = 0; i < resources.length; i += 50) await Promise.all(resources.slice(i, i + 50).map((resource) => callUnary(st.apply.bind(st), { resource }, { timeoutMs: 30_000 })));
    st.close();
    const topology = await startService(group, 'topology', ['--listen', '127.0.0.1:0', '--store', store.address]);
    await eventually('tabby-topology in sync', async () => (await healthCheck(topology.address)) === 'SERVING', 120_000, 100);
    const tc = new TopologyClient(topology.address, credentials.createInsecure(), { 'grpc.max_receive_message_length': 64 * 2 ** 20 });
    const times: number[] = [];
    let nodes = 0;
    for (let r = 0; r < RUNS + 1; r++) {
      const t = process.hrtime.bigint();
      const p = await callUnary(tc.preview.bind(tc), { apply: [extraPeer()], delete: [] }, { timeoutMs: 120_000 });
      times.push(ms(t));
      nodes = p.nodes.length;
    }
    tc.close();
    const steady = times.slice(1);
    console.log(`\nPreview of one BGPPeer over gRPC, ${n.toLocaleString('en-US')}-node mesh in tabby-store: ${fmt(median(steady))} ms (median of ${steady.length}; the first, which also analyses the current state: ${fmt(times[0])} ms; ${nodes} nodes change)`);
    report({ bench: 'topology', measure: `topology Preview of one BGPPeer over gRPC (service + worker), ${n.toLocaleString('en-US')}-node mesh`, unit: 'ms', tabby: median(steady), better: 'lower', goal: 200 });
  } finally {
    await group.stopAll();
    dir.remove();
  }
}

function mesh(n: number): Scenario {
  const labels = (i: number): Record<string, string> => ({ rack: `r${i % 20}` });
  return {
    title: `${n.toLocaleString('en-US')} nodes, full mesh`,
    rows: n === 1000 ? { check: 'topology safety check, 1,000-node mesh', preview: 'topology preview of one BGPPeer, 1,000-node mesh' } : {},
    resources: () => [config(true), ...Array.from({ length: n }, (_, i) => node(`node${i}`, i + 1, labels(i)))],
    changes: [
      { what: 'one-node label change', apply: put(node('node7', 8, { rack: 'r7', colour: 'blue' })), revert: put(node('node7', 8, labels(7))) },
      { what: 'one node added / removed (every node recompiled)', apply: put(node(`node${n}`, n + 1, labels(n))), revert: remove('Node', `node${n}`) },
    ],
  };
}

function reflectors(n: number): Scenario {
  const labels = (i: number): Record<string, string> => (i < 3 ? { 'i-am-a-route-reflector': 'true', rack: 'r0' } : { rack: `r${i % 20}` });
  const tors = Array.from({ length: 20 }, (_, r) => peer(`tor-r${r}`, { nodeSelector: `rack == 'r${r}' && !has(i-am-a-route-reflector)`, peerIP: `192.0.2.${r + 1}`, asNumber: 65000 + r }));
  return {
    title: `${n.toLocaleString('en-US')} nodes, 3 route reflectors, 20 selector peers (a ToR per rack), mesh off`,
    rows: n === 5000 ? { compile: '5,000 nodes compiled (3 RRs, 20 ToR selector peers)' } : {},
    resources: () => [
      config(false),
      ...Array.from({ length: n }, (_, i) => node(`node${i}`, i + 1, labels(i), i < 3 ? '224.0.0.1' : '')),
      peer('peer-to-rrs', { nodeSelector: '!has(i-am-a-route-reflector)', peerSelector: 'has(i-am-a-route-reflector)' }),
      peer('rr-mesh', { nodeSelector: 'has(i-am-a-route-reflector)', peerSelector: 'has(i-am-a-route-reflector)' }),
      ...tors,
    ],
    changes: [
      { what: 'one-node label change (moves to another rack and ToR)', apply: put(node('node7', 8, { rack: 'r8' })), revert: put(node('node7', 8, labels(7))) },
      { what: 'one-node label change no selector reads', apply: put(node('node7', 8, { ...labels(7), colour: 'blue' })), revert: put(node('node7', 8, labels(7))) },
      { what: 'one node added / removed (the 3 reflectors recompiled too)', apply: put(node(`node${n}`, n + 1, labels(n))), revert: remove('Node', `node${n}`) },
      {
        what: 'a selector peer added / removed (a rack recompiled)',
        apply: put(peer('extra', { nodeSelector: "rack == 'r3'", peerIP: '192.0.2.200', asNumber: 65100 })),
        revert: remove('BGPPeer', 'extra'),
      },
    ],
  };
}

async function main(): Promise<void> {
  console.log(`bench/topology (node ${process.version})`);
  for (const s of [mesh(1000), reflectors(5000)]) run(s);
  await servicePreview(1000);
}

await main();
