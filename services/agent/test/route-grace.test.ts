import { describe, expect, it } from 'vitest';
import type { KernelRoute } from '@tabby/dataplane';
import { RouteCleanupGrace, workloadInterfaceOf } from '../src/route-grace.js';

const link = (prefix: string, dev: string): KernelRoute => ({ prefix, type: 'unicast', nextHops: [{ dev }] });
const via = (prefix: string, gateway: string, dev?: string): KernelRoute => ({ prefix, type: 'unicast', nextHops: [{ via: gateway, ...(dev ? { dev } : {}) }] });
const blackhole = (prefix: string): KernelRoute => ({ prefix, type: 'blackhole', nextHops: [] });

/** A tracker on a clock the test moves. */
function tracker(graceMs = 10_000): { grace: RouteCleanupGrace; clock: { t: number } } {
  const clock = { t: 1_000_000 };
  return { grace: new RouteCleanupGrace(graceMs, () => clock.t), clock };
}

/** One reconcile: which of `table` (not desired) the tracker spares. */
function round(grace: RouteCleanupGrace, desired: readonly KernelRoute[], table: readonly KernelRoute[], links: Iterable<string>): { spared: string[]; log: ReturnType<RouteCleanupGrace['end']> } {
  const spare = grace.begin(desired, new Set(links));
  const want = new Set(desired.map((r) => r.prefix));
  const spared = table.filter((r) => !want.has(r.prefix) && spare(r)).map((r) => r.prefix);
  return { spared, log: grace.end() };
}

describe('workloadInterfaceOf', () => {
  const cases: readonly [name: string, route: KernelRoute, want: string | undefined][] = [
    ['a link route to cali…', link('198.19.1.5/32', 'cali0123456789a'), 'cali0123456789a'],
    ['another interface', link('198.19.1.5/32', 'eth0'), undefined],
    ['a gateway through cali…', via('198.19.1.5/32', '198.18.0.2', 'cali0123456789a'), undefined],
    ['a blackhole', blackhole('198.19.1.0/26'), undefined],
    ['multipath', { prefix: '198.19.1.5/32', type: 'unicast', nextHops: [{ dev: 'cali1' }, { dev: 'cali2' }] }, undefined],
  ];
  it.each(cases)('%s', (_name, route, want) => {
    expect(workloadInterfaceOf(route)).toBe(want);
  });
});

describe('RouteCleanupGrace', () => {
  const cni = link('198.19.1.5/32', 'cali0000000000a');

  it('spares a route to an unknown workload interface from the first reconcile that lists it until the grace period has passed', () => {
    const { grace, clock } = tracker(10_000);
    expect(round(grace, [], [cni], ['cali0000000000a']).spared).toEqual(['198.19.1.5/32']);
    clock.t += 9_999;
    expect(round(grace, [], [cni], ['cali0000000000a']).spared).toEqual(['198.19.1.5/32']);
    expect(grace.pending()).toEqual(new Map([['198.19.1.5/32 dev cali0000000000a', 9_999]]));
    clock.t += 1;
    const r = round(grace, [], [cni], ['cali0000000000a']);
    expect(r.spared).toEqual([]);
    expect(r.log.expired).toEqual(['198.19.1.5/32 dev cali0000000000a']);
  });

  it('once the agent wants the route it is adopted, and goes at once when the agent no longer wants it', () => {
    const { grace, clock } = tracker();
    expect(round(grace, [], [cni], ['cali0000000000a']).log.spared).toEqual(['198.19.1.5/32 dev cali0000000000a']);
    clock.t += 2_000;
    expect(round(grace, [cni], [cni], ['cali0000000000a']).log.adopted).toEqual(['198.19.1.5/32 dev cali0000000000a']);
    expect(grace.pending().size).toBe(0);
    // The workload is deleted (its interface still there): the agent knew it, no grace.
    expect(round(grace, [], [cni], ['cali0000000000a']).spared).toEqual([]);
    // A removal that failed is tried again at the next reconcile, still without grace.
    expect(round(grace, [], [cni], ['cali0000000000a']).spared).toEqual([]);
  });

  it('a route whose interface is gone is removed without waiting; one never seen is spared once (its interface may be newer than the links read)', () => {
    const { grace, clock } = tracker();
    expect(round(grace, [], [cni], ['cali0000000000a']).spared).toEqual(['198.19.1.5/32']);
    clock.t += 1_000;
    const gone = round(grace, [], [cni], []);
    expect(gone.spared).toEqual([]);
    expect(gone.log.interfaceGone).toEqual(['198.19.1.5/32 dev cali0000000000a']);
    const fresh = link('198.19.1.6/32', 'cali0000000000b');
    expect(round(grace, [], [fresh], []).spared).toEqual(['198.19.1.6/32']);
    expect(round(grace, [], [fresh], ['cali0000000000b']).spared).toEqual(['198.19.1.6/32']);
  });

  it('the same prefix on a new interface, or a route that left the table and came back, starts a new grace period', () => {
    const { grace, clock } = tracker();
    round(grace, [], [cni], ['cali0000000000a']);
    clock.t += 9_000;
    // Gone from the table (the interface went with it): forgotten.
    round(grace, [], [], []);
    expect(grace.pending().size).toBe(0);
    clock.t += 5_000;
    expect(round(grace, [], [cni], ['cali0000000000a']).spared).toEqual(['198.19.1.5/32']);
    const moved = link('198.19.1.5/32', 'cali0000000000c');
    clock.t += 9_000;
    expect(round(grace, [], [moved], ['cali0000000000c']).log.spared).toEqual(['198.19.1.5/32 dev cali0000000000c']);
  });

  it('never spares anything but a link route to a cali… interface', () => {
    const { grace } = tracker();
    const table = [blackhole('198.19.1.0/26'), via('198.19.2.0/26', '198.18.0.12'), link('198.19.1.7/32', 'eth1'), cni];
    expect(round(grace, [], table, ['eth1', 'cali0000000000a']).spared).toEqual(['198.19.1.5/32']);
  });

  it('with a grace period of 0 spares nothing', () => {
    const { grace } = tracker(0);
    expect(round(grace, [], [cni], ['cali0000000000a']).spared).toEqual([]);
    expect(grace.pending().size).toBe(0);
  });

  it('an end without a begin (a reconcile that threw) changes nothing', () => {
    const { grace } = tracker();
    round(grace, [], [cni], ['cali0000000000a']);
    expect(grace.end()).toEqual({ spared: [], expired: [], interfaceGone: [], adopted: [] });
    expect(grace.pending().size).toBe(1);
  });
});
