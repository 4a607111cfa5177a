/**
 * iproute2's text, both ways. The JSON and stderr below were captured from iproute2 6.1
 * (`ip utility, iproute2-6.1.0, libbpf 1.1.2`, Debian 12) on Linux 6.18, in a throwaway
 * network namespace with veth0 198.18.0.1/24, veth1 198.18.1.1/24 and veth0 2001:db8::1/64,
 * after writing the routes with `ip -force -batch -` (table 254, proto 84).
 */
import { describe, expect, it } from 'vitest';
import { batchLine, parseAddrJson, parseBatchErrors, parseLinkJson, parseRouteJson } from '../src/iproute2.js';
import type { KernelRoute } from '../src/index.js';

/** `ip -N -j -4 route show table 254 proto 84` */
const V4 =
  '[{"dst":"default","gateway":"198.18.0.3","dev":"veth0","flags":[]},{"dst":"198.19.0.0/26","gateway":"198.18.0.2","dev":"veth0","flags":[]},' +
  '{"dst":"198.19.0.5","gateway":"198.18.0.2","dev":"veth0","flags":["onlink"]},{"type":"6","dst":"198.19.1.0/26","flags":[]},' +
  '{"dst":"198.19.2.0/26","flags":[],"nexthops":[{"gateway":"198.18.0.2","dev":"veth0","weight":1,"flags":["onlink"]},{"gateway":"198.18.1.2","dev":"veth1","weight":1,"flags":[]}]},' +
  '{"dst":"198.19.3.7","dev":"veth1","scope":"253","flags":[]},{"dst":"198.19.6.0/26","gateway":"198.18.0.3","dev":"veth0","flags":[]}]';

/** `ip -N -j -6 route show table 254 proto 84` */
const V6 =
  '[{"dst":"2001:db8:1::/64","gateway":"2001:db8::2","dev":"veth0","metric":1024,"flags":[],"pref":"medium"},' +
  '{"type":"6","dst":"2001:db8:2::/64","dev":"lo","metric":1024,"flags":[],"pref":"medium"},' +
  '{"dst":"2001:db8:3::5","dev":"veth1","metric":1024,"flags":[],"pref":"medium"},' +
  '{"dst":"2001:db8:4::/64","metric":1024,"flags":[],"pref":"medium","nexthops":[{"gateway":"2001:db8::2","dev":"veth0","weight":1,"flags":[]},{"gateway":"2001:db8::3","dev":"veth0","weight":1,"flags":[]}]}]';

/** `ip -j -4 route show table 254 proto 84` (no -N: names instead of numbers). */
const V4_NAMES = '[{"type":"blackhole","dst":"198.19.1.0/26","flags":[]},{"dst":"198.19.3.7","dev":"veth1","scope":"link","flags":[]}]';

/** stderr of the batch that wrote them (line 6: gateway on no network; 7: no such device; 15: del of an absent route). */
const STDERR = 'Error: Nexthop has invalid gateway.\nCommand failed -:6\nCannot find device "caliX"\nCommand failed -:7\nRTNETLINK answers: No such process\nCommand failed -:15\n';

/** stderr when iproute2 cannot parse a line: it exits there with no `Command failed`. */
const STDERR_PARSE = 'RTNETLINK answers: File exists\nCommand failed -:2\nError: inet6 address is expected rather than "198.18.0.2".\n';

/** `ip -j addr show` (trimmed to the keys read). */
const ADDR =
  '[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"operstate":"UNKNOWN","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host"},{"family":"inet6","local":"::1","prefixlen":128,"scope":"host"}]},' +
  '{"ifindex":2,"ifname":"veth1","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"operstate":"UP","addr_info":[{"family":"inet","local":"198.18.1.1","prefixlen":24,"scope":"global"},{"family":"inet6","local":"fe80::78b8:b5ff:fe7a:2896","prefixlen":64,"scope":"link"}]},' +
  '{"ifindex":3,"ifname":"veth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"operstate":"UP","addr_info":[{"family":"inet","local":"198.18.0.1","prefixlen":24,"scope":"global"},{"family":"inet6","local":"2001:db8::1","prefixlen":64,"scope":"global"}]},' +
  '{"ifindex":4,"ifname":"down0","flags":["BROADCAST","MULTICAST"],"operstate":"DOWN","addr_info":[{"family":"inet","local":"198.18.9.1","prefixlen":24,"scope":"global"}]},' +
  '{"ifindex":5,"ifname":"host0","flags":["UP"],"addr_info":[{"family":"inet","local":"198.18.8.1","prefixlen":32,"scope":"global"}]}]';

describe('parseRouteJson', () => {
  it('reads IPv4 routes: default, host routes without /32, onlink, blackhole as type 6, multipath, link routes', () => {
    expect(parseRouteJson(V4, 4)).toStrictEqual<KernelRoute[]>([
      { prefix: '0.0.0.0/0', type: 'unicast', nextHops: [{ via: '198.18.0.3', dev: 'veth0' }] },
      { prefix: '198.19.0.0/26', type: 'unicast', nextHops: [{ via: '198.18.0.2', dev: 'veth0' }] },
      { prefix: '198.19.0.5/32', type: 'unicast', nextHops: [{ via: '198.18.0.2', dev: 'veth0', onlink: true }] },
      { prefix: '198.19.1.0/26', type: 'blackhole', nextHops: [] },
      { prefix: '198.19.2.0/26', type: 'unicast', nextHops: [{ via: '198.18.0.2', dev: 'veth0', onlink: true }, { via: '198.18.1.2', dev: 'veth1' }] },
      { prefix: '198.19.3.7/32', type: 'unicast', nextHops: [{ dev: 'veth1' }] },
      { prefix: '198.19.6.0/26', type: 'unicast', nextHops: [{ via: '198.18.0.3', dev: 'veth0' }] },
    ]);
  });

  it('reads IPv6 routes: blackholes carry dev lo, host routes have no /128', () => {
    expect(parseRouteJson(V6, 6)).toStrictEqual<KernelRoute[]>([
      { prefix: '2001:db8:1::/64', type: 'unicast', nextHops: [{ via: '2001:db8::2', dev: 'veth0' }] },
      { prefix: '2001:db8:2::/64', type: 'blackhole', nextHops: [] },
      { prefix: '2001:db8:3::5/128', type: 'unicast', nextHops: [{ dev: 'veth1' }] },
      { prefix: '2001:db8:4::/64', type: 'unicast', nextHops: [{ via: '2001:db8::2', dev: 'veth0' }, { via: '2001:db8::3', dev: 'veth0' }] },
    ]);
    expect(parseRouteJson('[{"dst":"default","gateway":"2001:db8::1","dev":"veth0"}]', 6)[0].prefix).toBe('::/0');
  });

  it('reads names as well as numbers (without -N)', () => {
    expect(parseRouteJson(V4_NAMES, 4)).toStrictEqual<KernelRoute[]>([
      { prefix: '198.19.1.0/26', type: 'blackhole', nextHops: [] },
      { prefix: '198.19.3.7/32', type: 'unicast', nextHops: [{ dev: 'veth1' }] },
    ]);
  });

  it('lists other route types as unicast with no next hops (never equal to a wanted route)', () => {
    expect(parseRouteJson('[{"type":"7","dst":"198.19.9.0/24","flags":[]},{"type":"prohibit","dst":"198.19.8.0/24"}]', 4)).toStrictEqual([
      { prefix: '198.19.9.0/24', type: 'unicast', nextHops: [] },
      { prefix: '198.19.8.0/24', type: 'unicast', nextHops: [] },
    ]);
  });

  it('takes RTA_VIA gateways and treats empty output as no routes', () => {
    expect(parseRouteJson('[{"dst":"198.19.0.0/26","via":{"family":"inet6","host":"fe80::1"},"dev":"veth0"}]', 4)[0].nextHops).toStrictEqual([{ via: 'fe80::1', dev: 'veth0' }]);
    expect(parseRouteJson('', 4)).toStrictEqual([]);
    expect(parseRouteJson('[]\n', 6)).toStrictEqual([]);
    expect(() => parseRouteJson('{"oops":1}', 4)).toThrow(/expected a JSON array/);
  });
});

describe('parseBatchErrors', () => {
  it('maps each message to the line named by the Command failed that follows it', () => {
    const e = parseBatchErrors(STDERR);
    expect([...e.byLine]).toStrictEqual([
      [6, 'Error: Nexthop has invalid gateway.'],
      [7, 'Cannot find device "caliX"'],
      [15, 'RTNETLINK answers: No such process'],
    ]);
    expect(e.unattributed).toBe('');
  });

  it('keeps a message with no Command failed after it (iproute2 stopped at a line it could not parse)', () => {
    const e = parseBatchErrors(STDERR_PARSE);
    expect([...e.byLine]).toStrictEqual([[2, 'RTNETLINK answers: File exists']]);
    expect(e.unattributed).toBe('Error: inet6 address is expected rather than "198.18.0.2".');
  });

  it('joins several messages for one line', () => {
    expect(parseBatchErrors('first\nsecond\nCommand failed -:3\n').byLine.get(3)).toBe('first; second');
  });
});

describe('batchLine', () => {
  const cases: readonly [op: 'add' | 'replace' | 'del', route: KernelRoute, line: string][] = [
    ['add', { prefix: '198.19.0.0/26', type: 'unicast', nextHops: [{ via: '198.18.0.2', dev: 'eth0', onlink: true }] }, 'route add 198.19.0.0/26 via 198.18.0.2 dev eth0 onlink table 254 proto 84'],
    ['replace', { prefix: '198.19.0.0/26', type: 'unicast', nextHops: [{ via: '198.18.0.2' }] }, 'route replace 198.19.0.0/26 via 198.18.0.2 table 254 proto 84'],
    ['replace', { prefix: '198.19.1.0/26', type: 'blackhole', nextHops: [] }, 'route replace blackhole 198.19.1.0/26 table 254 proto 84'],
    ['add', { prefix: '198.19.0.5/32', type: 'unicast', nextHops: [{ dev: 'cali12ab34cd56e' }] }, 'route add 198.19.0.5/32 dev cali12ab34cd56e scope link table 254 proto 84'],
    ['add', { prefix: '2001:db8:3::5/128', type: 'unicast', nextHops: [{ dev: 'cali1' }] }, 'route add 2001:db8:3::5/128 dev cali1 table 254 proto 84'],
    [
      'replace',
      { prefix: '198.19.2.0/26', type: 'unicast', nextHops: [{ via: '198.18.0.2', dev: 'eth0', onlink: true }, { via: '198.18.1.2' }] },
      'route replace 198.19.2.0/26 table 254 proto 84 nexthop via 198.18.0.2 dev eth0 onlink nexthop via 198.18.1.2',
    ],
    ['del', { prefix: '198.19.0.0/26', type: 'unicast', nextHops: [{ via: '198.18.0.2' }] }, 'route del 198.19.0.0/26 table 254 proto 84'],
  ];
  it.each(cases)('%s %j', (op, route, line) => {
    expect(batchLine(op, route, 254, 84)).toBe(line);
  });
});

describe('parseLinkJson and parseAddrJson', () => {
  it('reads interface names', () => {
    expect(parseLinkJson(ADDR)).toStrictEqual(['lo', 'veth1', 'veth0', 'down0', 'host0']);
  });
  it('reads connected networks of interfaces that are up, without host-scope or host-length addresses', () => {
    expect(parseAddrJson(ADDR)).toStrictEqual([
      { dev: 'veth1', cidr: '198.18.1.1/24' },
      { dev: 'veth1', cidr: 'fe80::78b8:b5ff:fe7a:2896/64' },
      { dev: 'veth0', cidr: '198.18.0.1/24' },
      { dev: 'veth0', cidr: '2001:db8::1/64' },
    ]);
  });
});
