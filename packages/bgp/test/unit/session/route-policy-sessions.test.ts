/**
 * Import and export rules on a live session against a hand-driven peer (127.0.0.145/146):
 * rejected routes kept aside and counted as filtered, an accepted route re-announced into a
 * rejected one leaves the RIB, withdrawals of filtered routes, a rule change applied in place
 * (no NOTIFICATION, no ROUTE-REFRESH sent), invalid rules refused, large communities and the
 * interface of originated routes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '@tabby/harness';
import { Speaker, isSpeakerConfigError, type PathAttributes, type PeerConfig, type UpdateMessage } from '../../../src/index.js';
import { RawPeer } from './raw-peer.js';

const speakers: Speaker[] = [];
const raws: RawPeer[] = [];
afterEach(async () => {
  for (const r of raws.splice(0)) r.close();
  await Promise.all(speakers.splice(0).map((s) => s.stop()));
});

const attrs: PathAttributes = { origin: 0, asPath: [{ type: 2, asns: [65146] }], nextHop: '10.0.0.146', largeCommunities: [[65146, 1, 2]] };

async function setup(cfg: Partial<PeerConfig>): Promise<{ s: Speaker; raw: RawPeer; key: string; peer: PeerConfig }> {
  const s = new Speaker({ asn: 65145, routerId: '10.0.0.145', listen: [{ address: '127.0.0.145', port: 0 }] });
  await s.start();
  speakers.push(s);
  const peer: PeerConfig = { address: '127.0.0.146', remoteAs: 65146, passive: true, holdTimeS: 9, nextHopIPv4: '10.0.0.145', ...cfg };
  const key = s.addPeer(peer);
  const raw = await RawPeer.dial('127.0.0.145', s.listenPort(), '127.0.0.146');
  raws.push(raw);
  raw.open(65146, '10.0.0.146');
  await eventually('the speaker OPEN', () => raw.received.some((m) => m.type === 'open'));
  raw.send({ type: 'keepalive' });
  await eventually('Established', () => s.peer(key)?.state === 'Established');
  return { s, raw, key, peer };
}

const prefixes = (s: Speaker): string[] => s.routes('ipv4-unicast').map((r) => r.prefix).sort();

/** Prefixes announced to the raw peer and not withdrawn since. */
function announcedTo(raw: RawPeer): string[] {
  const now = new Set<string>();
  for (const m of raw.received) {
    if (m.type !== 'update') continue;
    for (const p of m.withdrawn) now.delete(p);
    for (const p of m.nlri) now.add(p);
  }
  return [...now].sort();
}

describe('route policy on a live session', () => {
  it('import rules: rejected routes are filtered, re-evaluated in place when the rules change', async () => {
    const { s, raw, key, peer } = await setup({ importPolicy: { v4: [{ action: 'reject', cidr: '10.146.1.0/24', matchOperator: 'Equal' }] } });
    raw.send({ type: 'update', withdrawn: [], nlri: ['10.146.0.0/24', '10.146.1.0/24', '10.146.2.0/24'], attributes: attrs });
    await eventually('two accepted routes', () => prefixes(s).length === 2);
    expect(prefixes(s)).toEqual(['10.146.0.0/24', '10.146.2.0/24']);
    expect(s.peer(key)!.counters['ipv4-unicast']).toMatchObject({ received: 2, filtered: 1 });
    expect(s.filtered(key, 'ipv4-unicast')).toEqual([['10.146.1.0/24', attrs]]);
    expect(s.routes('ipv4-unicast')[0].best.attrs.largeCommunities).toEqual([[65146, 1, 2]]);

    // The rules change: 10.146.1.0/24 comes in from the routes kept aside, 10.146.2.0/24 leaves the RIB.
    const sentBefore = raw.received.length;
    expect(s.updatePeer({ ...peer, importPolicy: { v4: [{ action: 'reject', cidr: '10.146.2.0/24', matchOperator: 'Equal' }] } })).toBe('role-changed');
    await eventually('the rules applied', () => prefixes(s).join() === '10.146.0.0/24,10.146.1.0/24');
    expect(s.filtered(key, 'ipv4-unicast').map(([p]) => p)).toEqual(['10.146.2.0/24']);
    expect(s.peer(key)).toMatchObject({ state: 'Established', flaps: 0 });
    await new Promise((r) => setTimeout(r, 100));
    expect(raw.received.slice(sentBefore).filter((m) => m.type === 'route-refresh' || m.type === 'notification')).toEqual([]);

    // Both /24s of 10.146.0.0/23 are rejected (one from the RIB, one already aside); 10.146.2.0/24 comes in.
    expect(s.updatePeer({ ...peer, importPolicy: { v4: [{ action: 'reject', cidr: '10.146.0.0/23', matchOperator: 'In' }] } })).toBe('role-changed');
    await eventually('both /24s of 10.146.0.0/23 filtered', () => prefixes(s).join() === '10.146.2.0/24' && s.filtered(key, 'ipv4-unicast').length === 2);
    // A withdrawal of a filtered route forgets it.
    raw.send({ type: 'update', withdrawn: ['10.146.1.0/24'], nlri: [] });
    await eventually('the filtered route withdrawn', () => s.peer(key)!.counters['ipv4-unicast'].filtered === 1);
    // No rules: everything kept aside comes in.
    expect(s.updatePeer({ ...peer, importPolicy: undefined })).toBe('role-changed');
    await eventually('all in', () => prefixes(s).join() === '10.146.0.0/24,10.146.2.0/24');
    expect(s.peer(key)!.counters['ipv4-unicast']).toMatchObject({ received: 2, filtered: 0 });
  });

  it('a route the rules now reject, sent again, replaces the accepted one and leaves the RIB', async () => {
    const { s, raw, key, peer } = await setup({});
    raw.send({ type: 'update', withdrawn: [], nlri: ['10.146.0.0/24'], attributes: attrs });
    await eventually('accepted', () => prefixes(s).length === 1);
    // A rule set without re-evaluation would miss nothing here: updatePeer re-evaluates at once.
    s.updatePeer({ ...peer, importPolicy: { v4: [{ action: 'reject', source: 'RemotePeers' }] } });
    await eventually('gone', () => prefixes(s).length === 0);
    raw.send({ type: 'update', withdrawn: [], nlri: ['10.146.0.0/24'], attributes: { ...attrs, med: 5 } });
    await eventually('the new attributes kept aside', () => s.filtered(key, 'ipv4-unicast')[0]?.[1].med === 5);
    expect(prefixes(s)).toEqual([]);
  });

  it('export rules: reject, accept and the interface of originated routes; a change sends only differences', async () => {
    const { s, raw, peer } = await setup({ exportPolicy: { v4: [{ action: 'reject', interface: 'vxlan.*' }] } });
    s.announce('ipv4-unicast', '10.145.0.0/24', { interface: 'eth0', largeCommunities: [[65145, 7, 7]] });
    s.announce('ipv4-unicast', '10.145.1.0/24', { interface: 'vxlan.calico' });
    await eventually('one route announced', () => announcedTo(raw).join() === '10.145.0.0/24');
    const u = raw.received.find((m): m is UpdateMessage => m.type === 'update' && m.nlri.includes('10.145.0.0/24'));
    expect(u?.attributes?.largeCommunities).toEqual([[65145, 7, 7]]);
    // The interface of an originated route changes: the rules see it.
    s.announce('ipv4-unicast', '10.145.1.0/24', { interface: 'eth1' });
    await eventually('both announced', () => announcedTo(raw).join() === '10.145.0.0/24,10.145.1.0/24');
    s.updatePeer({ ...peer, exportPolicy: { v4: [{ action: 'reject', cidr: '10.145.0.0/24', matchOperator: 'NotEqual' }] } });
    await eventually('only 10.145.0.0/24', () => announcedTo(raw).join() === '10.145.0.0/24');
    expect(s.peer('127.0.0.146')).toMatchObject({ state: 'Established', flaps: 0 });
  });

  it('refuses invalid rules with the field that is wrong', () => {
    const s = new Speaker({ asn: 65145, routerId: '10.0.0.145', listen: [] });
    let err: unknown;
    try {
      s.addPeer({ address: '127.0.0.146', remoteAs: 65146, exportPolicy: { v6: [{ action: 'accept', cidr: '10.0.0.0/8', matchOperator: 'In' }] } });
    } catch (e) {
      err = e;
    }
    expect(isSpeakerConfigError(err)).toBe(true);
    expect((err as Error).message).toBe('peer 127.0.0.146: exportPolicy.v6[0].cidr: "10.0.0.0/8" is not an IPv6 CIDR');
    expect(() => s.announce('ipv4-unicast', '10.0.0.0/8', { largeCommunities: [[1, 2, 2 ** 32]] })).toThrow(/large community part must be an integer/);
  });
});
