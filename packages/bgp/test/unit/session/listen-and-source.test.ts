/**
 * Connections, over real loopback TCP: `localAddress: null` leaves the source to the kernel
 * (BGPPeer sourceAddress: None); `setListen` moves the listening sockets (BGPConfiguration
 * bindMode) without touching the sessions already up; a collision is decided at the first
 * OPEN, so both ends keep the same connection.
 */
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '@tabby/harness';
import { Speaker, isSpeakerConfigError } from '../../../src/index.js';
import { RawPeer } from './raw-peer.js';

const speakers: Speaker[] = [];
const raws: RawPeer[] = [];
afterEach(async () => {
  for (const r of raws.splice(0)) r.close();
  await Promise.all(speakers.splice(0).map((s) => s.stop()));
});

const FAST = { holdTimeS: 9, connectRetryTimeMs: 200, idleHold: { initialMs: 50, maxMs: 200 } };

async function speaker(address: string, asn: number, port = 0): Promise<Speaker> {
  const s = new Speaker({ asn, routerId: `10.0.0.${asn % 250}`, listen: [{ address, port }] });
  await s.start();
  speakers.push(s);
  return s;
}

/** The source address the kernel picks for a connection to `address` that binds nothing. */
async function kernelSource(address: string): Promise<string> {
  const server = createServer();
  server.listen(0, address);
  await once(server, 'listening');
  const accepted = once(server, 'connection');
  const client = connect({ host: address, port: (server.address() as AddressInfo).port });
  const [sock] = (await accepted) as [Socket];
  const source = sock.remoteAddress ?? '';
  sock.destroy();
  client.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  return source.replace(/^::ffff:/, '');
}

/** Whether a TCP connection to address:port is accepted. */
async function accepts(address: string, port: number): Promise<boolean> {
  const c = connect({ host: address, port });
  try {
    await Promise.race([once(c, 'connect'), once(c, 'error').then(([e]) => Promise.reject(e as Error))]);
    return true;
  } catch {
    return false;
  } finally {
    c.destroy();
  }
}

describe('source address', () => {
  it('localAddress null dials without binding: the peer sees the address the kernel picks, not the listen address', async () => {
    const source = await kernelSource('127.0.0.92');
    expect(source).not.toBe('127.0.0.91');
    const b = await speaker('127.0.0.92', 65092);
    // B knows A only by the kernel's choice of source address.
    const bKey = b.addPeer({ address: source, remoteAs: 65091, passive: true, ...FAST });
    const a = await speaker('127.0.0.91', 65091);
    const aKey = a.addPeer({ address: '127.0.0.92', port: b.listenPort(), remoteAs: 65092, localAddress: null, ...FAST });
    await eventually('A Established without a bind', () => a.peer(aKey)?.state === 'Established');
    expect(b.peer(bKey)?.state).toBe('Established');
  });

  it('by default dials from the listen address, so the same peer never comes up', async () => {
    const source = await kernelSource('127.0.0.94');
    const b = await speaker('127.0.0.94', 65094);
    b.addPeer({ address: source, remoteAs: 65093, passive: true, ...FAST });
    const a = await speaker('127.0.0.93', 65093);
    const aKey = a.addPeer({ address: '127.0.0.94', port: b.listenPort(), remoteAs: 65094, ...FAST });
    // B refuses the connection from 127.0.0.93 (not a configured peer): A keeps failing.
    await eventually('A to fail', () => (a.peer(aKey)?.lastError ?? '') !== '' && a.peer(aKey)?.state !== 'Established');
    expect(a.peer(aKey)?.state).not.toBe('Established');
  });

  it('refuses a localAddress that is not an IP address', async () => {
    const a = await speaker('127.0.0.95', 65095);
    let err: unknown;
    try {
      a.addPeer({ address: '127.0.0.96', remoteAs: 65096, localAddress: 'node1' });
    } catch (e) {
      err = e;
    }
    expect(isSpeakerConfigError(err) && err.message).toBe('peer 127.0.0.96: localAddress must be an IP address or null, got "node1"');
  });
});

describe('setListen', () => {
  it('moves the listening socket to another address without resetting an established session', async () => {
    const s = await speaker('127.0.0.97', 65097);
    const port = s.listenPort();
    const sKey = s.addPeer({ address: '127.0.0.98', remoteAs: 65098, passive: true, ...FAST });
    const c = await speaker('127.0.0.98', 65098);
    const cKey = c.addPeer({ address: '127.0.0.97', port, remoteAs: 65097, ...FAST });
    await eventually('Established', () => s.peer(sKey)?.state === 'Established' && c.peer(cKey)?.state === 'Established');

    await s.setListen([{ address: '127.0.0.99', port }]);
    expect(s.listenAddresses()).toEqual([{ address: '127.0.0.99', port }]);
    expect(await accepts('127.0.0.97', port)).toBe(false);
    expect(await accepts('127.0.0.99', port)).toBe(true);
    expect(s.peer(sKey)).toMatchObject({ state: 'Established', flaps: 0 });
    expect(s.listenPort()).toBe(port);
  });

  it('keeps the old sockets when a new address cannot be opened, and says which', async () => {
    const s = await speaker('127.0.0.100', 65100);
    const port = s.listenPort();
    // 198.18.255.254 is on no interface of this namespace: EADDRNOTAVAIL.
    await expect(s.setListen([{ address: '127.0.0.100', port }, { address: '198.18.255.254', port }])).rejects.toThrow(
      new RegExp(`^cannot listen on 198\\.18\\.255\\.254:${port}: listen EADDRNOTAVAIL`),
    );
    // As given (port 0: any free port), unchanged.
    expect(s.listenAddresses()).toEqual([{ address: '127.0.0.100', port: 0 }]);
    expect(await accepts('127.0.0.100', port)).toBe(true);
    await expect(s.setListen([{ address: 'any', port }])).rejects.toThrow('listen address must be an IP address, got "any"');
  });
});

describe('connection collisions decided at the first OPEN (RFC 4271 §6.8)', () => {
  /**
   * The speaker dials the peer (outbound) and the peer dials the speaker (inbound); both get
   * the speaker's OPEN. The peer answers on the speaker's connection first. Its identifier
   * decides at once which connection stays: the one opened by the higher identifier, so the
   * speaker agrees with a peer that resolves the same way instead of both closing both.
   */
  async function collide(peerId: string): Promise<{ s: Speaker; key: string; outbound: RawPeer; inbound: RawPeer }> {
    const raw = await RawPeer.listen('127.0.0.102');
    const s = new Speaker({ asn: 65101, routerId: '10.0.0.101', listen: [{ address: '127.0.0.101', port: 0 }] });
    speakers.push(s);
    await s.start();
    const key = s.addPeer({ address: '127.0.0.102', port: raw.port, remoteAs: 65102, ...FAST });
    const outbound = await raw.accepted;
    raw.server.close();
    raws.push(outbound);
    const inbound = await RawPeer.dial('127.0.0.101', s.listenPort(), '127.0.0.102');
    raws.push(inbound);
    await eventually('our OPEN on both connections', () => outbound.received.some((m) => m.type === 'open') && inbound.received.some((m) => m.type === 'open'));
    outbound.open(65102, peerId);
    return { s, key, outbound, inbound };
  }

  it('a peer with the higher identifier keeps the connection it opened: ours is closed with Cease 6/7 before it is used', async () => {
    const { s, key, outbound, inbound } = await collide('10.0.0.200');
    await eventually('Cease/Connection Collision Resolution on our connection', () => outbound.notifications()[0]);
    expect(outbound.notifications()[0]).toMatchObject({ code: 6, subcode: 7 });
    inbound.open(65102, '10.0.0.200');
    inbound.send({ type: 'keepalive' });
    await eventually('Established on the peer’s connection', () => s.peer(key)?.state === 'Established');
    expect(inbound.notifications()).toEqual([]);
    expect(s.peer(key)?.flaps).toBe(0);
  });

  it('a peer with the lower identifier: its connection is closed, ours goes on', async () => {
    const { s, key, outbound, inbound } = await collide('10.0.0.50');
    await eventually('Cease/Connection Collision Resolution on the peer’s connection', () => inbound.notifications()[0]);
    expect(inbound.notifications()[0]).toMatchObject({ code: 6, subcode: 7 });
    outbound.send({ type: 'keepalive' });
    await eventually('Established on our connection', () => s.peer(key)?.state === 'Established');
    expect(outbound.notifications()).toEqual([]);
    expect(s.peer(key)?.flaps).toBe(0);
  });
});
