/**
 * Proves the interop harness on its own, without any Tabby code: real BIRD 2 and GoBGP 3
 * processes on loopback addresses peer with each other over eBGP and iBGP (BIRD as route
 * reflector), and the harness reads their state back. The first block checks the output
 * parsers against replies captured from BIRD 2.0.12 and GoBGP 3.10.0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BirdConfigError,
  BirdReplyReader,
  ProcessGroup,
  freePort,
  loopbackNextHops,
  parseGobgpRib,
  parseRoutes,
  startBird,
  startGobgp,
  tempDir,
  type BirdProcess,
  type BirdReply,
  type GobgpProcess,
} from '@tabby/harness';

// Captured from BIRD 2.0.12 (`show route all` over the control socket) and from
// `gobgp global rib -a ipv6 -j` (GoBGP 3.10.0), both in the eBGP setup below.
const BIRD_SHOW_ROUTE_ALL =
  '0001 BIRD 2.0.12 ready.\n1007-Table master4:\n 10.3.0.0/24          unicast [peer1 23:36:27.262 from 127.0.0.3] * (100/?) [AS65003?]\n \tdev lo\n' +
  '1008-\tType: BGP univ\n1012-\tBGP.origin: Incomplete\n \tBGP.as_path: 65003\n \tBGP.next_hop: 10.0.0.3\n \tBGP.med: 10\n \tBGP.local_pref: 100\n' +
  ' \tBGP.community: (65000,1)\n1007-10.2.0.0/24          blackhole [own4 23:36:24.220] * (200)\n1008-\tType: static univ\n1007-\n Table master6:\n' +
  ' fd42:3::/48          unicast [peer1 23:36:27.286 from 127.0.0.3] * (100/?) [AS65003?]\n \tdev lo\n1008-\tType: BGP univ\n1012-\tBGP.origin: Incomplete\n' +
  ' \tBGP.as_path: 65003\n \tBGP.next_hop: 2001:db8::3\n \tBGP.med: 10\n \tBGP.local_pref: 100\n \tBGP.community: (65000,1)\n' +
  '1007-fd42:2::/48          blackhole [own6 23:36:24.220] * (200)\n1008-\tType: static univ\n0000 \n9001 syntax error, unexpected CF_SYM_UNDEFINED\n';
const GOBGP_RIB_V6 =
  '{"fd42:2::/48":[{"nlri":{"prefix":"fd42:2::/48"},"age":1795649787,"best":true,"attrs":[{"type":1,"value":0},{"type":2,"as_paths":[{"segment_type":2,"num":1,"asns":[65002]}]},' +
  '{"type":14,"nexthop":"2001:db8::2","afi":2,"safi":1,"value":[{"prefix":"fd42:2::/48"}]}],"stale":false,"source-id":"10.0.0.2","neighbor-ip":"127.0.0.2"}],' +
  '"fd42:3::/48":[{"nlri":{"prefix":"fd42:3::/48"},"age":1795649787,"best":true,"attrs":[{"type":1,"value":2},{"type":4,"metric":10},{"type":8,"communities":[4259840001]},' +
  '{"type":14,"nexthop":"2001:db8::3","afi":2,"safi":1,"value":[{"prefix":"fd42:3::/48"}]}],"stale":false}]}';

describe('harness parsers on captured replies', () => {
  it('splits birdc replies the same whether fed whole or one character at a time', () => {
    const whole = new BirdReplyReader().push(BIRD_SHOW_ROUTE_ALL);
    const reader = new BirdReplyReader();
    const split: BirdReply[] = [];
    for (const ch of BIRD_SHOW_ROUTE_ALL) split.push(...reader.push(ch));
    expect(split).toEqual(whole);
    expect(whole.map((r) => r.code)).toEqual([1, 0, 9001]);
    expect(whole[0].text).toBe('BIRD 2.0.12 ready.');
  });

  it('parses show route all into routes with BGP attributes', () => {
    const routes = parseRoutes(new BirdReplyReader().push(BIRD_SHOW_ROUTE_ALL)[1].lines);
    expect(routes.map((r) => [r.table, r.prefix, r.protocol, r.best])).toEqual([
      ['master4', '10.3.0.0/24', 'peer1', true],
      ['master4', '10.2.0.0/24', 'own4', true],
      ['master6', 'fd42:3::/48', 'peer1', true],
      ['master6', 'fd42:2::/48', 'own6', true],
    ]);
    expect(routes[0]).toMatchObject({ from: '127.0.0.3', nextHop: '10.0.0.3', asPath: [65003], origin: 'incomplete', med: 10, localPref: 100, communities: ['65000:1'], via: ['dev lo'] });
    expect(routes[1]).toMatchObject({ dest: 'blackhole', type: 'static univ', asPath: [], preference: 200 });
  });

  it('parses gobgp rib JSON, MP_REACH next hops included', () => {
    const [bird, own] = parseGobgpRib(GOBGP_RIB_V6);
    expect(bird).toMatchObject({ prefix: 'fd42:2::/48', nextHop: '2001:db8::2', asPath: [65002], origin: 'igp', neighborIp: '127.0.0.2' });
    expect(own).toMatchObject({ prefix: 'fd42:3::/48', nextHop: '2001:db8::3', med: 10, communities: ['65000:1'], neighborIp: undefined });
  });
});

// Sessions come up 0.05–2 s after start (BIRD waits 1 s before its first connect): generous limits.
describe('BIRD (127.0.0.2) and GoBGP (127.0.0.3) over eBGP', { timeout: 30_000 }, () => {
  const group = new ProcessGroup();
  const dir = tempDir('tabby-bgp-ebgp-');
  let bird: BirdProcess;
  let gobgp: GobgpProcess;
  const birdNh = loopbackNextHops('127.0.0.2');
  const gobgpNh = loopbackNextHops('127.0.0.3');

  beforeAll(async () => {
    const birdPort = await freePort('127.0.0.2');
    const gobgpPort = await freePort('127.0.0.3');
    [bird, gobgp] = await Promise.all([
      startBird(group, dir.path, {
        routerId: '10.0.0.2',
        address: '127.0.0.2',
        port: birdPort,
        as: 65002,
        statics: ['10.2.0.0/24', 'fd42:2::/48'],
        peers: [{ name: 'gobgp', neighbor: '127.0.0.3', neighborPort: gobgpPort, remoteAs: 65003 }],
      }),
      startGobgp(group, dir.path, {
        as: 65003,
        routerId: '10.0.0.3',
        address: '127.0.0.3',
        port: gobgpPort,
        neighbors: [{ address: '127.0.0.2', remotePort: birdPort, remoteAs: 65002 }],
      }),
    ]);
  }, 30_000);

  afterAll(async () => {
    await group.stopAll();
    dir.remove();
  });

  it('rejects a bad BIRD config with BIRD\'s own message', async () => {
    const bad = startBird(group, dir.path, { name: 'bad', routerId: '10.0.0.9', address: '127.0.0.9', port: 1, as: 1, extra: 'this is not bird syntax;' });
    await expect(bad).rejects.toThrow(BirdConfigError);
    await expect(bad).rejects.toThrow(/syntax error/);
  });

  it('both sides reach Established with both families', async () => {
    const p = await bird.waitEstablished('gobgp');
    expect(p).toMatchObject({ proto: 'BGP', neighborAddress: '127.0.0.3', neighborAs: 65003, localAs: 65002 });
    expect(Object.keys(p.channels).sort()).toEqual(['ipv4', 'ipv6']);
    const n = await gobgp.waitEstablished('127.0.0.2');
    expect(n.peerAs).toBe(65002);
    expect((await bird.protocols()).find((x) => x.name === 'gobgp')?.info).toBe('Established');
  });

  it('BIRD static IPv4 and IPv6 routes reach GoBGP with BIRD\'s next hops and AS path', async () => {
    const v4 = await gobgp.waitRoute('ipv4', '10.2.0.0/24');
    expect(v4).toMatchObject({ nextHop: birdNh.ipv4, asPath: [65002], origin: 'igp', neighborIp: '127.0.0.2' });
    const v6 = await gobgp.waitRoute('ipv6', 'fd42:2::/48');
    expect(v6).toMatchObject({ nextHop: birdNh.ipv6, asPath: [65002], neighborIp: '127.0.0.2' });
    expect((await gobgp.adjIn('127.0.0.2', 'ipv4')).map((p) => p.prefix)).toContain('10.2.0.0/24');
    const counters = (await gobgp.neighbor('127.0.0.2'))?.families;
    expect(counters?.ipv4?.accepted).toBeGreaterThanOrEqual(1);
    expect(counters?.ipv6?.accepted).toBeGreaterThanOrEqual(1);
  });

  it('routes GoBGP announces reach BIRD with their attributes', async () => {
    await gobgp.announce('ipv4', '10.3.0.0/24', { nextHop: gobgpNh.ipv4, communities: ['65000:1'], med: 10 });
    await gobgp.announce('ipv6', 'fd42:3::/48', { nextHop: gobgpNh.ipv6 });
    const v4 = await bird.waitRoute('ipv4', '10.3.0.0/24');
    expect(v4).toMatchObject({ protocol: 'gobgp', from: '127.0.0.3', best: true, nextHop: '10.0.0.3', asPath: [65003], communities: ['65000:1'], med: 10 });
    const v6 = await bird.waitRoute('ipv6', 'fd42:3::/48');
    expect(v6).toMatchObject({ protocol: 'gobgp', nextHop: '2001:db8::3', asPath: [65003], via: ['dev lo'] });
    expect((await bird.protocol('gobgp')).channels.ipv4.imported).toBe(1);
    expect(await bird.routeCount('ipv4', { protocol: 'gobgp' })).toBe(1);
    expect((await gobgp.adjOut('127.0.0.2', 'ipv4')).map((p) => p.prefix)).toContain('10.3.0.0/24');
  });

  it('withdraws propagate both ways, and a re-announced static comes back', async () => {
    await bird.withdrawStatic('10.2.0.0/24');
    await gobgp.waitNoRoute('ipv4', '10.2.0.0/24');
    await gobgp.withdraw('ipv6', 'fd42:3::/48');
    await bird.waitNoRoute('ipv6', 'fd42:3::/48');
    await bird.announceStatic('10.2.0.0/24');
    await gobgp.waitRoute('ipv4', '10.2.0.0/24');
    // The other routes were not touched.
    expect((await bird.routes('ipv4', { prefix: '10.3.0.0/24' })).length).toBe(1);
    expect((await gobgp.rib('ipv6')).map((p) => p.prefix)).toEqual(['fd42:2::/48']);
  });

  it('adds and removes a session at run time (BIRD configure, GoBGP SIGHUP reload)', async () => {
    // A second session between the same two daemons, IPv4 only: BIRD (passive) on 127.0.0.12,
    // GoBGP dialing from 127.0.0.13 (BIRD allows one session per neighbor address and port).
    // BIRD first: GoBGP dials at once, and a refused dial costs it a 5 s idle hold.
    const port = await freePort('127.0.0.12');
    await bird.configure((c) => ({
      ...c,
      peers: [...(c.peers ?? []), { name: 'second', localAddress: '127.0.0.12', localPort: port, neighbor: '127.0.0.13', neighborPort: gobgp.config.port, remoteAs: 65003, passive: true, families: ['ipv4'] }],
    }));
    await gobgp.reload((c) => ({
      ...c,
      neighbors: [...(c.neighbors ?? []), { address: '127.0.0.12', remotePort: port, localAddress: '127.0.0.13', remoteAs: 65002, families: ['ipv4'] }],
    }));
    expect(Object.keys((await bird.waitEstablished('second')).channels)).toEqual(['ipv4']);
    await gobgp.waitEstablished('127.0.0.12');
    await gobgp.waitRoute('ipv4', '10.2.0.0/24', (p) => p.neighborIp === '127.0.0.12');
    await gobgp.reload((c) => ({ ...c, neighbors: (c.neighbors ?? []).filter((n) => n.address !== '127.0.0.12') }));
    await bird.configure((c) => ({ ...c, peers: (c.peers ?? []).filter((p) => p.name !== 'second') }));
    await gobgp.waitNoRoute('ipv4', '10.2.0.0/24', { neighbor: '127.0.0.12' });
    expect((await gobgp.neighbors()).map((n) => n.address)).toEqual(['127.0.0.2']);
    expect((await bird.protocols()).map((p) => p.name)).not.toContain('second');
    expect((await bird.protocol('gobgp')).bgpState).toBe('Established');
  });
});

describe('iBGP: BIRD (127.0.0.4) reflects between two GoBGP clients', { timeout: 30_000 }, () => {
  const group = new ProcessGroup();
  const dir = tempDir('tabby-bgp-rr-');
  const AS = 65010;
  let rr: BirdProcess;
  let c1: GobgpProcess;
  let c2: GobgpProcess;

  beforeAll(async () => {
    const [rrPort, c1Port, c2Port] = await Promise.all([freePort('127.0.0.4'), freePort('127.0.0.5'), freePort('127.0.0.6')]);
    const client = (name: string, address: string, port: number, routerId: string) =>
      startGobgp(group, dir.path, { name, as: AS, routerId, address, port, neighbors: [{ address: '127.0.0.4', remotePort: rrPort, remoteAs: AS }] });
    [rr, c1, c2] = await Promise.all([
      startBird(group, dir.path, {
        name: 'rr',
        routerId: '10.0.0.4',
        address: '127.0.0.4',
        port: rrPort,
        as: AS,
        peers: [
          { name: 'c1', neighbor: '127.0.0.5', neighborPort: c1Port, remoteAs: AS, rrClient: true, rrClusterId: '10.0.0.4', timers: { hold: 3, keepalive: 1 } },
          { name: 'c2', neighbor: '127.0.0.6', neighborPort: c2Port, remoteAs: AS, rrClient: true, rrClusterId: '10.0.0.4' },
        ],
      }),
      client('c1', '127.0.0.5', c1Port, '10.0.0.5'),
      client('c2', '127.0.0.6', c2Port, '10.0.0.6'),
    ]);
    await Promise.all([rr.waitEstablished('c1'), rr.waitEstablished('c2'), c1.waitEstablished('127.0.0.4'), c2.waitEstablished('127.0.0.4')]);
  }, 30_000);

  afterAll(async () => {
    await group.stopAll();
    dir.remove();
  });

  it('a route of one client reaches the other with ORIGINATOR_ID and CLUSTER_LIST', async () => {
    await c1.announce('ipv4', '10.5.0.0/24', { nextHop: '10.0.0.5', localPref: 200 });
    await c1.announce('ipv6', 'fd42:5::/48', { nextHop: '2001:db8::5' });
    const v4 = await c2.waitRoute('ipv4', '10.5.0.0/24');
    expect(v4).toMatchObject({ nextHop: '10.0.0.5', asPath: [], localPref: 200, originatorId: '10.0.0.5', clusterList: ['10.0.0.4'], neighborIp: '127.0.0.4' });
    const v6 = await c2.waitRoute('ipv6', 'fd42:5::/48');
    expect(v6).toMatchObject({ nextHop: '2001:db8::5', originatorId: '10.0.0.5', clusterList: ['10.0.0.4'] });
    // The reflector itself holds the client's route as it was sent, without RR attributes.
    const atRr = await rr.waitRoute('ipv4', '10.5.0.0/24');
    expect(atRr).toMatchObject({ protocol: 'c1', localPref: 200, nextHop: '10.0.0.5', originatorId: undefined, clusterList: [] });
    await c1.withdraw('ipv4', '10.5.0.0/24');
    await c2.waitNoRoute('ipv4', '10.5.0.0/24');
  });

  it('a paused client loses its session to the hold timer and comes back after resume', async () => {
    c1.pause();
    try {
      await expect.poll(async () => (await rr.protocol('c1')).bgpState, { timeout: 10_000, interval: 200 }).not.toBe('Established');
    } finally {
      c1.resume();
    }
    await rr.waitEstablished('c1');
    await c1.waitEstablished('127.0.0.4');
  });

  it('stops a paused daemon with SIGTERM (it is resumed first), not the SIGKILL fallback', async () => {
    c2.pause();
    await c2.stop();
    // A SIGSTOPped process leaves SIGTERM pending; only the grace-period SIGKILL would end it.
    expect((await c2.process.exited()).signal).not.toBe('SIGKILL');
  });
});
