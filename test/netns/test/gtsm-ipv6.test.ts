/**
 * GTSM (RFC 5082) over IPv6 in Tabby's speaker against BIRD (`ttl security on; multihop N`):
 * the speaker sends with IPV6_UNICAST_HOPS 255 and sets its floor with IPV6_MINHOPCOUNT. Real
 * hop counts: a Tabby speaker (gtsm-speaker.mjs, @tabby/bgp) in namespace `t`, BIRD `b` one hop
 * away on a direct link, BIRD `c` two hops away behind router namespace `r` (IPv6 forwarding
 * on). Every session is IPv6 (transport and the one family, ipv6-unicast); the links also
 * carry 198.18.15.x/30 addresses only because the fabric's links always have an IPv4 one:
 *
 *   c 2001:db8:15:3::2 ── ::1 r 2001:db8:15:2::2 ── 2001:db8:15:2::1 t 2001:db8:15:1::1 ── 2001:db8:15:1::2 b
 *
 * 1. ttlSecurity 1 with b: Established on both sides. ttlSecurity 1 with c: never, on either
 *    side (its packets arrive with hop limit 254, below our floor 255), though c itself allows
 *    two hops;
 * 2. ttlSecurity 2 with c: Established on both sides — so we send with hop limit 255, or c's
 *    floor 254 would drop us; the session with b did not flap meanwhile (same flap count and
 *    `since` as before the change).
 *
 * Safety as in the other netns tests: namespaces of this fabric only, addresses from
 * 198.18.0.0/15 and 2001:db8::/32 (the range ipv6.test.ts uses), no link to this machine's
 * namespace, every process stopped by PID and every namespace deleted in afterAll (also on
 * failure).
 */
import { eventually, fabricTestbed, startBirdIn, type BirdProcess } from '@tabby/harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GtsmSpeaker, buildHopFabric, holdsFor, type GtsmPeer, type HopLinks } from './gtsm-helpers.js';

const { fabric, dir, cleanup } = fabricTestbed('tabby-gtsm6-');
afterAll(cleanup, 60_000);

/** The link ends of the picture above. */
const LINKS: HopLinks = { tb: '2001:db8:15:1::1', bt: '2001:db8:15:1::2', tr: '2001:db8:15:2::1', rt: '2001:db8:15:2::2', rc: '2001:db8:15:3::1', cr: '2001:db8:15:3::2' };
const { tb: T_B, bt: B, tr: T_R, cr: C } = LINKS;
/** Router ids (BIRD and the speaker need an IPv4 one) and the links' IPv4 addresses. */
const V4: HopLinks = { tb: '198.18.15.1', bt: '198.18.15.2', tr: '198.18.15.5', rt: '198.18.15.6', rc: '198.18.15.9', cr: '198.18.15.10' };

let tabby: GtsmSpeaker;
let birdB: BirdProcess;
let birdC: BirdProcess;

function peers(hopsToC: number): GtsmPeer[] {
  return [
    { address: B, remoteAs: 65002, localAddress: T_B, ttlSecurity: 1, families: ['ipv6-unicast'] },
    { address: C, remoteAs: 65003, localAddress: T_R, ttlSecurity: hopsToC, families: ['ipv6-unicast'] },
  ];
}

describe('GTSM over IPv6 with real hop counts', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    const { t, b, c } = await buildHopFabric(fabric, { ipv4: V4, ipv6: LINKS, routes: { toC: '2001:db8:15:3::/64', toT: '2001:db8:15:2::/64' } });

    birdB = await startBirdIn(fabric, b, dir.path, { name: 'birdb', address: B, routerId: V4.bt, as: 65002, peers: [{ name: 'tabby', neighbor: T_B, remoteAs: 65001, ttlSecurity: true }] });
    birdC = await startBirdIn(fabric, c, dir.path, {
      name: 'birdc',
      address: C,
      routerId: V4.cr,
      as: 65003,
      peers: [{ name: 'tabby', neighbor: T_R, remoteAs: 65001, multihop: 2, ttlSecurity: true }],
    });
    tabby = await GtsmSpeaker.start(fabric, t, dir.path, { asn: 65001, routerId: V4.tb, listen: [T_B, T_R] }, peers(1));
  }, 60_000);

  it('one hop with ttlSecurity 1: Established; two hops with ttlSecurity 1: never', async () => {
    tabby.logOnFailure();
    await eventually('Tabby ↔ b Established', () => tabby.peer(B)?.state === 'Established', 30_000, 100);
    const b = await birdB.waitEstablished('tabby');
    expect(b.bgpState).toBe('Established');
    expect(b.neighborAddress).toBe(T_B);
    // c allows two hops, but our floor for it is 255 and its packets arrive with hop limit 254.
    await holdsFor(8000, async () => {
      expect(tabby.peer(C)?.state).not.toBe('Established');
      expect((await birdC.protocol('tabby')).bgpState).not.toBe('Established');
    });
    expect(tabby.peer(C)?.lastError).toMatch(/GTSM|timed out|closed|reset/);
  });

  it('two hops with ttlSecurity 2: Established; the one-hop session stayed up throughout', async () => {
    tabby.logOnFailure();
    // Both sides dial at start: the connection collision is decided at the first OPEN, so the
    // session came up once and never flapped.
    const b0 = tabby.peer(B)!;
    expect(b0.state).toBe('Established');
    expect(b0.flaps, tabby.history(B).join(' → ')).toBe(0);
    tabby.configure(peers(2));
    await tabby.waitReset(C);
    await eventually('Tabby ↔ c Established', () => tabby.peer(C)?.state === 'Established', 30_000, 100);
    expect((await birdC.waitEstablished('tabby')).bgpState).toBe('Established');
    const b1 = tabby.peer(B)!;
    expect(b1.state).toBe('Established');
    expect(b1.flaps, tabby.history(B).join(' → ')).toBe(b0.flaps);
    expect(b1.since).toBe(b0.since);
  });
});
