import { describe, expect, it } from 'vitest';
import { canonicalRoute, diffRoutes, sameRoute, type KernelRoute } from '../src/index.js';

const via = (prefix: string, ...gateways: string[]): KernelRoute => ({ prefix, type: 'unicast', nextHops: gateways.map((g) => ({ via: g })) });
const blackhole = (prefix: string): KernelRoute => ({ prefix, type: 'blackhole', nextHops: [] });

describe('canonicalRoute', () => {
  const cases: readonly [name: string, input: KernelRoute, expected: KernelRoute][] = [
    ['bare IPv4 address becomes /32', via('198.19.0.5', '198.18.0.2'), via('198.19.0.5/32', '198.18.0.2')],
    ['bare IPv6 address becomes /128', via('2001:db8::5', '2001:db8::1'), via('2001:db8::5/128', '2001:db8::1')],
    ['IPv6 in RFC 5952 form', via('2001:DB8:0:0::/64', '2001:0db8:0:0:0:0:0:1'), via('2001:db8::/64', '2001:db8::1')],
    ['next hops sorted', via('198.19.0.0/26', '198.18.0.9', '198.18.0.2'), via('198.19.0.0/26', '198.18.0.2', '198.18.0.9')],
    ['blanks trimmed', via(' 198.19.0.0/26 ', ' 198.18.0.2'), via('198.19.0.0/26', '198.18.0.2')],
    [
      'undefined and false fields dropped',
      { prefix: '198.19.0.0/26', type: 'unicast', nextHops: [{ via: '198.18.0.2', dev: undefined, onlink: false }] },
      { prefix: '198.19.0.0/26', type: 'unicast', nextHops: [{ via: '198.18.0.2' }] },
    ],
    ['blackhole loses next hops', { prefix: '198.19.1.0/26', type: 'blackhole', nextHops: [{ via: '198.18.0.2' }] }, blackhole('198.19.1.0/26')],
    ['host bits masked', via('198.19.0.7/26', '198.18.0.2'), via('198.19.0.0/26', '198.18.0.2')],
    ['unparseable prefix kept', via('nonsense', '198.18.0.2'), via('nonsense', '198.18.0.2')],
  ];
  it.each(cases)('%s', (_name, input, expected) => {
    expect(canonicalRoute(input)).toStrictEqual(expected);
  });

  it('drops every absent key, so structural equality holds', () => {
    const c = canonicalRoute({ prefix: '198.19.0.0/26', type: 'unicast', nextHops: [{ via: undefined, dev: 'cali1', onlink: undefined }] });
    expect(Object.keys(c.nextHops[0])).toStrictEqual(['dev']);
  });
});

describe('sameRoute', () => {
  const cases: readonly [name: string, a: KernelRoute, b: KernelRoute, same: boolean][] = [
    ['order of next hops does not matter', via('198.19.0.0/26', '198.18.0.2', '198.18.0.3'), via('198.19.0.0/26', '198.18.0.3', '198.18.0.2'), true],
    ['/32 written or not', via('198.19.0.5', '198.18.0.2'), via('198.19.0.5/32', '198.18.0.2'), true],
    ['another gateway', via('198.19.0.0/26', '198.18.0.2'), via('198.19.0.0/26', '198.18.0.3'), false],
    ['another prefix', via('198.19.0.0/26', '198.18.0.2'), via('198.19.0.64/26', '198.18.0.2'), false],
    ['blackhole vs unicast', blackhole('198.19.0.0/26'), via('198.19.0.0/26', '198.18.0.2'), false],
    ['one path vs two', via('198.19.0.0/26', '198.18.0.2'), via('198.19.0.0/26', '198.18.0.2', '198.18.0.3'), false],
    [
      'onlink differs',
      { prefix: '198.19.0.0/26', type: 'unicast', nextHops: [{ via: '198.18.0.2', dev: 'eth0', onlink: true }] },
      { prefix: '198.19.0.0/26', type: 'unicast', nextHops: [{ via: '198.18.0.2', dev: 'eth0' }] },
      false,
    ],
    [
      'onlink false equals absent',
      { prefix: '198.19.0.0/26', type: 'unicast', nextHops: [{ via: '198.18.0.2', dev: 'eth0', onlink: false }] },
      { prefix: '198.19.0.0/26', type: 'unicast', nextHops: [{ via: '198.18.0.2', dev: 'eth0' }] },
      true,
    ],
    [
      'device differs',
      { prefix: '198.19.0.5/32', type: 'unicast', nextHops: [{ dev: 'cali1' }] },
      { prefix: '198.19.0.5/32', type: 'unicast', nextHops: [{ dev: 'cali2' }] },
      false,
    ],
    ['IPv6 spelled two ways', via('2001:db8:1::/64', '2001:db8::0:2'), via('2001:0db8:0001::/64', '2001:db8::2'), true],
  ];
  it.each(cases)('%s', (_name, a, b, same) => {
    expect(sameRoute(a, b)).toBe(same);
    expect(sameRoute(b, a)).toBe(same);
  });
});

describe('diffRoutes', () => {
  const current = [via('198.19.0.0/26', '198.18.0.2'), via('198.19.0.64/26', '198.18.0.2'), blackhole('198.19.1.0/26')];

  it('sorts routes into add, change, remove and unchanged', () => {
    const desired = [via('198.19.0.0/26', '198.18.0.2'), via('198.19.0.64/26', '198.18.0.3'), via('198.19.2.0/26', '198.18.0.4')];
    const d = diffRoutes(current, desired);
    expect(d.add).toStrictEqual([via('198.19.2.0/26', '198.18.0.4')]);
    expect(d.change).toStrictEqual([{ from: via('198.19.0.64/26', '198.18.0.2'), to: via('198.19.0.64/26', '198.18.0.3') }]);
    expect(d.remove).toStrictEqual([blackhole('198.19.1.0/26')]);
    expect(d.unchanged).toStrictEqual([via('198.19.0.0/26', '198.18.0.2')]);
  });

  it('prune: false removes nothing', () => {
    const d = diffRoutes(current, [via('198.19.0.0/26', '198.18.0.2')], { prune: false });
    expect(d.remove).toStrictEqual([]);
    expect(d.unchanged).toHaveLength(1);
  });

  it('the same routes twice is all unchanged (idempotent)', () => {
    const d = diffRoutes(current, [...current].reverse());
    expect(d).toStrictEqual({ add: [], change: [], remove: [], unchanged: [...current].reverse().map(canonicalRoute), spared: [] });
  });

  it('empty desired removes everything; empty current adds everything', () => {
    expect(diffRoutes(current, []).remove).toHaveLength(3);
    expect(diffRoutes([], current).add).toHaveLength(3);
  });

  it('matches prefixes in canonical form', () => {
    const d = diffRoutes([via('198.19.0.5/32', '198.18.0.2')], [via('198.19.0.5', '198.18.0.2')]);
    expect(d.unchanged).toHaveLength(1);
    expect(d.add).toHaveLength(0);
  });

  it('the last of two wanted routes for one prefix wins', () => {
    const d = diffRoutes([], [via('198.19.0.0/26', '198.18.0.2'), via('198.19.0.0/26', '198.18.0.3')]);
    expect(d.add).toStrictEqual([via('198.19.0.0/26', '198.18.0.3')]);
  });

  it('of two copies of a prefix in the table, keeps the one that is wanted and removes the other', () => {
    const d = diffRoutes([via('198.19.0.0/26', '198.18.0.9'), via('198.19.0.0/26', '198.18.0.2')], [via('198.19.0.0/26', '198.18.0.2')]);
    expect(d.unchanged).toHaveLength(1);
    expect(d.remove).toStrictEqual([via('198.19.0.0/26', '198.18.0.9')]);
  });

  it('spare keeps routes nobody wants, asked once for each in canonical form; never about a wanted prefix or without prune', () => {
    const link = (prefix: string, dev: string): KernelRoute => ({ prefix, type: 'unicast', nextHops: [{ dev }] });
    const table = [link('198.19.1.5', 'cali1'), link('198.19.1.6/32', 'cali2'), blackhole('198.19.1.0/26'), link('198.19.1.7/32', 'cali3')];
    const asked: KernelRoute[] = [];
    const spare = (r: KernelRoute): boolean => {
      asked.push(r);
      return r.nextHops[0]?.dev === 'cali1' || r.nextHops[0]?.dev === 'cali3';
    };
    const d = diffRoutes(table, [link('198.19.1.7/32', 'cali9')], { spare });
    expect(asked).toStrictEqual([link('198.19.1.5/32', 'cali1'), link('198.19.1.6/32', 'cali2'), blackhole('198.19.1.0/26')]);
    expect(d.spared).toStrictEqual([link('198.19.1.5/32', 'cali1')]);
    expect(d.remove).toStrictEqual([link('198.19.1.6/32', 'cali2'), blackhole('198.19.1.0/26')]);
    // A wanted prefix on another interface is the caller's decision: changed, not spared.
    expect(d.change).toStrictEqual([{ from: link('198.19.1.7/32', 'cali3'), to: link('198.19.1.7/32', 'cali9') }]);
    asked.length = 0;
    expect(diffRoutes(table, [], { prune: false, spare })).toMatchObject({ remove: [], spared: [] });
    expect(asked).toStrictEqual([]);
  });

  it('a type change is a change', () => {
    const d = diffRoutes([blackhole('198.19.0.0/26')], [via('198.19.0.0/26', '198.18.0.2')]);
    expect(d.change).toHaveLength(1);
  });
});
