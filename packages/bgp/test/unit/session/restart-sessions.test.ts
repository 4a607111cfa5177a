/**
 * Graceful restart (RFC 4724) and the export filter over real loopback TCP, against a
 * hand-driven peer: the R and F bits of our OPEN, our End-of-RIB, End-of-RIB received in the
 * peer status, the helper's stale routes (kept on a TCP failure, flushed on F=0, on End-of-RIB,
 * on restart-time expiry, on removal), a restarted peer reconnecting while we still think the
 * session is up, the export filter per peer, and `Speaker.abort()` (no NOTIFICATION).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '@tabby/harness';
import { encodeEndOfRib } from '../../../src/codec/index.js';
import { Speaker, type BgpLogger, type Capability, type ExportFilter, type PeerConfig, type PeerStatus, type SpeakerConfig } from '../../../src/index.js';
import type { OpenMessage, UpdateMessage } from '../../../src/types.js';
import { RawPeer } from './raw-peer.js';

const speakers: Speaker[] = [];
const raws: RawPeer[] = [];
afterEach(async () => {
  for (const r of raws.splice(0)) r.close();
  await Promise.all(speakers.splice(0).map((s) => s.stop()));
});

const PEER_AS = 65200;

async function speaker(n: number, extra: Partial<SpeakerConfig> = {}): Promise<Speaker> {
  const s = new Speaker({ asn: 65100, routerId: `10.0.0.${n}`, listen: [{ address: `127.0.0.${n}`, port: 0 }], ...extra });
  await s.start();
  speakers.push(s);
  return s;
}

/** A passive peer at 127.0.0.n that restarts quickly after a failure. */
function peerAt(n: number, extra: Partial<PeerConfig> = {}): PeerConfig {
  return { address: `127.0.0.${n}`, remoteAs: PEER_AS, passive: true, holdTimeS: 30, idleHold: { initialMs: 50, maxMs: 100 }, ...extra };
}

function grCap(families: [afi: number, forwardingPreserved: boolean][], restartTime = 120, restarting = false): Capability {
  return { code: 64, restarting, restartTime, families: families.map(([afi, forwardingPreserved]) => ({ afi, safi: 1, forwardingPreserved })) };
}

function openOf(bgpId: string, extraCaps: Capability[]): OpenMessage {
  return {
    type: 'open',
    version: 4,
    myAs: PEER_AS,
    holdTime: 30,
    bgpId,
    capabilities: [{ code: 1, afi: 1, safi: 1 }, { code: 1, afi: 2, safi: 1 }, { code: 65, asn: PEER_AS }, ...extraCaps],
  };
}

/** Dials the speaker from 127.0.0.from and completes the OPEN exchange. */
async function connect(s: Speaker, n: number, from: number, caps: Capability[]): Promise<RawPeer> {
  const raw = await RawPeer.dial(`127.0.0.${n}`, s.listenPort(), `127.0.0.${from}`);
  raws.push(raw);
  raw.send(openOf(`10.1.0.${from}`, caps));
  await eventually('the speaker OPEN', () => raw.received.some((m) => m.type === 'open'));
  raw.send({ type: 'keepalive' });
  await eventually('the speaker KEEPALIVE', () => raw.received.some((m) => m.type === 'keepalive'));
  return raw;
}

function waitPeer(s: Speaker, key: string, pred: (p: PeerStatus) => boolean, what: string, timeoutMs?: number): Promise<PeerStatus> {
  return eventually(what, () => {
    const p = s.peer(key);
    return p && pred(p) ? p : undefined;
  }, timeoutMs);
}

function announce(raw: RawPeer, nlri: string[], from: number): void {
  raw.send({ type: 'update', withdrawn: [], nlri, attributes: { origin: 0, asPath: [{ type: 2, asns: [PEER_AS] }], nextHop: `10.1.0.${from}` } });
}

function announce6(raw: RawPeer, nlri: string[]): void {
  raw.send({ type: 'update', withdrawn: [], nlri: [], attributes: { origin: 0, asPath: [{ type: 2, asns: [PEER_AS] }] }, mpReach: { afi: 2, safi: 1, nextHops: ['2001:db8::1'], nlri } });
}

function prefixes(s: Speaker, family: 'ipv4-unicast' | 'ipv6-unicast' = 'ipv4-unicast'): string[] {
  return s.routes(family).map((r) => r.prefix).sort();
}

function updates(raw: RawPeer): UpdateMessage[] {
  return raw.received.filter((m): m is UpdateMessage => m.type === 'update');
}

function isEor(u: UpdateMessage): boolean {
  return u.withdrawn.length === 0 && u.nlri.length === 0 && !u.attributes && !u.mpReach && (!u.mpUnreach || u.mpUnreach.withdrawn.length === 0);
}

/** The IPv4 prefixes the raw peer holds from the speaker, replaying what it received. */
function heldBy(raw: RawPeer): string[] {
  const held = new Set<string>();
  for (const u of updates(raw)) {
    for (const p of u.withdrawn) held.delete(p);
    for (const p of u.nlri) held.add(p);
  }
  return [...held].sort();
}

function gracefulRestartSent(raw: RawPeer): Extract<Capability, { code: 64 }> | undefined {
  const open = raw.received.find((m): m is OpenMessage => m.type === 'open');
  return open?.capabilities.find((c): c is Extract<Capability, { code: 64 }> => c.code === 64);
}

/** Closes the raw peer's TCP connection without a NOTIFICATION and waits for the speaker to notice. */
async function crash(s: Speaker, key: string, raw: RawPeer): Promise<void> {
  raw.close();
  await waitPeer(s, key, (p) => p.state !== 'Established', 'the session down');
}

describe('graceful restart, our side (RFC 4724 §3, §4.1)', () => {
  it('sends R=0, F=0 by default, and our End-of-RIB after the initial table', async () => {
    const s = await speaker(101);
    s.announce('ipv4-unicast', '10.101.0.0/24');
    s.addPeer(peerAt(102, { nextHopIPv6: '2001:db8::101' }));
    const raw = await connect(s, 101, 102, []);
    const cap = gracefulRestartSent(raw);
    expect(cap).toMatchObject({ restarting: false, restartTime: 120 });
    expect(cap?.families.map((f) => f.forwardingPreserved)).toEqual([false, false]);
    await eventually('two End-of-RIBs', () => updates(raw).filter(isEor).length === 2);
    const ups = updates(raw);
    const firstEor = ups.findIndex(isEor);
    expect(ups.findIndex((u) => u.nlri.includes('10.101.0.0/24'))).toBeLessThan(firstEor);
    expect(ups.filter(isEor).map((u) => u.mpUnreach?.afi ?? 1).sort()).toEqual([1, 2]);
  });

  it('restarting with forwarding preserved: R=1 and F=1 until restartComplete(), then R=0 and F=1', async () => {
    const s = await speaker(103, { gracefulRestart: { restarting: true, forwardingPreserved: true } });
    const key = s.addPeer(peerAt(104, { gracefulRestartTimeS: 300 }));
    expect(s.restarting).toBe(true);
    const raw = await connect(s, 103, 104, []);
    const cap = gracefulRestartSent(raw);
    expect(cap).toMatchObject({ code: 64, restarting: true, restartTime: 300 });
    expect(cap?.families).toEqual([
      { afi: 1, safi: 1, forwardingPreserved: true },
      { afi: 2, safi: 1, forwardingPreserved: true },
    ]);
    // Still restarting: the End-of-RIB goes out anyway (with an empty table).
    await eventually('End-of-RIB', () => updates(raw).filter(isEor).length === 2);

    s.restartComplete();
    s.restartComplete(); // idempotent
    expect(s.restarting).toBe(false);
    await crash(s, key, raw);
    await waitPeer(s, key, (p) => p.state === 'Active', 'Active again');
    const again = await connect(s, 103, 104, []);
    expect(gracefulRestartSent(again)).toMatchObject({ restarting: false, restartTime: 300 });
    expect(gracefulRestartSent(again)?.families.every((f) => f.forwardingPreserved)).toBe(true);
  });

  it('sends no capability with gracefulRestartTimeS 0, even while restarting', async () => {
    const s = await speaker(105, { gracefulRestart: { restarting: true, forwardingPreserved: true } });
    s.addPeer(peerAt(106, { gracefulRestartTimeS: 0 }));
    const raw = await connect(s, 105, 106, []);
    expect(gracefulRestartSent(raw)).toBeUndefined();
  });

  it('abort() closes the connections without a NOTIFICATION and frees the listen port', async () => {
    const s = await speaker(107);
    s.addPeer(peerAt(108));
    const raw = await connect(s, 107, 108, []);
    const port = s.listenPort();
    await s.abort();
    await eventually('the connection closed', () => raw.closed);
    expect(raw.notifications()).toEqual([]);
    const again = new Speaker({ asn: 65100, routerId: '10.0.0.107', listen: [{ address: '127.0.0.107', port }] });
    await again.start();
    speakers.push(again);
    expect(again.listenPort()).toBe(port);
  });
});

describe('End-of-RIB received (peer status)', () => {
  it('lists the families whose End-of-RIB arrived, emits a status change for each, and clears them when the session goes down', async () => {
    const s = await speaker(111);
    const key = s.addPeer(peerAt(112));
    const seen: (readonly string[])[] = [];
    s.onPeerStatus((st) => {
      if (st.key === key) seen.push(st.endOfRibReceived);
    });
    const raw = await connect(s, 111, 112, [grCap([[1, false], [2, false]])]);
    await waitPeer(s, key, (p) => p.state === 'Established', 'Established');
    expect(s.peer(key)?.endOfRibReceived).toEqual([]);
    announce(raw, ['10.112.0.0/24'], 112);
    raw.sendRaw(encodeEndOfRib(1));
    await waitPeer(s, key, (p) => p.endOfRibReceived.length === 1, 'the IPv4 End-of-RIB');
    expect(s.peer(key)?.endOfRibReceived).toEqual(['ipv4-unicast']);
    expect(prefixes(s)).toEqual(['10.112.0.0/24']);
    raw.sendRaw(encodeEndOfRib(2));
    await waitPeer(s, key, (p) => p.endOfRibReceived.length === 2, 'the IPv6 End-of-RIB');
    expect(s.peer(key)?.endOfRibReceived).toEqual(['ipv4-unicast', 'ipv6-unicast']);
    expect(seen).toContainEqual(['ipv4-unicast']);
    expect(seen).toContainEqual(['ipv4-unicast', 'ipv6-unicast']);
    // A repeated End-of-RIB changes nothing.
    const before = seen.length;
    raw.sendRaw(encodeEndOfRib(1));
    await new Promise((r) => setTimeout(r, 100));
    expect(seen.length).toBe(before);
    await crash(s, key, raw);
    expect(s.peer(key)?.endOfRibReceived).toEqual([]);
  });
});

describe('graceful restart helper (RFC 4724 §4.2)', () => {
  /** A session with GR (both families, F=1) that learned two IPv4 routes, then failed: routes stale. */
  async function restartingPeer(n: number, opts: { restartTime?: number } = {}): Promise<{ s: Speaker; key: string }> {
    const s = await speaker(n);
    const key = s.addPeer(peerAt(n + 1));
    const raw = await connect(s, n, n + 1, [grCap([[1, true], [2, true]], opts.restartTime ?? 120)]);
    announce(raw, ['10.1.0.0/24', '10.2.0.0/24'], n + 1);
    await eventually('two routes', () => prefixes(s).length === 2);
    await crash(s, key, raw);
    expect(s.peer(key)?.staleRoutes).toBe(2);
    expect(prefixes(s)).toEqual(['10.1.0.0/24', '10.2.0.0/24']);
    await waitPeer(s, key, (p) => p.state === 'Active', 'Active again');
    return { s, key };
  }

  it.each<[string, Capability[]]>([
    ['no Graceful Restart capability', []],
    ['the family not listed', [grCap([[2, true]])]],
    ['F=0 for the family', [grCap([[1, false], [2, true]])]],
  ])('drops the stale routes at once when the new OPEN has %s (no End-of-RIB needed)', async (_name, caps) => {
    const { s, key } = await restartingPeer(121);
    await connect(s, 121, 122, caps);
    await waitPeer(s, key, (p) => p.state === 'Established', 'Established again');
    await eventually('the stale routes gone', () => prefixes(s).length === 0, 2000);
    expect(s.peer(key)?.staleRoutes).toBe(0);
    // What a restarting agent reads to know whether to wait for this peer's End-of-RIB.
    expect(s.peer(key)?.peerGracefulRestart).toBe(caps.length > 0);
  });

  it('keeps the stale routes with F=1 until End-of-RIB, then drops those not refreshed', async () => {
    const { s, key } = await restartingPeer(123);
    const raw = await connect(s, 123, 124, [grCap([[1, true], [2, true]], 120, true)]);
    await waitPeer(s, key, (p) => p.state === 'Established', 'Established again');
    await new Promise((r) => setTimeout(r, 200));
    expect(prefixes(s)).toEqual(['10.1.0.0/24', '10.2.0.0/24']);
    expect(s.peer(key)?.staleRoutes).toBe(2);
    announce(raw, ['10.1.0.0/24'], 124);
    await waitPeer(s, key, (p) => p.staleRoutes === 1, 'one route refreshed');
    raw.sendRaw(encodeEndOfRib(1));
    await eventually('the unrefreshed route gone', () => prefixes(s).length === 1);
    expect(prefixes(s)).toEqual(['10.1.0.0/24']);
    expect(s.peer(key)).toMatchObject({ staleRoutes: 0, endOfRibReceived: ['ipv4-unicast'], peerGracefulRestart: true });
  });

  it('deletes routes still stale from a previous restart when the peer fails again before its End-of-RIB', async () => {
    const { s, key } = await restartingPeer(125);
    const raw = await connect(s, 125, 126, [grCap([[1, true], [2, true]])]);
    announce(raw, ['10.1.0.0/24'], 126);
    await waitPeer(s, key, (p) => p.staleRoutes === 1, 'one route refreshed');
    await crash(s, key, raw);
    expect(prefixes(s)).toEqual(['10.1.0.0/24']);
    expect(s.peer(key)?.staleRoutes).toBe(1);
  });

  it('keeps only the families listed in the capability of the session that failed', async () => {
    const s = await speaker(127);
    const key = s.addPeer(peerAt(128));
    const raw = await connect(s, 127, 128, [grCap([[1, true]])]);
    announce(raw, ['10.1.0.0/24'], 128);
    announce6(raw, ['fd00:128::/48']);
    await eventually('both routes', () => prefixes(s).length === 1 && prefixes(s, 'ipv6-unicast').length === 1);
    await crash(s, key, raw);
    expect(prefixes(s)).toEqual(['10.1.0.0/24']);
    expect(prefixes(s, 'ipv6-unicast')).toEqual([]);
    expect(s.peer(key)?.staleRoutes).toBe(1);
  });

  it('drops the stale routes when the restart time ends before the peer is back', async () => {
    const { s, key } = await restartingPeer(129, { restartTime: 1 });
    await eventually('the stale routes gone', () => prefixes(s).length === 0, 3000);
    expect(s.peer(key)?.staleRoutes).toBe(0);
  });

  it('drops the stale routes when the peer is removed from the configuration', async () => {
    const { s, key } = await restartingPeer(131);
    expect(s.removePeer(key)).toBe(true);
    expect(prefixes(s)).toEqual([]);
  });

  it('a restarted peer connecting again while the session looks Established replaces it, routes kept stale', async () => {
    const s = await speaker(133);
    const key = s.addPeer(peerAt(134));
    const old = await connect(s, 133, 134, [grCap([[1, true], [2, true]])]);
    announce(old, ['10.1.0.0/24', '10.2.0.0/24'], 134);
    await eventually('two routes', () => prefixes(s).length === 2);
    // The old connection stays open on our side: the peer "rebooted" without a FIN.
    const fresh = await connect(s, 133, 134, [grCap([[1, true], [2, true]], 120, true)]);
    await eventually('the old connection closed', () => old.closed);
    expect(old.notifications()).toEqual([]);
    await waitPeer(s, key, (p) => p.state === 'Established' && p.staleRoutes === 2, 'Established on the new connection, routes stale');
    expect(prefixes(s)).toEqual(['10.1.0.0/24', '10.2.0.0/24']);
    announce(fresh, ['10.2.0.0/24'], 134);
    fresh.sendRaw(encodeEndOfRib(1));
    await eventually('the unrefreshed route gone', () => prefixes(s).length === 1);
    expect(prefixes(s)).toEqual(['10.2.0.0/24']);
    expect(s.peer(key)?.flaps).toBe(1);
  });

  it('without the capability, a second connection while Established is refused and the session stays', async () => {
    const s = await speaker(135);
    const key = s.addPeer(peerAt(136));
    const first = await connect(s, 135, 136, []);
    const second = await RawPeer.dial('127.0.0.135', s.listenPort(), '127.0.0.136');
    raws.push(second);
    await eventually('the second connection refused', () => second.closed);
    expect(first.closed).toBe(false);
    expect(s.peer(key)).toMatchObject({ state: 'Established', flaps: 0 });
  });
});

describe('export filter through the speaker', () => {
  it('withdraws what it rejects from that peer only, re-announces on accept, and survives a throwing filter', async () => {
    const errors: string[] = [];
    const logger: BgpLogger = {
      debug: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: (_o, msg) => errors.push(msg ?? ''),
      child: () => logger,
    };
    const s = await speaker(141, { logger });
    const ka = s.addPeer(peerAt(142, { families: ['ipv4-unicast'] }));
    const kb = s.addPeer(peerAt(143, { families: ['ipv4-unicast'] }));
    const all = ['10.141.0.0/24', '10.141.1.0/24', '10.141.2.0/24'];
    for (const p of all) s.announce('ipv4-unicast', p);
    const a = await connect(s, 141, 142, []);
    const b = await connect(s, 141, 143, []);
    await eventually('both peers have the table', () => heldBy(a).length === 3 && heldBy(b).length === 3);

    let hidden = '10.141.1.0/24';
    let broken = false;
    const kinds = new Set<string>();
    const filter: ExportFilter = (_family, prefix, path, toPeer) => {
      kinds.add(path.source.kind);
      if (broken && toPeer === kb) throw new Error('filter bug');
      return !(toPeer === ka && prefix === hidden);
    };
    const bUpdates = updates(b).length;
    s.setExportFilter(filter);
    await eventually('a loses the hidden prefix', () => heldBy(a).length === 2);
    expect(heldBy(a)).toEqual(['10.141.0.0/24', '10.141.2.0/24']);
    await new Promise((r) => setTimeout(r, 100));
    expect(updates(b).length).toBe(bUpdates); // b was sent nothing
    expect([...kinds]).toEqual(['local']);
    expect(s.advertised(ka, 'ipv4-unicast').map(([p]) => p).sort()).toEqual(['10.141.0.0/24', '10.141.2.0/24']);

    // The filter's inputs change: re-evaluate with the same function.
    hidden = '10.141.2.0/24';
    const aUpdates = updates(a).length;
    s.reexportAll();
    await eventually('a gets 10.141.1.0/24 back and loses 10.141.2.0/24', () => heldBy(a).join() === '10.141.0.0/24,10.141.1.0/24');
    expect(updates(a).length - aUpdates).toBe(2); // one announcement, one withdrawal: differences only
    s.setExportFilter(filter);
    await new Promise((r) => setTimeout(r, 100));
    expect(updates(a).length - aUpdates).toBe(2);

    // New routes go through the filter too.
    s.announce('ipv4-unicast', '10.141.3.0/24');
    await eventually('the new route at both', () => heldBy(a).includes('10.141.3.0/24') && heldBy(b).includes('10.141.3.0/24'));

    broken = true;
    s.reexportAll();
    await eventually('b loses everything', () => heldBy(b).length === 0);
    expect(errors).toContain('export filter threw: prefixes not announced to this peer');
    expect(s.peer(kb)).toMatchObject({ state: 'Established' });
    expect(b.notifications()).toEqual([]);
    expect(heldBy(a)).toEqual(['10.141.0.0/24', '10.141.1.0/24', '10.141.3.0/24']);

    broken = false;
    s.setExportFilter(undefined);
    await eventually('everything back', () => heldBy(a).length === 4 && heldBy(b).length === 4);
  });

  it('applies the configured filter to the initial table of a session', async () => {
    const s = await speaker(145, { exportFilter: (_f, prefix) => prefix !== '10.145.1.0/24' });
    s.addPeer(peerAt(146, { families: ['ipv4-unicast'] }));
    s.announce('ipv4-unicast', '10.145.0.0/24');
    s.announce('ipv4-unicast', '10.145.1.0/24');
    const raw = await connect(s, 145, 146, []);
    await eventually('End-of-RIB', () => updates(raw).some(isEor));
    expect(heldBy(raw)).toEqual(['10.145.0.0/24']);
  });
});
