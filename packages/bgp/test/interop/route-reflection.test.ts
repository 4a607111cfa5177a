/**
 * Route reflection (RFC 4456) with real BIRD: Tabby reflects between two BIRD clients, and
 * BIRD reflects between two Tabby speakers. ORIGINATOR_ID and CLUSTER_LIST as BIRD shows them.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ProcessGroup, freePort, startBird, tempDir } from '@tabby/harness';
import { peerOf, tabbySpeaker, waitRoute, waitState } from './speakers.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-bgp-rr-');
afterAll(async () => {
  await group.stopAll();
  dir.remove();
});

const AS = 65040;

describe('route reflection', { timeout: 60_000 }, () => {
  it('Tabby reflects between two BIRD clients', async () => {
    const rr = await tabbySpeaker('127.0.0.40', AS, { clusterId: '10.0.0.40' });
    group.defer(() => rr.speaker.stop());
    const clients = await Promise.all(
      [41, 42].map(async (n) => {
        const port = await freePort(`127.0.0.${n}`);
        const bird = await startBird(group, dir.path, {
          name: `client${n}`,
          routerId: `10.0.0.${n}`,
          address: `127.0.0.${n}`,
          port,
          as: AS,
          statics: [`10.${n}.0.0/24`],
          peers: [{ name: 'reflector', neighbor: '127.0.0.40', neighborPort: rr.port, remoteAs: AS }],
        });
        const key = rr.speaker.addPeer(peerOf(rr, { address: `127.0.0.${n}`, port, as: AS }, { rrClient: true }));
        return { n, bird, key };
      }),
    );
    for (const c of clients) await waitState(rr.speaker, c.key, 'Established');
    const [a, b] = clients;
    const reflected = await b.bird.waitRoute('ipv4', '10.41.0.0/24');
    expect(reflected).toMatchObject({ originatorId: '10.0.0.41', clusterList: ['10.0.0.40'], nextHop: '10.0.0.41', asPath: [] });
    const back = await a.bird.waitRoute('ipv4', '10.42.0.0/24');
    expect(back).toMatchObject({ originatorId: '10.0.0.42', clusterList: ['10.0.0.40'] });
    // The reflector's own route reaches both clients without reflection attributes.
    rr.speaker.announce('ipv4-unicast', '10.40.0.0/24');
    const own = await a.bird.waitRoute('ipv4', '10.40.0.0/24');
    expect(own.originatorId).toBeUndefined();
    expect(own.clusterList).toEqual([]);
  });

  it('BIRD reflects between two Tabby speakers', async () => {
    const rrPort = await freePort('127.0.0.45');
    const speakers = await Promise.all([46, 47].map((n) => tabbySpeaker(`127.0.0.${n}`, AS)));
    for (const s of speakers) group.defer(() => s.speaker.stop());
    await startBird(group, dir.path, {
      name: 'rr',
      routerId: '10.0.0.45',
      address: '127.0.0.45',
      port: rrPort,
      as: AS,
      peers: speakers.map((s, i) => ({ name: `c${i}`, neighbor: s.address, neighborPort: s.port, remoteAs: AS, rrClient: true, rrClusterId: '10.0.0.45' })),
    });
    const keys = speakers.map((s) => s.speaker.addPeer(peerOf(s, { address: '127.0.0.45', port: rrPort, as: AS })));
    await Promise.all(speakers.map((s, i) => waitState(s.speaker, keys[i], 'Established')));
    speakers[0].speaker.announce('ipv4-unicast', '10.46.0.0/24');
    speakers[0].speaker.announce('ipv6-unicast', 'fd00:46::/48');
    const r4 = await waitRoute(speakers[1].speaker, 'ipv4-unicast', '10.46.0.0/24');
    expect(r4.best.attrs).toMatchObject({ originatorId: '10.0.0.46', clusterList: ['10.0.0.45'], nextHop: '10.0.0.46' });
    const r6 = await waitRoute(speakers[1].speaker, 'ipv6-unicast', 'fd00:46::/48');
    expect(r6.best.attrs.nextHop).toBe('2001:db8::46');
  });
});
