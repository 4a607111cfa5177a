/**
 * Tabby's speaker against a real BIRD 2 on 127.0.0.x with non-default ports: eBGP and iBGP,
 * IPv4 and IPv6 (MP-BGP over an IPv4 session), withdraws, route refresh, CEASE on shutdown,
 * the hold timer when BIRD is stopped (SIGSTOP) and recovery, and a 4-octet AS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessGroup, eventually, freePort, startBird, tempDir, type BirdProcess } from '@tabby/harness';
import { peerOf, tabbySpeaker, waitNoRoute, waitRoute, waitState, type TestSpeaker } from './speakers.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-bgp-bird-');
afterAll(async () => {
  await group.stopAll();
  dir.remove();
});

describe('eBGP with BIRD', { timeout: 60_000 }, () => {
  let tabby: TestSpeaker;
  let bird: BirdProcess;
  let key: string;

  beforeAll(async () => {
    tabby = await tabbySpeaker('127.0.0.21', 65021);
    const birdPort = await freePort('127.0.0.22');
    bird = await startBird(group, dir.path, {
      name: 'ebgp',
      routerId: '10.0.0.22',
      address: '127.0.0.22',
      port: birdPort,
      as: 65022,
      statics: ['10.22.0.0/24', 'fd00:22::/48'],
      peers: [{ name: 'tabby', neighbor: '127.0.0.21', neighborPort: tabby.port, remoteAs: 65021 }],
    });
    group.defer(() => tabby.speaker.stop());
    key = tabby.speaker.addPeer(peerOf(tabby, { address: '127.0.0.22', port: birdPort, as: 65022 }, { description: 'bird' }));
    tabby.speaker.announce('ipv4-unicast', '10.21.0.0/24');
    tabby.speaker.announce('ipv6-unicast', 'fd00:21::/48', { med: 20 });
  }, 30_000);

  it('reaches Established on both sides', async () => {
    const st = await waitState(tabby.speaker, key, 'Established');
    expect(st.families).toEqual(['ipv4-unicast', 'ipv6-unicast']);
    expect(st.holdTimeS).toBe(9);
    expect((await bird.waitEstablished('tabby')).bgpState).toBe('Established');
  });

  it('sends our IPv4 and IPv6 routes with our next hops and AS path', async () => {
    const r4 = await bird.waitRoute('ipv4', '10.21.0.0/24');
    expect(r4).toMatchObject({ nextHop: '10.0.0.21', asPath: [65021], origin: 'igp' });
    const r6 = await bird.waitRoute('ipv6', 'fd00:21::/48');
    expect(r6).toMatchObject({ nextHop: '2001:db8::21', asPath: [65021], med: 20 });
  });

  it("learns BIRD's IPv4 and IPv6 routes with their attributes", async () => {
    const r4 = await waitRoute(tabby.speaker, 'ipv4-unicast', '10.22.0.0/24');
    expect(r4.best.attrs).toMatchObject({ nextHop: '10.0.0.22', asPath: [{ type: 2, asns: [65022] }], origin: 0 });
    const r6 = await waitRoute(tabby.speaker, 'ipv6-unicast', 'fd00:22::/48');
    expect(r6.best.attrs.nextHop).toBe('2001:db8::22');
    const st = tabby.speaker.peer(key)!;
    expect(st.counters['ipv4-unicast'].received).toBe(1);
    expect(st.counters['ipv6-unicast'].advertised).toBe(1);
  });

  it('propagates withdraws both ways', async () => {
    tabby.speaker.withdraw('ipv4-unicast', '10.21.0.0/24');
    await bird.waitNoRoute('ipv4', '10.21.0.0/24');
    await bird.withdrawStatic('10.22.0.0/24');
    await waitNoRoute(tabby.speaker, 'ipv4-unicast', '10.22.0.0/24');
    await bird.announceStatic('10.22.0.0/24');
    await waitRoute(tabby.speaker, 'ipv4-unicast', '10.22.0.0/24');
    tabby.speaker.announce('ipv4-unicast', '10.21.0.0/24');
    await bird.waitRoute('ipv4', '10.21.0.0/24');
  });

  it('asks for and answers route refresh', async () => {
    const before = tabby.speaker.peer(key)!.updatesIn;
    expect(tabby.speaker.refreshPeer(key)).toBe(true);
    await eventually('BIRD to resend its routes', () => tabby.speaker.peer(key)!.updatesIn > before);
    // BIRD's `reload out` makes it ask us nothing; `reload in` sends us a ROUTE-REFRESH.
    const out = tabby.speaker.peer(key)!.updatesOut;
    await bird.birdc('reload in tabby');
    await eventually('us to resend our routes', () => tabby.speaker.peer(key)!.updatesOut > out);
  });

  it('expires the hold timer when BIRD stops answering, and recovers when it resumes', async () => {
    bird.pause();
    const down = await eventually('the hold timer to expire', () => {
      const st = tabby.speaker.peer(key)!;
      return st.state !== 'Established' && st.lastError !== '' ? st : undefined;
    }, 20_000, 100);
    expect(down.lastError).toBe('BGP Error: Hold Timer Expired');
    bird.resume();
    await waitState(tabby.speaker, key, 'Established', 30_000);
    await waitRoute(tabby.speaker, 'ipv4-unicast', '10.22.0.0/24');
    expect(tabby.speaker.peer(key)!.flaps).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('sends CEASE when it shuts down, and BIRD sees it', async () => {
    await tabby.speaker.stop();
    const p = await eventually('BIRD to see the CEASE', async () => {
      const d = await bird.protocol('tabby');
      return d.lastError?.includes('Administrative shutdown') ? d : undefined;
    }, 10_000, 100);
    expect(p.lastError).toMatch(/Received: Administrative shutdown/);
  });
});

describe('iBGP and a 4-octet AS with BIRD', { timeout: 60_000 }, () => {
  it('carries LOCAL_PREF over iBGP', async () => {
    const tabby = await tabbySpeaker('127.0.0.23', 65030);
    group.defer(() => tabby.speaker.stop());
    const birdPort = await freePort('127.0.0.24');
    const bird = await startBird(group, dir.path, {
      name: 'ibgp',
      routerId: '10.0.0.24',
      address: '127.0.0.24',
      port: birdPort,
      as: 65030,
      statics: ['10.24.0.0/24'],
      peers: [{ name: 'tabby', neighbor: '127.0.0.23', neighborPort: tabby.port, remoteAs: 65030 }],
    });
    const key = tabby.speaker.addPeer(peerOf(tabby, { address: '127.0.0.24', port: birdPort, as: 65030 }));
    tabby.speaker.announce('ipv4-unicast', '10.23.0.0/24', { localPref: 250 });
    await waitState(tabby.speaker, key, 'Established');
    expect(await bird.waitRoute('ipv4', '10.23.0.0/24')).toMatchObject({ localPref: 250, asPath: [], nextHop: '10.0.0.23' });
    const r = await waitRoute(tabby.speaker, 'ipv4-unicast', '10.24.0.0/24');
    expect(r.best.attrs.localPref).toBe(100);
    expect(r.best.source.ibgp).toBe(true);
  });

  it('peers with a 4-octet AS (4200000001) both ways', async () => {
    const tabby = await tabbySpeaker('127.0.0.25', 4200000001);
    group.defer(() => tabby.speaker.stop());
    const birdPort = await freePort('127.0.0.26');
    const bird = await startBird(group, dir.path, {
      name: 'as4',
      routerId: '10.0.0.26',
      address: '127.0.0.26',
      port: birdPort,
      as: 4200000002,
      statics: ['10.26.0.0/24'],
      peers: [{ name: 'tabby', neighbor: '127.0.0.25', neighborPort: tabby.port, remoteAs: 4200000001 }],
    });
    const key = tabby.speaker.addPeer(peerOf(tabby, { address: '127.0.0.26', port: birdPort, as: 4200000002 }));
    tabby.speaker.announce('ipv4-unicast', '10.25.0.0/24');
    await waitState(tabby.speaker, key, 'Established');
    expect((await bird.waitRoute('ipv4', '10.25.0.0/24')).asPath).toEqual([4200000001]);
    expect((await waitRoute(tabby.speaker, 'ipv4-unicast', '10.26.0.0/24')).best.attrs.asPath).toEqual([{ type: 2, asns: [4200000002] }]);
  });
});


