/**
 * GTSM (RFC 5082) in Tabby's speaker against GoBGP (`[neighbors.ttl-security.config]`,
 * `ttl-min = 256 - hops`), with real hop counts: a Tabby speaker (gtsm-speaker.mjs,
 * @tabby/bgp) in namespace `t`, gobgpd `b` one hop away on a direct link, gobgpd `c` two hops
 * away behind router namespace `r`:
 *
 *   c 198.18.14.10 ── .9 r .6 ── 198.18.14.5 t 198.18.14.1 ── 198.18.14.2 b
 *
 * 1. GoBGP runs with the floors asked for (`gobgp neighbor`: ttl_min 255 for b, 254 for c);
 *    ttlSecurity 1 with b: Established, on our side and in `gobgp neighbor`.
 *    ttlSecurity 1 with c: never, on either side (its packets arrive with TTL 254, below our
 *    floor 255), though c itself allows two hops (ttl-min 254);
 * 2. ttlSecurity 2 with c: Established on both sides — so we send with TTL 255, or c's floor
 *    254 would drop us; the session with b did not flap meanwhile (our flap count and `since`,
 *    GoBGP's own flop count and up-since time, as before the change).
 *
 * Safety as in the other netns tests: namespaces of this fabric only, addresses from
 * 198.18.0.0/15, no link to this machine's namespace, every process stopped by PID and every
 * namespace deleted in afterAll (also on failure).
 */
import { eventually, fabricTestbed, startGobgpIn, type NetnsGobgpProcess } from '@tabby/harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GtsmSpeaker, buildHopFabric, holdsFor, type GtsmPeer, type HopLinks } from './gtsm-helpers.js';

const { fabric, dir, cleanup } = fabricTestbed('tabby-gtsm-gobgp-');
afterAll(cleanup, 60_000);

/** The link ends of the picture above. */
const LINKS: HopLinks = { tb: '198.18.14.1', bt: '198.18.14.2', tr: '198.18.14.5', rt: '198.18.14.6', rc: '198.18.14.9', cr: '198.18.14.10' };
const { tb: T_B, bt: B, tr: T_R, cr: C } = LINKS;

let tabby: GtsmSpeaker;
let gobgpB: NetnsGobgpProcess;
let gobgpC: NetnsGobgpProcess;

function peers(hopsToC: number): GtsmPeer[] {
  return [
    { address: B, remoteAs: 65002, localAddress: T_B, ttlSecurity: 1, families: ['ipv4-unicast'] },
    { address: C, remoteAs: 65003, localAddress: T_R, ttlSecurity: hopsToC, families: ['ipv4-unicast'] },
  ];
}

interface GobgpView {
  readonly state: string;
  /** Times the session left Established. */
  readonly flops: number;
  /** When it last came up (seconds since the epoch; 0 = never). */
  readonly upSince: number;
  /** The GTSM floor GoBGP runs with (0 = off). */
  readonly ttlMin: number;
}

/** GoBGP's own view of a neighbor, straight from `gobgp neighbor ADDR -j` (protobuf JSON: zeros are left out). */
async function gobgpNeighbor(gobgp: NetnsGobgpProcess, address: string): Promise<GobgpView> {
  const raw = JSON.parse(await gobgp.gobgp(['neighbor', address, '-j'])) as {
    state?: { session_state?: number; flops?: number };
    timers?: { state?: { uptime?: { seconds?: number } } };
    ttl_security?: { enabled?: boolean; ttl_min?: number };
  };
  const states = ['unknown', 'idle', 'connect', 'active', 'opensent', 'openconfirm', 'established'];
  return {
    state: states[raw.state?.session_state ?? 0] ?? 'unknown',
    flops: raw.state?.flops ?? 0,
    upSince: raw.timers?.state?.uptime?.seconds ?? 0,
    ttlMin: raw.ttl_security?.enabled ? (raw.ttl_security.ttl_min ?? 0) : 0,
  };
}

describe('GTSM with real hop counts, against GoBGP', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    const { t, b, c } = await buildHopFabric(fabric, { ipv4: LINKS, routes: { toC: '198.18.14.8/30', toT: '198.18.14.4/30' } });

    gobgpB = await startGobgpIn(fabric, b, dir.path, { name: 'gobgpb', address: B, as: 65002, neighbors: [{ address: T_B, remoteAs: 65001, ttlSecurity: 1 }] });
    gobgpC = await startGobgpIn(fabric, c, dir.path, { name: 'gobgpc', address: C, as: 65003, neighbors: [{ address: T_R, remoteAs: 65001, ttlSecurity: 2 }] });
    tabby = await GtsmSpeaker.start(fabric, t, dir.path, { asn: 65001, routerId: T_B, listen: [T_B, T_R] }, peers(1));
  }, 60_000);

  it('one hop with ttlSecurity 1: Established on both sides; two hops with ttlSecurity 1: never', async () => {
    tabby.logOnFailure();
    // GoBGP runs with the floors asked for: b one hop (255), c two hops (254).
    expect((await gobgpNeighbor(gobgpB, T_B)).ttlMin).toBe(255);
    expect((await gobgpNeighbor(gobgpC, T_R)).ttlMin).toBe(254);
    await eventually('Tabby ↔ b Established', () => tabby.peer(B)?.state === 'Established', 30_000, 100);
    expect((await gobgpB.waitEstablished(T_B)).state).toBe('established');
    // c allows two hops, but our floor for it is 255 and its packets arrive with 254.
    await holdsFor(8000, async () => {
      expect(tabby.peer(C)?.state).not.toBe('Established');
      expect((await gobgpNeighbor(gobgpC, T_R)).state).not.toBe('established');
    });
    expect(tabby.peer(C)?.lastError).toMatch(/GTSM|timed out|closed|reset/);
    expect((await gobgpNeighbor(gobgpC, T_R)).flops).toBe(0);
  });

  it('two hops with ttlSecurity 2: Established on both sides; the one-hop session stayed up throughout', async () => {
    tabby.logOnFailure();
    // Both sides dial at start: the connection collision is decided at the first OPEN, so the
    // session came up once and never flapped.
    const b0 = tabby.peer(B)!;
    expect(b0.state).toBe('Established');
    expect(b0.flaps, tabby.history(B).join(' → ')).toBe(0);
    const gb0 = await gobgpNeighbor(gobgpB, T_B);
    expect(gb0.state).toBe('established');
    tabby.configure(peers(2));
    await tabby.waitReset(C);
    await eventually('Tabby ↔ c Established', () => tabby.peer(C)?.state === 'Established', 30_000, 100);
    expect((await gobgpC.waitEstablished(T_R)).state).toBe('established');
    const b1 = tabby.peer(B)!;
    expect(b1.state).toBe('Established');
    expect(b1.flaps, tabby.history(B).join(' → ')).toBe(b0.flaps);
    expect(b1.since).toBe(b0.since);
    const gb1 = await gobgpNeighbor(gobgpB, T_B);
    expect(gb1.state).toBe('established');
    expect(gb1.flops).toBe(gb0.flops);
    expect(gb1.upSince).toBe(gb0.upSince);
  });
});
