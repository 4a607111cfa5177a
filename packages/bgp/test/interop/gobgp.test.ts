/**
 * Tabby's speaker against a real GoBGP on 127.0.0.x with non-default ports: eBGP and iBGP,
 * IPv4 and IPv6 routes both ways with the right attributes, withdraws, a 4-octet AS, CEASE.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ProcessGroup, eventually, freePort, startGobgp, tempDir } from '@tabby/harness';
import { peerOf, tabbySpeaker, waitNoRoute, waitRoute, waitState } from './speakers.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-bgp-gobgp-');
afterAll(async () => {
  await group.stopAll();
  dir.remove();
});

describe('with GoBGP', { timeout: 60_000 }, () => {
  it('exchanges IPv4 and IPv6 routes over eBGP, withdraws them, and sends CEASE on shutdown', async () => {
    const tabby = await tabbySpeaker('127.0.0.31', 65031);
    group.defer(() => tabby.speaker.stop());
    const port = await freePort('127.0.0.32');
    const gobgp = await startGobgp(group, dir.path, {
      name: 'ebgp',
      as: 65032,
      routerId: '10.0.0.32',
      address: '127.0.0.32',
      port,
      // Tabby dials: GoBGP 3.10 waits at least 5 s before its own connect attempts.
      neighbors: [{ address: '127.0.0.31', remotePort: tabby.port, remoteAs: 65031, passive: true }],
    });
    const key = tabby.speaker.addPeer(peerOf(tabby, { address: '127.0.0.32', port, as: 65032 }));
    tabby.speaker.announce('ipv4-unicast', '10.31.0.0/24', { communities: [65031 * 65536 + 7] });
    tabby.speaker.announce('ipv6-unicast', 'fd00:31::/48');
    await waitState(tabby.speaker, key, 'Established');
    await gobgp.waitEstablished('127.0.0.31');

    const r4 = await gobgp.waitRoute('ipv4', '10.31.0.0/24');
    expect(r4).toMatchObject({ nextHop: '10.0.0.31', asPath: [65031], communities: ['65031:7'] });
    const r6 = await gobgp.waitRoute('ipv6', 'fd00:31::/48');
    expect(r6.nextHop).toBe('2001:db8::31');
    // GoBGP accepted them (a 127/8 next hop would have been treated as withdraw).
    expect((await gobgp.neighbor('127.0.0.31'))?.families.ipv4?.accepted).toBe(1);

    await gobgp.announce('ipv4', '10.32.0.0/24', { nextHop: '10.0.0.32', med: 40, communities: ['65032:1'] });
    await gobgp.announce('ipv6', 'fd00:32::/48', { nextHop: '2001:db8::32' });
    const t4 = await waitRoute(tabby.speaker, 'ipv4-unicast', '10.32.0.0/24');
    expect(t4.best.attrs).toMatchObject({ nextHop: '10.0.0.32', med: 40, communities: [65032 * 65536 + 1], asPath: [{ type: 2, asns: [65032] }] });
    expect((await waitRoute(tabby.speaker, 'ipv6-unicast', 'fd00:32::/48')).best.attrs.nextHop).toBe('2001:db8::32');

    await gobgp.withdraw('ipv4', '10.32.0.0/24');
    await waitNoRoute(tabby.speaker, 'ipv4-unicast', '10.32.0.0/24');
    tabby.speaker.withdraw('ipv6-unicast', 'fd00:31::/48');
    await gobgp.waitNoRoute('ipv6', 'fd00:31::/48');

    await tabby.speaker.stop();
    await eventually('GoBGP to see the session end', async () => (await gobgp.neighbor('127.0.0.31'))?.state !== 'established', 10_000, 100);
  });

  it('peers over iBGP with a 4-octet AS', async () => {
    const tabby = await tabbySpeaker('127.0.0.33', 4200000033);
    group.defer(() => tabby.speaker.stop());
    const port = await freePort('127.0.0.34');
    const gobgp = await startGobgp(group, dir.path, {
      name: 'ibgp',
      as: 4200000033,
      routerId: '10.0.0.34',
      address: '127.0.0.34',
      port,
      neighbors: [{ address: '127.0.0.33', remotePort: tabby.port, remoteAs: 4200000033, passive: true }],
    });
    const key = tabby.speaker.addPeer(peerOf(tabby, { address: '127.0.0.34', port, as: 4200000033 }));
    tabby.speaker.announce('ipv4-unicast', '10.33.0.0/24', { localPref: 300 });
    await waitState(tabby.speaker, key, 'Established');
    expect(await gobgp.waitRoute('ipv4', '10.33.0.0/24')).toMatchObject({ localPref: 300, asPath: [], nextHop: '10.0.0.33' });
    await gobgp.announce('ipv4', '10.34.0.0/24', { nextHop: '10.0.0.34' });
    const r = await waitRoute(tabby.speaker, 'ipv4-unicast', '10.34.0.0/24');
    expect(r.best.source).toMatchObject({ ibgp: true, asn: 4200000033 });
  });
});
