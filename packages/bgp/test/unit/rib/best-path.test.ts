import { describe, expect, it } from 'vitest';
import { DECISION_STEPS, selectBest, type Path } from '../../../src/rib/best-path.js';
import { localSource, type PathSource } from '../../../src/rib/source.js';
import type { PathAttributes } from '../../../src/types.js';

function peer(address: string, asn: number, opts: Partial<PathSource> = {}): PathSource {
  return { id: address, kind: 'peer', address, asn, routerId: opts.routerId ?? address, ibgp: asn === 65000, rrClient: false, ...opts };
}

const seq = (...asns: number[]) => [{ type: 2, asns }];

function path(source: PathSource, attrs: PathAttributes): Path {
  return { source, attrs };
}

describe('selectBest (RFC 4271 §9.1.2.2, RFC 4456 §9)', () => {
  const a = peer('10.0.0.1', 65001);
  const b = peer('10.0.0.2', 65002);
  const c = peer('10.0.0.3', 65001);
  const i1 = peer('10.0.0.4', 65000, { routerId: '1.1.1.4' });
  const i2 = peer('10.0.0.5', 65000, { routerId: '1.1.1.5' });

  it.each<[string, Path[], number, string]>([
    ['one path', [path(a, { origin: 0, asPath: seq(65001) })], 0, 'only-path'],
    ['local origin wins', [path(a, { localPref: 500, asPath: seq(65001) }), path(localSource(65000, '1.1.1.1'), { origin: 2 })], 1, 'local-origin'],
    ['higher local pref', [path(i1, { localPref: 100, asPath: seq(1) }), path(i2, { localPref: 200, asPath: seq(1, 2, 3) })], 1, 'local-pref'],
    ['absent local pref counts 100', [path(a, { asPath: seq(65001) }), path(b, { localPref: 90, asPath: seq(65002) })], 0, 'local-pref'],
    ['shorter AS path', [path(a, { asPath: seq(65001, 1, 2) }), path(b, { asPath: seq(65002) })], 1, 'as-path-length'],
    ['AS_SET counts one', [path(a, { asPath: [{ type: 2, asns: [65001] }, { type: 1, asns: [7, 8, 9] }] }), path(b, { asPath: seq(65002, 5, 6) })], 0, 'as-path-length'],
    ['lower origin', [path(a, { origin: 2, asPath: seq(65001) }), path(b, { origin: 0, asPath: seq(65002) })], 1, 'origin'],
    ['lower MED from the same neighbour AS', [path(a, { origin: 0, asPath: seq(65001), med: 50 }), path(c, { origin: 0, asPath: seq(65001), med: 10 })], 1, 'med'],
    ['absent MED is 0', [path(a, { origin: 0, asPath: seq(65001), med: 5 }), path(c, { origin: 0, asPath: seq(65001) })], 1, 'med'],
    ['eBGP over iBGP', [path(i1, { origin: 0, asPath: seq(65009) }), path(b, { origin: 0, asPath: seq(65002) })], 1, 'ebgp-over-ibgp'],
    ['lower router id', [path(i2, { origin: 0, asPath: seq(7) }), path(i1, { origin: 0, asPath: seq(7) })], 1, 'router-id'],
    ['ORIGINATOR_ID replaces router id', [path(i1, { origin: 0, asPath: seq(7), originatorId: '9.9.9.9' }), path(i2, { origin: 0, asPath: seq(7) })], 1, 'router-id'],
    [
      'shorter cluster list',
      [path(i1, { origin: 0, asPath: seq(7), originatorId: '2.2.2.2', clusterList: ['1.0.0.1', '1.0.0.2'] }), path(i2, { origin: 0, asPath: seq(7), originatorId: '2.2.2.2', clusterList: ['1.0.0.1'] })],
      1,
      'cluster-list-length',
    ],
    [
      'lowest peer address',
      [path(peer('10.0.0.9', 65000, { routerId: '3.3.3.3' }), { origin: 0, asPath: seq(7) }), path(peer('10.0.0.8', 65000, { routerId: '3.3.3.3' }), { origin: 0, asPath: seq(7) })],
      1,
      'peer-address',
    ],
  ])('%s', (_name, paths, winner, reason) => {
    expect(selectBest(paths)).toEqual({ best: paths[winner], reason });
    expect(selectBest([...paths].reverse())).toEqual({ best: paths[winner], reason });
  });

  it('MED is compared only between paths from the same neighbouring AS', () => {
    const p1 = path(a, { origin: 0, asPath: seq(65001), med: 100 });
    const p2 = path(b, { origin: 0, asPath: seq(65002), med: 0 });
    // Different neighbour ASes: MED does not decide; both are eBGP, router ids decide.
    expect(selectBest([p1, p2])).toEqual({ best: p1, reason: 'router-id' });
  });

  it('publishes its order as data', () => {
    expect(DECISION_STEPS.map((s) => s.reason)).toEqual([
      'only-path',
      'local-origin',
      'local-pref',
      'as-path-length',
      'origin',
      'med',
      'ebgp-over-ibgp',
      'router-id',
      'cluster-list-length',
      'peer-address',
    ]);
  });
});
