/**
 * Communities and route policy against real speakers: Tabby (127.0.0.141) peers over eBGP
 * with GoBGP (127.0.0.142) and BIRD (127.0.0.143).
 * (a) originated routes carry standard and large communities (RFC 8092) exactly as given, as
 *     GoBGP (`gobgp -j`) and BIRD (`show route all`) show them; a large community GoBGP sends
 *     reaches BIRD through Tabby unchanged;
 * (b) an export rule keeps a prefix from GoBGP while BIRD still gets it; changing the rule at
 *     run time announces or withdraws only that prefix, on the same session;
 * (c) import rules keep prefixes from BIRD and GoBGP out of the RIB (shown as filtered); a
 *     rule change at run time lets them in without a session reset or a ROUTE-REFRESH.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessGroup, eventually, freePort, startBird, startGobgp, tempDir, type BirdProcess, type GobgpProcess } from '@tabby/harness';
import type { PeerConfig, RoutePolicy } from '../../src/index.js';
import { peerOf, tabbySpeaker, waitNoRoute, waitRoute, waitState, type TestSpeaker } from './speakers.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-bgp-policy-');
afterAll(async () => {
  await group.stopAll();
  dir.remove();
});

const c = (asn: number, value: number): number => asn * 65536 + value;

describe('communities and route policy with GoBGP and BIRD', { timeout: 60_000 }, () => {
  let tabby: TestSpeaker;
  let gobgp: GobgpProcess;
  let bird: BirdProcess;
  let toGobgp: PeerConfig;
  let toBird: PeerConfig;
  let gobgpKey: string;
  let birdKey: string;

  const gobgpExport: RoutePolicy = { v4: [{ action: 'reject', cidr: '10.141.1.0/24', matchOperator: 'Equal' }] };
  const birdImport: RoutePolicy = { v4: [{ action: 'reject', cidr: '10.143.1.0/24', matchOperator: 'Equal' }] };
  const gobgpImport: RoutePolicy = {
    v4: [
      { action: 'accept', cidr: '10.142.0.0/24', matchOperator: 'Equal' },
      { action: 'reject', cidr: '10.142.0.0/16', matchOperator: 'In', prefixLength: { min: 24, max: 24 } },
    ],
    v6: [{ action: 'reject', cidr: 'fd00:142::/32', matchOperator: 'In' }],
  };

  beforeAll(async () => {
    tabby = await tabbySpeaker('127.0.0.141', 65141);
    group.defer(() => tabby.speaker.stop());
    const gobgpPort = await freePort('127.0.0.142');
    gobgp = await startGobgp(group, dir.path, {
      name: 'policy',
      as: 65142,
      routerId: '10.0.0.142',
      address: '127.0.0.142',
      port: gobgpPort,
      neighbors: [{ address: '127.0.0.141', remotePort: tabby.port, remoteAs: 65141, passive: true }],
    });
    const birdPort = await freePort('127.0.0.143');
    bird = await startBird(group, dir.path, {
      name: 'policy',
      routerId: '10.0.0.143',
      address: '127.0.0.143',
      port: birdPort,
      as: 65143,
      statics: ['10.143.0.0/24', '10.143.1.0/24'],
      peers: [{ name: 'tabby', neighbor: '127.0.0.141', neighborPort: tabby.port, remoteAs: 65141, passive: true }],
    });

    tabby.speaker.announce('ipv4-unicast', '10.141.0.0/24', {
      communities: [c(65141, 7), c(65000, 100)],
      largeCommunities: [
        [65141, 1, 2],
        [4200000141, 3, 4294967295],
      ],
    });
    tabby.speaker.announce('ipv4-unicast', '10.141.1.0/24', { largeCommunities: [[65141, 9, 9]] });
    tabby.speaker.announce('ipv6-unicast', 'fd00:141::/48', { communities: [c(65141, 6)], largeCommunities: [[65141, 6, 6]] });

    toGobgp = peerOf(tabby, { address: '127.0.0.142', port: gobgpPort, as: 65142 }, { exportPolicy: gobgpExport, importPolicy: gobgpImport });
    toBird = peerOf(tabby, { address: '127.0.0.143', port: birdPort, as: 65143 }, { importPolicy: birdImport });
    gobgpKey = tabby.speaker.addPeer(toGobgp);
    birdKey = tabby.speaker.addPeer(toBird);
    await waitState(tabby.speaker, gobgpKey, 'Established');
    await waitState(tabby.speaker, birdKey, 'Established');
    await gobgp.waitEstablished('127.0.0.141');
    await bird.waitEstablished('tabby');
  }, 45_000);

  it('(a) GoBGP receives exactly the standard and large communities of originated routes', async () => {
    const r4 = await gobgp.waitRoute('ipv4', '10.141.0.0/24');
    expect(r4.communities).toEqual(['65141:7', '65000:100']);
    expect(r4.largeCommunities).toEqual(['65141:1:2', '4200000141:3:4294967295']);
    expect(r4.asPath).toEqual([65141]);
    const r6 = await gobgp.waitRoute('ipv6', 'fd00:141::/48');
    expect(r6.communities).toEqual(['65141:6']);
    expect(r6.largeCommunities).toEqual(['65141:6:6']);
  });

  it('(a) BIRD receives exactly the standard and large communities of originated routes', async () => {
    const r4 = await bird.waitRoute('ipv4', '10.141.0.0/24');
    expect([...r4.communities].sort()).toEqual(['65000:100', '65141:7']);
    expect([...r4.largeCommunities].sort()).toEqual(['4200000141:3:4294967295', '65141:1:2']);
    const r6 = await bird.waitRoute('ipv6', 'fd00:141::/48');
    expect(r6.communities).toEqual(['65141:6']);
    expect(r6.largeCommunities).toEqual(['65141:6:6']);
    expect((await bird.waitRoute('ipv4', '10.141.1.0/24')).largeCommunities).toEqual(['65141:9:9']);
  });

  it('(a) a large community from GoBGP is decoded into the RIB and passed on to BIRD unchanged', async () => {
    await gobgp.announce('ipv4', '10.142.0.0/24', { nextHop: '10.0.0.142', communities: ['65142:5'], largeCommunities: ['65142:1:1', '65142:2:3'] });
    const t = await waitRoute(tabby.speaker, 'ipv4-unicast', '10.142.0.0/24');
    expect(t.best.attrs.largeCommunities).toEqual([
      [65142, 1, 1],
      [65142, 2, 3],
    ]);
    expect(t.best.attrs.unknown).toBeUndefined();
    const b = await bird.waitRoute('ipv4', '10.142.0.0/24');
    expect([...b.largeCommunities].sort()).toEqual(['65142:1:1', '65142:2:3']);
    expect(b.communities).toEqual(['65142:5']);
    expect(b.asPath).toEqual([65141, 65142]);
  });

  it('(b) an export rule keeps 10.141.1.0/24 from GoBGP while BIRD still gets it', async () => {
    await bird.waitRoute('ipv4', '10.141.1.0/24');
    await gobgp.waitRoute('ipv4', '10.141.0.0/24');
    expect((await gobgp.rib('ipv4')).map((p) => p.prefix)).not.toContain('10.141.1.0/24');
    expect(tabby.speaker.advertised(gobgpKey, 'ipv4-unicast').map(([p]) => p)).not.toContain('10.141.1.0/24');
    expect(tabby.speaker.advertised(birdKey, 'ipv4-unicast').map(([p]) => p)).toContain('10.141.1.0/24');
  });

  it('(b) changing the export rule at run time announces, then withdraws, only that prefix on the same session', async () => {
    const flaps = tabby.speaker.peer(gobgpKey)!.flaps;
    toGobgp = { ...toGobgp, exportPolicy: undefined };
    expect(tabby.speaker.updatePeer(toGobgp)).toBe('role-changed');
    const r = await gobgp.waitRoute('ipv4', '10.141.1.0/24');
    expect(r.largeCommunities).toEqual(['65141:9:9']);
    toGobgp = { ...toGobgp, exportPolicy: { v4: [{ action: 'reject', cidr: '10.141.0.0/16', matchOperator: 'In', prefixLength: { min: 24, max: 24 } }] } };
    expect(tabby.speaker.updatePeer(toGobgp)).toBe('role-changed');
    await gobgp.waitNoRoute('ipv4', '10.141.1.0/24');
    await gobgp.waitNoRoute('ipv4', '10.141.0.0/24');
    // IPv6 rules are separate: the IPv6 route stays.
    expect((await gobgp.rib('ipv6')).map((p) => p.prefix)).toContain('fd00:141::/48');
    const st = tabby.speaker.peer(gobgpKey)!;
    expect([st.state, st.flaps]).toEqual(['Established', flaps]);
    expect((await gobgp.neighbor('127.0.0.141'))?.state).toBe('established');
  });

  it('(c) import rules keep routes from BIRD and GoBGP out of the RIB; they show as filtered', async () => {
    await gobgp.announce('ipv4', '10.142.1.0/24', { nextHop: '10.0.0.142' });
    await gobgp.announce('ipv6', 'fd00:142::/48', { nextHop: '2001:db8::142' });
    await waitRoute(tabby.speaker, 'ipv4-unicast', '10.143.0.0/24');
    await waitRoute(tabby.speaker, 'ipv4-unicast', '10.142.0.0/24');
    await eventually('the rejected routes to be kept aside', () => tabby.speaker.peer(gobgpKey)!.counters['ipv4-unicast'].filtered === 1 && tabby.speaker.peer(gobgpKey)!.counters['ipv6-unicast'].filtered === 1);
    const routes = tabby.speaker.routes('ipv4-unicast').map((r) => r.prefix);
    expect(routes).not.toContain('10.143.1.0/24');
    expect(routes).not.toContain('10.142.1.0/24');
    expect(tabby.speaker.routes('ipv6-unicast').map((r) => r.prefix)).not.toContain('fd00:142::/48');
    expect(tabby.speaker.filtered(birdKey, 'ipv4-unicast').map(([p]) => p)).toEqual(['10.143.1.0/24']);
    expect(tabby.speaker.filtered(gobgpKey, 'ipv4-unicast').map(([p]) => p)).toEqual(['10.142.1.0/24']);
    expect(tabby.speaker.peer(birdKey)!.counters['ipv4-unicast']).toMatchObject({ received: 1, filtered: 1 });
    // Not in the RIB, so not passed on either.
    expect((await bird.routes('ipv4')).map((r) => r.prefix)).not.toContain('10.142.1.0/24');
  });

  it('(c) changing the import rules at run time lets the routes in without a reset or a ROUTE-REFRESH', async () => {
    const before = { bird: tabby.speaker.peer(birdKey)!, gobgp: tabby.speaker.peer(gobgpKey)! };
    toBird = { ...toBird, importPolicy: undefined };
    expect(tabby.speaker.updatePeer(toBird)).toBe('role-changed');
    toGobgp = { ...toGobgp, importPolicy: { v4: [{ action: 'reject', cidr: '10.142.0.0/24', matchOperator: 'Equal' }] } };
    expect(tabby.speaker.updatePeer(toGobgp)).toBe('role-changed');
    const r = await waitRoute(tabby.speaker, 'ipv4-unicast', '10.143.1.0/24');
    expect(r.best.attrs.asPath).toEqual([{ type: 2, asns: [65143] }]);
    await waitRoute(tabby.speaker, 'ipv4-unicast', '10.142.1.0/24');
    await waitRoute(tabby.speaker, 'ipv6-unicast', 'fd00:142::/48');
    await waitNoRoute(tabby.speaker, 'ipv4-unicast', '10.142.0.0/24');
    expect(tabby.speaker.filtered(gobgpKey, 'ipv4-unicast').map(([p]) => p)).toEqual(['10.142.0.0/24']);
    expect(tabby.speaker.filtered(birdKey, 'ipv4-unicast')).toEqual([]);
    // The routes now accepted are passed on: BIRD gets GoBGP's formerly filtered prefix.
    await bird.waitRoute('ipv4', '10.142.1.0/24');
    await bird.waitNoRoute('ipv4', '10.142.0.0/24');
    const after = { bird: tabby.speaker.peer(birdKey)!, gobgp: tabby.speaker.peer(gobgpKey)! };
    expect([after.bird.state, after.bird.flaps, after.gobgp.state, after.gobgp.flaps]).toEqual(['Established', before.bird.flaps, 'Established', before.gobgp.flaps]);
    // Soft reconfiguration: nothing was asked of the peers, they sent no UPDATE again.
    expect(after.bird.updatesIn).toBe(before.bird.updatesIn);
    expect(after.bird.counters['ipv4-unicast']).toMatchObject({ received: 2, filtered: 0 });
  });
});
