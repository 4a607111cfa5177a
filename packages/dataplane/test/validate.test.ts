import { describe, expect, it } from 'vitest';
import { checkRoutes, routeProblem, type KernelRoute } from '../src/index.js';
import { onLinkResolver } from '../src/on-link.js';

const r = (prefix: string, nextHops: KernelRoute['nextHops'] = [{ via: '198.18.0.2' }], type: KernelRoute['type'] = 'unicast'): KernelRoute => ({ prefix, type, nextHops });

describe('routeProblem', () => {
  const bad: readonly [KernelRoute, RegExp][] = [
    [r('198.19.0.0/33'), /not an IPv4 or IPv6 network/],
    [r('hello'), /not an IPv4 or IPv6 network/],
    [r('198.19.0.1/26'), /host bits set \(the network is 198\.19\.0\.0\/26\)/],
    [r('198.19.0.0/26', []), /at least one next hop/],
    [r('198.19.0.0/26', [{ via: '198.18.0.2' }], 'blackhole'), /blackhole route has no next hops/],
    [r('198.19.0.0/26', [{}]), /needs a gateway \(via\), an interface \(dev\) or both/],
    [r('198.19.0.0/26', [{ via: '2001:db8::1' }]), /gateway 2001:db8::1 is IPv6 but the prefix 198\.19\.0\.0\/26 is IPv4/],
    [r('198.19.0.0/26', [{ via: '198.18.0.256' }]), /is not an IP address/],
    [r('198.19.0.0/26', [{ dev: 'a name' }]), /interface name "a name" is not valid/],
    [r('198.19.0.0/26', [{ dev: 'x#y' }]), /interface name "x#y" is not valid/],
    [r('198.19.0.0/26', [{ dev: 'abcdefghijklmnop' }]), /is not valid/],
    [r('198.19.0.0/26', [{ via: '198.18.0.2', onlink: true }]), /onlink needs both/],
    [r('198.19.0.0/26', [{ via: '198.18.0.2' }, { via: '198.18.0.2' }]), /appears twice/],
    [r('2001:db8:1::/64', [{ via: 'fe80::1' }]), /link-local gateway fe80::1 needs an interface/],
    [{ prefix: '198.19.0.0/26', type: 'unreachable' as 'unicast', nextHops: [] }, /not unicast or blackhole/],
  ];
  it.each(bad)('refuses %j', (route, re) => {
    expect(routeProblem(route)).toMatch(re);
  });

  const good: readonly KernelRoute[] = [
    r('198.19.0.0/26'),
    r('198.19.0.5'),
    r('0.0.0.0/0'),
    r('198.19.0.0/26', [], 'blackhole'),
    r('198.19.0.5/32', [{ dev: 'cali800a63073ed' }]),
    r('198.19.0.0/26', [{ via: '198.18.0.2', dev: 'eth0', onlink: true }, { via: '198.18.1.2', dev: 'eth1' }]),
    r('2001:db8:1::/64', [{ via: 'fe80::1', dev: 'eth0' }]),
    r('::/0', [{ via: '2001:db8::1' }]),
  ];
  it.each(good)('accepts %j', (route) => {
    expect(routeProblem(route)).toBeUndefined();
  });
});

describe('checkRoutes', () => {
  it('refuses a prefix wanted twice (the first stays) and keeps refused prefixes from being pruned', () => {
    const c = checkRoutes([r('198.19.0.0/26'), r('198.19.0.0/26', [{ via: '198.18.0.3' }]), r('198.19.1.0/26', [])]);
    expect(c.routes).toStrictEqual([r('198.19.0.0/26')]);
    expect(c.failed).toStrictEqual([
      { prefix: '198.19.0.0/26', error: 'prefix 198.19.0.0/26 is wanted twice; the first route is kept' },
      { prefix: '198.19.1.0/26', error: 'a unicast route needs at least one next hop (a gateway, an interface or both)' },
    ]);
    expect([...c.keep]).toStrictEqual(['198.19.1.0/26']);
  });
});

describe('onLinkResolver', () => {
  const resolve = onLinkResolver([
    { dev: 'eth0', cidr: '198.18.0.1/24' },
    { dev: 'eth1', cidr: '198.18.0.129/25' },
    { dev: 'eth2', cidr: '2001:db8::1/64' },
    { dev: 'eth0', cidr: 'fe80::1/64' },
    { dev: 'eth1', cidr: 'fe80::2/64' },
  ]);
  const cases: readonly [name: string, input: KernelRoute, expected: KernelRoute][] = [
    ['gateway on a connected network', r('198.19.0.0/26', [{ via: '198.18.0.2' }]), r('198.19.0.0/26', [{ via: '198.18.0.2', dev: 'eth0', onlink: true }])],
    ['longest match wins', r('198.19.0.0/26', [{ via: '198.18.0.200' }]), r('198.19.0.0/26', [{ via: '198.18.0.200', dev: 'eth1', onlink: true }])],
    ['IPv6', r('2001:db8:1::/64', [{ via: '2001:db8::2' }]), r('2001:db8:1::/64', [{ via: '2001:db8::2', dev: 'eth2', onlink: true }])],
    ['gateway on no connected network: as it was', r('198.19.0.0/26', [{ via: '198.19.9.9' }]), r('198.19.0.0/26', [{ via: '198.19.9.9' }])],
    ['equally specific on two interfaces: as it was', r('2001:db8:1::/64', [{ via: 'fe80::9' }]), r('2001:db8:1::/64', [{ via: 'fe80::9' }])],
    ['a named interface is kept', r('198.19.0.0/26', [{ via: '198.18.0.2', dev: 'eth9' }]), r('198.19.0.0/26', [{ via: '198.18.0.2', dev: 'eth9' }])],
    [
      'each path of a multipath route',
      r('198.19.0.0/26', [{ via: '198.18.0.2' }, { via: '198.18.0.130' }]),
      r('198.19.0.0/26', [{ via: '198.18.0.2', dev: 'eth0', onlink: true }, { via: '198.18.0.130', dev: 'eth1', onlink: true }]),
    ],
  ];
  it.each(cases)('%s', (_name, input, expected) => {
    expect(resolve(input)).toStrictEqual(expected);
  });
});
