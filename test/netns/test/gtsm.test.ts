/**
 * GTSM (RFC 5082) in Tabby's speaker against BIRD (`ttl security on; multihop N`), with real
 * hop counts: a Tabby speaker (gtsm-speaker.mjs, @tabby/bgp) in namespace `t`, BIRD `b` one
 * hop away on a direct link, BIRD `c` two hops away behind router namespace `r`:
 *
 *   c 198.18.13.10 ── .9 r .6 ── 198.18.13.5 t 198.18.13.1 ── 198.18.13.2 b
 *
 * 1. ttlSecurity 1 with b: Established. ttlSecurity 1 with c: never (its packets arrive with
 *    TTL 254, below the floor 255), though c itself allows two hops;
 * 2. ttlSecurity 2 with c: Established; the session with b never flapped.
 *
 * The same against GoBGP is in gtsm-gobgp.test.ts, over IPv6 in gtsm-ipv6.test.ts; the speaker
 * driver they share is gtsm-helpers.ts.
 *
 * Safety as in the other netns tests: namespaces of this fabric only, addresses from
 * 198.18.0.0/15, no link to this machine's namespace, every process stopped by PID and every
 * namespace deleted in afterAll (also on failure).
 */
import { eventually, fabricTestbed, startBirdIn, type BirdProcess } from '@tabby/harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GtsmSpeaker, buildHopFabric, holdsFor, type GtsmPeer, type HopLinks } from './gtsm-helpers.js';

const { fabric, dir, cleanup } = fabricTestbed('tabby-gtsm-');
afterAll(cleanup, 60_000);

/** The link ends of the picture above. */
const LINKS: HopLinks = { tb: '198.18.13.1', bt: '198.18.13.2', tr: '198.18.13.5', rt: '198.18.13.6', rc: '198.18.13.9', cr: '198.18.13.10' };
const { tb: T_B, bt: B, tr: T_R, cr: C } = LINKS;

let tabby: GtsmSpeaker;
let birdB: BirdProcess;
let birdC: BirdProcess;

function peers(hopsToC: number): GtsmPeer[] {
  return [
    { address: B, remoteAs: 65002, localAddress: T_B, ttlSecurity: 1 },
    { address: C, remoteAs: 65003, localAddress: T_R, ttlSecurity: hopsToC },
  ];
}

describe('GTSM with real hop counts', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    const { t, b, c } = await buildHopFabric(fabric, { ipv4: LINKS, routes: { toC: '198.18.13.8/30', toT: '198.18.13.4/30' } });

    birdB = await startBirdIn(fabric, b, dir.path, { name: 'birdb', address: B, as: 65002, peers: [{ name: 'tabby', neighbor: T_B, remoteAs: 65001, ttlSecurity: true }] });
    birdC = await startBirdIn(fabric, c, dir.path, { name: 'birdc', address: C, as: 65003, peers: [{ name: 'tabby', neighbor: T_R, remoteAs: 65001, multihop: 2, ttlSecurity: true }] });
    tabby = await GtsmSpeaker.start(fabric, t, dir.path, { asn: 65001, routerId: T_B, listen: [T_B, T_R] }, peers(1));
  }, 60_000);

  it('one hop with ttlSecurity 1: Established; two hops with ttlSecurity 1: never', async () => {
    tabby.logOnFailure();
    await eventually('Tabby ↔ b Established', () => tabby.peer(B)?.state === 'Established', 30_000, 100);
    expect((await birdB.waitEstablished('tabby')).bgpState).toBe('Established');
    // c allows two hops, but our floor for it is 255 and its packets arrive with 254.
    await holdsFor(8000, async () => {
      expect(tabby.peer(C)?.state).not.toBe('Established');
      expect((await birdC.protocol('tabby')).bgpState).not.toBe('Established');
    });
    expect(tabby.peer(C)?.lastError).toMatch(/GTSM|timed out|closed|reset/);
  });

  it('two hops with ttlSecurity 2: Established; the one-hop session never flapped', async () => {
    tabby.logOnFailure();
    const b0 = tabby.peer(B)!;
    tabby.configure(peers(2));
    await tabby.waitReset(C);
    await eventually('Tabby ↔ c Established', () => tabby.peer(C)?.state === 'Established', 30_000, 100);
    expect((await birdC.waitEstablished('tabby')).bgpState).toBe('Established');
    const b1 = tabby.peer(B)!;
    expect(b1.state).toBe('Established');
    expect(b1.flaps, tabby.history(B).join(' → ')).toBe(0);
    expect(b1.since).toBe(b0.since);
  });
});
