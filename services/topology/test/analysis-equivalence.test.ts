/**
 * The analysis (session graph, route propagation, warnings) and Preview give exactly what
 * they gave before they were made fast (issue 17 point 4): the previous implementation is
 * kept in test/reference as the oracle. Random states (seeded, so failures replay) over
 * meshes, route reflectors and their clusters, AS numbers (eBGP, reserved ones), ports,
 * passive and one-sided sessions, selector and peerIP BGPPeers, IPv6, and random changes
 * previewed on each.
 */
import { describe, expect, it } from 'vitest';
import { analyze } from '../src/compile/analyze.js';
import { TopologyCompiler } from '../src/compile/compiler.js';
import { sessionGraph } from '../src/compile/graph.js';
import { preview } from '../src/compile/preview.js';
import { routeReachability } from '../src/compile/propagation.js';
import { toNodeDiff, toWarning } from '../src/convert.js';
import { analyze as referenceAnalyze } from './reference/analyze.js';
import { sessionGraph as referenceSessionGraph } from './reference/graph.js';
import { preview as referencePreview } from './reference/preview.js';
import { routeReachability as referenceReachability } from './reference/propagation.js';
import { bgpConfig, bgpPeer, manifest, node } from './support.js';

/** mulberry32: a small seeded PRNG. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One random resource (a manifest) or a delete. */
function randomChange(r: () => number, size: number): { apply: string } | { delete: ['Node' | 'BGPPeer' | 'BGPConfiguration', string] } {
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const i = 1 + Math.floor(r() * size);
  const n = `n${i}`;
  const roll = r();
  if (roll < 0.45)
    return {
      apply: node(n, pick([`10.0.0.${i}`, `10.0.0.${i}`, `10.0.1.${i}`, '10.0.0.1', '']), {
        labels: Object.fromEntries<string>([['rack', pick(['a', 'b', 'c'])], ...(r() < 0.3 ? [['rr', 'yes']] : []), ...(r() < 0.2 ? [['edge', 'yes']] : [])] as [string, string][]),
        as: r() < 0.25 ? pick([65001, 65002, 64512, 23456]) : undefined,
        rr: r() < 0.25 ? pick(['224.0.0.1', '224.0.0.2']) : undefined,
        v6: r() < 0.3 ? `fd00::${i}` : undefined,
      }),
    };
  if (roll < 0.52) return { delete: ['Node', n] };
  if (roll < 0.8) {
    const local = pick(['', `node: ${n}`, "nodeSelector: rack == 'a'", 'nodeSelector: "!has(rr)"', 'nodeSelector: has(rr)', 'nodeSelector: all()']);
    const remote = pick([
      'peerSelector: has(rr)',
      'peerSelector: has(edge)',
      'peerSelector: "!has(rr)"',
      `peerIP: 10.0.0.${1 + Math.floor(r() * size)}\nasNumber: ${pick([64512, 65001, 0])}`,
      `peerIP: 10.0.0.${1 + Math.floor(r() * size)}:1790\nasNumber: 64512`,
      `peerIP: 10.9.0.1\nasNumber: ${pick([65100, 64512])}`,
      `peerIP: "[fd00::${1 + Math.floor(r() * size)}]:179"\nasNumber: 64512`,
    ]);
    const extra = pick(['', '', 'reversePeering: Manual', 'keepOriginalNextHop: true', 'numAllowedLocalASNumbers: 1', `localASNumber: ${pick([65001, 65005])}`]);
    return { apply: bgpPeer(pick(['p1', 'p2', 'p3', 'p4', 'p5', 'p6']), [local, remote, extra].filter((l) => l !== '').join('\n')) };
  }
  if (roll < 0.88) return { delete: ['BGPPeer', pick(['p1', 'p2', 'p3', 'p4', 'p5', 'p6'])] };
  if (roll < 0.96)
    return {
      apply: bgpConfig([`nodeToNodeMeshEnabled: ${pick(['true', 'true', 'false'])}`, r() < 0.3 ? 'asNumber: 63400' : '', r() < 0.2 ? 'listenPort: 1790' : ''].join('\n')),
    };
  return { apply: bgpConfig('listenPort: 1790', `node.${n}`) };
}

/** A Preview as the service answers it (sessions compared by value, not by object). */
function answer(p: ReturnType<typeof preview>) {
  return { nodes: p.nodes.map(toNodeDiff), warnings: p.warnings.map(toWarning), resolved: p.resolved.map(toWarning) };
}

function run(c: TopologyCompiler, change: ReturnType<typeof randomChange>): void {
  if ('apply' in change) for (const res of manifest(change.apply)) c.apply(res);
  else c.delete(change.delete[0], change.delete[1]);
}

describe('the analysis equals the reference implementation', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`on random states and previews (seed ${seed})`, () => {
      const r = rng(seed);
      const size = 6 + Math.floor(r() * 10);
      const c = new TopologyCompiler();
      for (let step = 0; step < 120; step++) {
        const change = randomChange(r, size);
        run(c, change);
        c.commit();
        const context = `step ${step} (seed ${seed}): ${JSON.stringify(change)}`;
        const configs = c.allConfigs();
        const edges = sessionGraph(configs);
        expect(edges, context).toEqual(referenceSessionGraph(configs));
        const names = [...configs.values()].filter((n) => n.ipv4 !== '').map((n) => n.node).sort();
        const clusterOf = (n: string): string => configs.get(n)?.clusterId ?? '';
        expect(routeReachability(edges, 4, names, clusterOf), context).toEqual(referenceReachability(edges, 4, names, clusterOf));
        expect(analyze(c), context).toEqual(referenceAnalyze(c));
        const next = randomChange(r, size);
        const changes = 'apply' in next ? { apply: manifest(next.apply), delete: [] } : { apply: [], delete: [{ kind: next.delete[0], name: next.delete[1] }] };
        if ('delete' in next && !c.has(next.delete[0], next.delete[1])) continue;
        expect(answer(preview(c, changes)), `preview of ${JSON.stringify(next)} at ${context}`).toEqual(answer(referencePreview(c, changes)));
      }
    });
  }

  it('on a mesh with route reflectors, eBGP nodes and an external router', () => {
    const c = new TopologyCompiler();
    const text = [
      ...Array.from({ length: 40 }, (_, i) => node(`n${i + 1}`, `10.0.0.${i + 1}`, { labels: { rack: `r${i % 4}` }, as: i % 7 === 0 ? 65001 : undefined, rr: i < 3 ? '224.0.0.1' : undefined, v6: i % 3 === 0 ? `fd00::${i + 1}` : undefined })),
      bgpPeer('to-rr', 'nodeSelector: "!has(rr)"\npeerSelector: rack == \'r0\''),
      bgpPeer('tor', "nodeSelector: rack == 'r1'\npeerIP: 10.9.0.1\nasNumber: 65100"),
    ].join('---\n');
    for (const res of manifest(text)) c.apply(res);
    c.commit();
    expect(analyze(c)).toEqual(referenceAnalyze(c));
    const off = { apply: manifest(bgpConfig('nodeToNodeMeshEnabled: false')), delete: [] };
    expect(answer(preview(c, off))).toEqual(answer(referencePreview(c, off)));
  });
});
