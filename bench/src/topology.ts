/**
 * bench/topology: the topology compiler (pure, in process). Prints the full compile time
 * and the time of single changes compiled incrementally, for a 1,000-node full mesh and for
 * 5,000 nodes behind 3 route reflectors with 20 selector peers (ToR per rack). Figures are
 * printed, never asserted. Aim: 5,000-node full compile <= 300 ms, one-node label change
 * <= 5 ms. Run: npm run bench:topology -w @tabby/bench.
 */
import { BGPConfiguration, BGPPeer, Node, type Resource } from '@tabby/proto';
import { TopologyCompiler, analyze, preview } from '@tabby/topology';

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
  const checks: number[] = [];
  const previews: number[] = [];
  for (let r = 0; r < 3; r++) {
    let t = process.hrtime.bigint();
    analyze(c);
    checks.push(ms(t));
    t = process.hrtime.bigint();
    preview(c, { apply: [peer('extra', { nodeSelector: "rack == 'r3'", peerIP: '192.0.2.200', asNumber: 65100 })], delete: [] });
    previews.push(ms(t));
  }
  console.log(`  check (safety analysis, route propagation): ${fmt(median(checks))} ms; preview of one BGPPeer (full recompile + 2 analyses): ${fmt(median(previews))} ms`);
}

function mesh(n: number): Scenario {
  const labels = (i: number): Record<string, string> => ({ rack: `r${i % 20}` });
  return {
    title: `${n.toLocaleString('en-US')} nodes, full mesh`,
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

function main(): void {
  console.log(`bench/topology (node ${process.version})`);
  for (const s of [mesh(1000), reflectors(5000)]) run(s);
}

main();
