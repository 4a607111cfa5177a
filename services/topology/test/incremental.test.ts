/**
 * Incremental compilation must give exactly what a full compile gives, and report exactly
 * the nodes whose configuration changed. Random change sequences (seeded, so failures
 * replay) over nodes, labels, route reflectors, AS numbers, ports, BGPPeers of every shape,
 * the default and per-node BGPConfigurations, pools and blocks.
 */
import { describe, expect, it } from 'vitest';
import { TopologyCompiler } from '../src/compile/compiler.js';
import { sameNodeConfig } from '../src/compile/equal.js';
import type { CompiledNodeConfig } from '../src/compile/types.js';
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

type Step = { apply: string } | { delete: [kind: 'Node' | 'BGPPeer' | 'BGPConfiguration' | 'IPPool' | 'BGPFilter', name: string] } | { block: [cidr: string, node: string] } | { unblock: string };

function randomStep(r: () => number): Step {
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const n = `n${1 + Math.floor(r() * 8)}`;
  const roll = r();
  if (roll < 0.35) {
    const i = Number(n.slice(1));
    return {
      apply: node(n, pick([`10.0.0.${i}`, `10.0.1.${i}`, '']), {
        labels: Object.fromEntries<string>([['rack', pick(['a', 'b'])], ...(r() < 0.3 ? [['rr', 'yes']] : []), ...(r() < 0.3 ? [['edge', 'yes']] : [])] as [string, string][]),
        as: r() < 0.2 ? pick([65001, 65002]) : undefined,
        rr: r() < 0.2 ? pick(['224.0.0.1', '224.0.0.2']) : undefined,
        v6: r() < 0.3 ? `fd00::${i}` : undefined,
      }),
    };
  }
  if (roll < 0.45) return { delete: ['Node', n] };
  if (roll < 0.7) {
    const name = pick(['p1', 'p2', 'p3', 'p4', 'p5']);
    const local = pick(['', `node: ${n}`, "nodeSelector: rack == 'a'", 'nodeSelector: "!has(rr)"', 'nodeSelector: all()']);
    const remote = pick([
      'peerSelector: has(rr)',
      'peerSelector: has(edge)',
      `peerIP: 10.0.0.${1 + Math.floor(r() * 8)}\nasNumber: ${pick([64512, 65001, 0])}`,
      `peerIP: 10.9.0.1\nasNumber: 65100`,
      `peerIP: "[fd00::${1 + Math.floor(r() * 8)}]:179"\nasNumber: 64512`,
    ]);
    const extra = pick(['', 'reversePeering: Manual', 'keepOriginalNextHop: true', 'sourceAddress: None']);
    const filters = pick(['', '', 'filters: [f1]', 'filters: [f2, f1]']);
    return { apply: bgpPeer(name, [local, remote, extra, filters].filter((l) => l !== '').join('\n')) };
  }
  if (roll < 0.76) return { delete: ['BGPPeer', pick(['p1', 'p2', 'p3', 'p4', 'p5'])] };
  if (roll < 0.78) {
    if (r() < 0.3) return { delete: ['BGPFilter', pick(['f1', 'f2'])] };
    const action = pick(['Accept', 'Reject']);
    return { apply: `apiVersion: projectcalico.org/v3\nkind: BGPFilter\nmetadata:\n  name: ${pick(['f1', 'f2'])}\nspec:\n  importV4:\n    - action: ${action}\n      matchOperator: In\n      cidr: 10.0.0.0/8\n` };
  }
  if (roll < 0.84)
    return {
      apply: bgpConfig(
        [
          `nodeToNodeMeshEnabled: ${pick(['true', 'false'])}`,
          r() < 0.5 ? 'asNumber: 63400' : '',
          r() < 0.3 ? 'listenPort: 1790' : '',
          r() < 0.3 ? `serviceClusterIPs:\n  - cidr: ${pick(['10.96.0.0/12', '10.97.0.0/16'])}` : '',
          r() < 0.3 ? `prefixAdvertisements:\n  - cidr: 10.244.0.0/16\n    communities: [${pick(['65000:1', '65000:1:1'])}]` : '',
          r() < 0.3 ? 'logSeverityScreen: Warning' : '',
        ].join('\n'),
      ),
    };
  if (roll < 0.88)
    return {
      apply: bgpConfig(
        pick(['listenPort: 1791', 'listenPort: 1791', 'logSeverityScreen: Debug', 'prefixAdvertisements:\n  - cidr: 10.244.0.0/24\n    communities: [65000:7]']),
        `node.${n}`,
      ),
    };
  if (roll < 0.9) return { delete: ['BGPConfiguration', pick(['default', `node.${n}`])] };
  if (roll < 0.93)
    return {
      apply: `apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: pool\nspec:\n  cidr: 10.244.0.0/16\n  disableBGPExport: ${pick(['true', 'false'])}\n`,
    };
  if (roll < 0.97) return { block: [`10.244.${Math.floor(r() * 4)}.0/26`, n] };
  return { unblock: `10.244.${Math.floor(r() * 4)}.0/26` };
}

function run(c: TopologyCompiler, step: Step): void {
  if ('apply' in step) for (const res of manifest(step.apply)) c.apply(res);
  else if ('delete' in step) c.delete(step.delete[0], step.delete[1]);
  else if ('block' in step) c.setBlock({ cidr: step.block[0], node: step.block[1], pool: '' });
  else c.deleteBlock(step.unblock);
}

function snapshot(c: TopologyCompiler): Map<string, CompiledNodeConfig> {
  return new Map(c.allConfigs());
}

describe('incremental compilation', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`equals a full compile and reports exactly what changed (seed ${seed})`, () => {
      const r = rng(seed);
      const c = new TopologyCompiler();
      c.commit();
      const steps: Step[] = [];
      for (let i = 0; i < 250; i++) {
        const batch = Array.from({ length: 1 + Math.floor(r() * 3) }, () => randomStep(r));
        steps.push(...batch);
        const before = snapshot(c);
        for (const s of batch) run(c, s);
        const { changed } = c.commit();
        const full = c.fork();
        full.commit();
        const context = `after step ${steps.length} (seed ${seed}): ${JSON.stringify(batch)}`;
        expect([...c.allConfigs().keys()].sort(), context).toEqual([...full.allConfigs().keys()].sort());
        for (const [name, cfg] of full.allConfigs()) {
          const mine = c.config(name);
          expect(mine && sameNodeConfig(mine, cfg), `${name} ${context}\nincremental: ${JSON.stringify(mine?.peers.map((p) => p.name))}\nfull: ${JSON.stringify(cfg.peers.map((p) => p.name))}`).toBe(true);
        }
        const reallyChanged = new Set<string>();
        for (const name of new Set([...before.keys(), ...c.allConfigs().keys()])) {
          const a = before.get(name);
          const b = c.config(name);
          if (!a || !b || !sameNodeConfig(a, b)) reallyChanged.add(name);
        }
        expect([...changed].sort(), context).toEqual([...reallyChanged].sort());
      }
    });
  }

  it('recompiles only the node when an unrelated label changes', () => {
    const c = new TopologyCompiler();
    for (const r of manifest([bgpConfig('nodeToNodeMeshEnabled: false'), ...Array.from({ length: 50 }, (_, i) => node(`n${i}`, `10.0.0.${i + 1}`))].join('---\n'))) c.apply(r);
    for (const r of manifest(bgpPeer('to-rr', 'nodeSelector: "!has(rr)"\npeerSelector: has(rr)'))) c.apply(r);
    c.commit();
    for (const r of manifest(node('n7', '10.0.0.8', { labels: { colour: 'blue' } }))) c.apply(r);
    expect(c.commit()).toEqual({ changed: [], recompiled: 1 });
  });
});
