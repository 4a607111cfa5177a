/**
 * The speaker's sessions over real loopback TCP against a hand-driven peer and against
 * another Tabby speaker: OPEN checks, malformed UPDATEs (NOTIFICATION or RFC 7606 action on
 * the wire), the hold timer, unknown peers, collisions, and IPv6 routes over an IPv4 session.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessGroup, eventually } from '@tabby/harness';
import { Speaker, type PeerStatus } from '../../../src/index.js';
import { RawPeer } from './raw-peer.js';

const speakers: Speaker[] = [];
const raws: RawPeer[] = [];
afterEach(async () => {
  for (const r of raws.splice(0)) r.close();
  await Promise.all(speakers.splice(0).map((s) => s.stop()));
});

async function speaker(address: string, asn: number, routerId: string): Promise<Speaker> {
  const s = new Speaker({ asn, routerId, listen: [{ address, port: 0 }] });
  await s.start();
  speakers.push(s);
  return s;
}

async function established(raw: RawPeer, asn: number, bgpId: string): Promise<void> {
  raw.open(asn, bgpId);
  await eventually('the speaker OPEN', () => raw.received.some((m) => m.type === 'open'));
  raw.send({ type: 'keepalive' });
  await eventually('the speaker KEEPALIVE', () => raw.received.some((m) => m.type === 'keepalive'));
}

function waitPeer(s: Speaker, key: string, pred: (p: PeerStatus) => boolean, what: string): Promise<PeerStatus> {
  return eventually(what, () => {
    const p = s.peer(key);
    return p && pred(p) ? p : undefined;
  });
}

describe('Speaker sessions over loopback', () => {
  it('accepts a valid peer, learns its routes, and treats a malformed UPDATE as withdraw (RFC 7606)', async () => {
    const s = await speaker('127.0.0.71', 65071, '10.0.0.71');
    const key = s.addPeer({ address: '127.0.0.72', remoteAs: 65072, passive: true, holdTimeS: 9 });
    const raw = await RawPeer.dial('127.0.0.71', s.listenPort(), '127.0.0.72');
    raws.push(raw);
    await established(raw, 65072, '10.0.0.72');
    await waitPeer(s, key, (p) => p.state === 'Established', 'Established');
    raw.send({ type: 'update', withdrawn: [], nlri: ['10.72.0.0/16'], attributes: { origin: 0, asPath: [{ type: 2, asns: [65072] }], nextHop: '10.0.0.72' } });
    await eventually('the route', () => s.routes('ipv4-unicast').length === 1);
    // ORIGIN value 9 is malformed: RFC 7606 §7.1 says treat-as-withdraw, the session stays up.
    const bad = Uint8Array.from(
      Buffer.concat([
        Buffer.alloc(16, 0xff),
        Buffer.from([0, 0, 2]),
        Buffer.from([0, 0]), // withdrawn length
        Buffer.from([0, 20]), // path attribute length
        Buffer.from([0x40, 1, 1, 9]), // ORIGIN = 9
        Buffer.from([0x40, 2, 6, 2, 1, 0, 0, 0xfe, 0x10]), // AS_PATH [65040]
        Buffer.from([0x40, 3, 4, 10, 0, 0, 72]), // NEXT_HOP
        Buffer.from([16, 10, 72]), // NLRI 10.72.0.0/16
      ]),
    );
    bad.set([0, bad.length], 16);
    raw.sendRaw(bad);
    await eventually('the route to be withdrawn', () => s.routes('ipv4-unicast').length === 0);
    expect(s.peer(key)).toMatchObject({ state: 'Established' });
    expect(s.peer(key)!.counters['ipv4-unicast'].rejected).toBe(1);
    expect(raw.notifications()).toEqual([]);
  });

  it('answers an attribute list overrunning the UPDATE with NOTIFICATION 3/1 and drops the session', async () => {
    const s = await speaker('127.0.0.73', 65073, '10.0.0.73');
    const key = s.addPeer({ address: '127.0.0.74', remoteAs: 65074, passive: true });
    const raw = await RawPeer.dial('127.0.0.73', s.listenPort(), '127.0.0.74');
    raws.push(raw);
    await established(raw, 65074, '10.0.0.74');
    const bad = Uint8Array.from(Buffer.concat([Buffer.alloc(16, 0xff), Buffer.from([0, 27, 2]), Buffer.from([0, 0]), Buffer.from([0, 200]), Buffer.from([0x40, 1, 1, 0])]));
    raw.sendRaw(bad);
    await eventually('a NOTIFICATION', () => raw.notifications().length > 0);
    expect(raw.notifications()[0]).toMatchObject({ code: 3, subcode: 1 });
    await eventually('the connection to close', () => raw.closed);
    expect((await waitPeer(s, key, (p) => p.state !== 'Established', 'down')).lastError).toBe('BGP Error: UPDATE Message Error / Malformed Attribute List');
  });

  it('refuses a wrong peer AS with NOTIFICATION 2/2', async () => {
    const s = await speaker('127.0.0.75', 65075, '10.0.0.75');
    s.addPeer({ address: '127.0.0.76', remoteAs: 65076, passive: true });
    const raw = await RawPeer.dial('127.0.0.75', s.listenPort(), '127.0.0.76');
    raws.push(raw);
    raw.open(65099, '10.0.0.76');
    await eventually('a NOTIFICATION', () => raw.notifications().length > 0);
    expect(raw.notifications()[0]).toMatchObject({ code: 2, subcode: 2 });
  });

  it('refuses a connection from an address that is not a configured peer', async () => {
    const s = await speaker('127.0.0.77', 65077, '10.0.0.77');
    s.addPeer({ address: '127.0.0.78', remoteAs: 65078, passive: true });
    const raw = await RawPeer.dial('127.0.0.77', s.listenPort(), '127.0.0.79');
    raws.push(raw);
    await eventually('the connection to close', () => raw.closed);
    expect(raw.received).toEqual([]);
  });

  it('expires the hold timer of a silent peer with NOTIFICATION 4/0', async () => {
    const s = await speaker('127.0.0.80', 65080, '10.0.0.80');
    const key = s.addPeer({ address: '127.0.0.81', remoteAs: 65081, passive: true, holdTimeS: 3 });
    const raw = await RawPeer.dial('127.0.0.80', s.listenPort(), '127.0.0.81');
    raws.push(raw);
    await established(raw, 65081, '10.0.0.81');
    await waitPeer(s, key, (p) => p.state === 'Established', 'Established');
    await eventually('a NOTIFICATION', () => raw.notifications().length > 0, 8000);
    expect(raw.notifications()[0]).toMatchObject({ code: 4, subcode: 0 });
    expect(s.peer(key)!.lastError).toBe('BGP Error: Hold Timer Expired');
  });

  it('resolves a connection collision to one session and exchanges IPv6 routes over IPv4', async () => {
    const a = new Speaker({ asn: 65082, routerId: '10.0.0.82', listen: [{ address: '127.0.0.82', port: 0 }] });
    const b = new Speaker({ asn: 65083, routerId: '10.0.0.83', listen: [{ address: '127.0.0.83', port: 0 }] });
    speakers.push(a, b);
    await a.start();
    await b.start();
    // Both sides connect at once: RFC 4271 §6.8 keeps the connection opened by the higher BGP id.
    const ka = a.addPeer({ address: '127.0.0.83', port: b.listenPort(), remoteAs: 65083, localAddress: '127.0.0.82', nextHopIPv6: '2001:db8::82' });
    const kb = b.addPeer({ address: '127.0.0.82', port: a.listenPort(), remoteAs: 65082, localAddress: '127.0.0.83', nextHopIPv6: '2001:db8::83' });
    a.announce('ipv6-unicast', 'fd00:82::/48');
    b.announce('ipv4-unicast', '10.83.0.0/16');
    await waitPeer(a, ka, (p) => p.state === 'Established', 'a Established');
    await waitPeer(b, kb, (p) => p.state === 'Established', 'b Established');
    const r6 = await eventually('the IPv6 route at b', () => b.routes('ipv6-unicast').find((r) => r.prefix === 'fd00:82::/48'));
    expect(r6.best.attrs.nextHop).toBe('2001:db8::82');
    const r4 = await eventually('the IPv4 route at a', () => a.routes('ipv4-unicast').find((r) => r.prefix === '10.83.0.0/16'));
    expect(r4.best.attrs.nextHop).toBe('127.0.0.83');
    await new Promise((r) => setTimeout(r, 500));
    expect(a.peer(ka)!.state).toBe('Established');
    expect(b.peer(kb)!.flaps).toBe(0);
  });

  it('turns into a route reflector and changes peers to clients in place: no session drops, routes reflected after a refresh', async () => {
    const make = (n: number): Speaker => new Speaker({ asn: 64512, routerId: `10.0.0.${n}`, listen: [{ address: `127.0.0.${n}`, port: 0 }] });
    const rr = make(91);
    const b = make(92);
    const c = make(93);
    speakers.push(rr, b, c);
    for (const s of [rr, b, c]) await s.start();
    const peerOf = (s: Speaker, n: number, to: Speaker, extra: { rrClient?: boolean } = {}) =>
      s.addPeer({ address: `127.0.0.${n}`, port: to.listenPort(), remoteAs: 64512, localAddress: `127.0.0.${s === rr ? 91 : s === b ? 92 : 93}`, families: ['ipv4-unicast'], ...extra });
    const rb = peerOf(rr, 92, b);
    const rc = peerOf(rr, 93, c);
    peerOf(b, 91, rr);
    peerOf(c, 91, rr);
    b.announce('ipv4-unicast', '10.92.0.0/26');
    await waitPeer(rr, rb, (p) => p.state === 'Established', 'rr-b up');
    await waitPeer(rr, rc, (p) => p.state === 'Established', 'rr-c up');
    await eventually('rr learns b', () => rr.routes('ipv4-unicast').some((r) => r.prefix === '10.92.0.0/26'));
    // plain iBGP: rr must not pass b's route to c
    await new Promise((r) => setTimeout(r, 300));
    expect(c.routes('ipv4-unicast')).toEqual([]);

    rr.setClusterId('224.0.0.1');
    const cfg = (n: number, to: Speaker) => ({ address: `127.0.0.${n}`, port: to.listenPort(), remoteAs: 64512, localAddress: '127.0.0.91', families: ['ipv4-unicast' as const], rrClient: true });
    expect(rr.updatePeer(cfg(92, b))).toBe('role-changed');
    expect(rr.updatePeer(cfg(93, c))).toBe('role-changed');
    const got = await eventually('c gets b\'s route reflected', () => c.routes('ipv4-unicast').find((r) => r.prefix === '10.92.0.0/26'));
    expect(got.best.attrs.originatorId).toBe('10.0.0.92');
    expect(got.best.attrs.clusterList).toEqual(['224.0.0.1']);
    for (const key of [rb, rc]) expect(rr.peer(key)).toMatchObject({ state: 'Established', flaps: 0 });
    // a wire change (AS) still resets
    expect(rr.updatePeer({ ...cfg(93, c), remoteAs: 64513 })).toBe('reset');
  });

  it('sends the CEASE to every peer before stop() resolves, so a process that exits right after still says goodbye', async () => {
    // The speaker in its own process, which exits the moment stop() resolves (as tabby-agent does on SIGTERM).
    const dist = new URL('../../../dist/index.js', import.meta.url).href;
    const script = `
      const { Speaker } = await import(${JSON.stringify(dist)});
      const s = new Speaker({ asn: 65074, routerId: '10.0.0.74', listen: [{ address: '127.0.0.74', port: 0 }] });
      await s.start();
      s.addPeer({ address: '127.0.0.75', remoteAs: 65075, passive: true, holdTimeS: 9 });
      for (let i = 0; i < 2000; i++) s.announce('ipv4-unicast', \`10.\${i >> 8}.\${i & 255}.0/24\`, {});
      process.stdout.write(String(s.listenPort()) + '\\n');
      process.once('SIGUSR2', async () => { await s.stop(); process.exit(0); });
    `;
    const group = new ProcessGroup();
    try {
      const child = group.start('speaker-child', process.execPath, ['--input-type=module', '-e', script]);
      const port = Number((await child.waitForLine(/^\d+$/))[0]);
      const raw = await RawPeer.dial('127.0.0.74', port, '127.0.0.75');
      raws.push(raw);
      await established(raw, 65075, '10.0.0.75');
      await eventually('the table', () => raw.received.some((m) => m.type === 'update'));
      child.signal('SIGUSR2');
      expect(await child.exited()).toEqual({ code: 0, signal: null });
      const cease = await eventually('the CEASE', () => raw.notifications()[0]);
      expect(cease).toMatchObject({ code: 6, subcode: 2 });
    } finally {
      await group.stopAll();
    }
  });
});
