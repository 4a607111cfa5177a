/**
 * What CHECK compares: iproute2's JSON as tabby-cni reads it (captured from iproute2 6.1 in
 * a pair of namespaces wired as ADD wires them), and the comparison itself.
 */
import type { WorkloadEndpoint } from '@tabby/proto';
import { describe, expect, it } from 'vitest';
import { checkProblems, containerMac, hostSysctls, parseAddrShow, parseRouteShow, type Observation, type WorkloadIdentity } from '../src/index.js';

// `ip -j addr show dev eth0` in the container, `ip -4/-6 -j route show` there, and the host side.
const C_ADDR =
  '[{"ifindex":2,"link_index":2,"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"02:11:22:33:44:55","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":0,"addr_info":[{"family":"inet","local":"198.19.250.5","prefixlen":32,"scope":"global","label":"eth0","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"2001:db8:250::5","prefixlen":128,"scope":"global","nodad":true,"valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"fe80::11:22ff:fe33:4455","prefixlen":64,"scope":"link","tentative":true,"valid_life_time":4294967295,"preferred_life_time":4294967295}]}]';
const C_R4 = '[{"dst":"default","gateway":"169.254.1.1","dev":"eth0","flags":[]},{"dst":"169.254.1.1","dev":"eth0","scope":"link","flags":[]}]';
const C_R6 =
  '[{"dst":"2001:db8:250::5","dev":"eth0","protocol":"kernel","metric":256,"flags":[],"pref":"medium"},{"dst":"fe80::/64","dev":"eth0","protocol":"kernel","metric":256,"flags":[],"pref":"medium"},{"dst":"default","gateway":"fe80::ecee:eeff:feee:eeee","dev":"eth0","metric":1024,"flags":[],"pref":"medium"}]';
const H_ADDR =
  '[{"ifindex":2,"link_index":2,"ifname":"caliabc","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"ee:ee:ee:ee:ee:ee","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":0,"addr_info":[{"family":"inet6","local":"fe80::ecee:eeff:feee:eeee","prefixlen":64,"scope":"link","tentative":true,"valid_life_time":4294967295,"preferred_life_time":4294967295}]}]';
const H_R4 = '[{"dst":"198.19.250.5","protocol":"84","scope":"link","flags":[]}]';
const H_R6 = '[{"dst":"2001:db8:250::5","protocol":"84","metric":1024,"flags":[],"pref":"medium"},{"dst":"fe80::/64","protocol":"kernel","metric":256,"flags":[],"pref":"medium"}]';

describe('iproute2 JSON', () => {
  it('links with their global addresses', () => {
    expect(parseAddrShow(C_ADDR)).toEqual([{ name: 'eth0', mac: '02:11:22:33:44:55', up: true, addresses: ['198.19.250.5/32', '2001:db8:250::5/128'] }]);
    expect(parseAddrShow(H_ADDR)).toEqual([{ name: 'caliabc', mac: 'ee:ee:ee:ee:ee:ee', up: true, addresses: [] }]);
    expect(parseAddrShow('')).toEqual([]);
  });
  it('routes with CIDR destinations', () => {
    expect(parseRouteShow(C_R4, 4)).toEqual([
      { dst: '0.0.0.0/0', gateway: '169.254.1.1', dev: 'eth0' },
      { dst: '169.254.1.1/32', dev: 'eth0', scope: 'link' },
    ]);
    expect(parseRouteShow(C_R6, 6)).toContainEqual({ dst: '::/0', gateway: 'fe80::ecee:eeff:feee:eeee', dev: 'eth0' });
    expect(parseRouteShow(H_R4, 4)).toEqual([{ dst: '198.19.250.5/32', scope: 'link' }]);
  });
});

const ID: WorkloadIdentity = {
  orchestrator: 'k8s',
  namespace: 'default',
  name: 'web',
  node: 'n1',
  containerId: 'c1',
  endpoint: 'eth0',
  handle: 'net.c1',
  endpointName: 'n1-k8s-web-eth0',
  hostInterface: 'caliabc',
  mac: containerMac('c1', 'eth0'),
};
const PREV = {
  addresses: ['198.19.250.5/32', '2001:db8:250::5/128'],
  interfaces: [
    { name: 'caliabc', mac: 'ee:ee:ee:ee:ee:ee' },
    { name: 'eth0', mac: '02:11:22:33:44:55', sandbox: '/run/netns/c' },
  ],
};

function healthy(): Observation {
  return {
    container: { netnsExists: true, link: parseAddrShow(C_ADDR)[0], routes: [...parseRouteShow(C_R4, 4), ...parseRouteShow(C_R6, 6)] },
    host: {
      link: parseAddrShow(H_ADDR)[0],
      routes: [...parseRouteShow(H_R4, 4), ...parseRouteShow(H_R6, 6)].map((r) => ({ ...r, dev: 'caliabc' })),
      sysctls: hostSysctls('caliabc', true, true),
      proxyNeighbours: ['fe80::ecee:eeff:feee:eeee'],
    },
  };
}

const VIEW = {
  allocations: new Map(
    ['198.19.250.5', '2001:db8:250::5'].map((a) => [a, { allocated: true, address: a, handle: 'net.c1', attributes: {}, block: '', blockNode: '', pool: '', borrowed: false }] as const),
  ),
  endpoint: {
    spec: { containerID: 'c1', ipNetworks: ['198.19.250.5/32', '2001:db8:250::5/128'], interfaceName: 'caliabc' },
  } as unknown as WorkloadEndpoint,
};

describe('checkProblems', () => {
  it('finds nothing wrong in what ADD made', () => {
    expect(checkProblems(ID, PREV, healthy(), VIEW, '/run/netns/c', 254)).toEqual([]);
  });
  it.each<[string, (o: Observation) => Observation, RegExp]>([
    ['the namespace', (o) => ({ ...o, container: { netnsExists: false, routes: [] } }), /network namespace \/run\/netns\/c does not exist/],
    ['the interface', (o) => ({ ...o, container: { netnsExists: true, routes: [] } }), /interface eth0 is missing in the container/],
    ['an address', (o) => ({ ...o, container: { ...o.container, link: { ...o.container.link!, addresses: ['198.19.250.5/32'] } } }), /address 2001:db8:250::5\/128 is missing on eth0/],
    ['the default route', (o) => ({ ...o, container: { ...o.container, routes: o.container.routes.filter((r) => r.dst !== '0.0.0.0/0') } }), /default route via 169.254.1.1 dev eth0 is missing/],
    ['the gateway link route', (o) => ({ ...o, container: { ...o.container, routes: o.container.routes.filter((r) => r.dst !== '169.254.1.1/32') } }), /route 169.254.1.1 dev eth0 scope link is missing/],
    ['the IPv6 default route', (o) => ({ ...o, container: { ...o.container, routes: o.container.routes.filter((r) => r.dst !== '::/0') } }), /IPv6 default route via fe80::ecee:eeff:feee:eeee/],
    ['the host interface', (o) => ({ ...o, host: { ...o.host, link: undefined } }), /host interface caliabc is missing/],
    ['a host route', (o) => ({ ...o, host: { ...o.host, routes: o.host.routes.filter((r) => r.dst !== '198.19.250.5/32') } }), /host route 198.19.250.5\/32 dev caliabc is missing from table 254/],
    ['proxy ARP', (o) => ({ ...o, host: { ...o.host, sysctls: { ...o.host.sysctls, 'net.ipv4.conf.caliabc.proxy_arp': '0' } } }), /net.ipv4.conf.caliabc.proxy_arp is 0, not 1/],
    ['the proxy neighbour', (o) => ({ ...o, host: { ...o.host, proxyNeighbours: [] } }), /proxy neighbour fe80::ecee:eeff:feee:eeee on caliabc is missing/],
  ])('reports a missing %s', (_what, change, message) => {
    const problems = checkProblems(ID, PREV, change(healthy()), VIEW, '/run/netns/c', 254);
    expect(problems.join('\n')).toMatch(message);
  });
  it('reports an address IPAM gave to someone else and an endpoint of another container', () => {
    const view = {
      allocations: new Map([...VIEW.allocations].map(([a, v]) => [a, a.includes(':') ? { ...v, handle: 'net.c2' } : v] as const)),
      endpoint: { spec: { containerID: 'c2', ipNetworks: ['198.19.250.9/32'], interfaceName: 'caliabc' } } as unknown as WorkloadEndpoint,
    };
    expect(checkProblems(ID, PREV, healthy(), view, '/run/netns/c', 254)).toEqual([
      'address 2001:db8:250::5 is allocated to handle net.c2, not net.c1',
      'WorkloadEndpoint default/n1-k8s-web-eth0 belongs to container c2, not c1',
      'WorkloadEndpoint default/n1-k8s-web-eth0 has addresses 198.19.250.9/32, not 198.19.250.5/32, 2001:db8:250::5/128',
    ]);
  });
});
