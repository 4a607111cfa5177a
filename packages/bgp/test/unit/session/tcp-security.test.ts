/**
 * TCP MD5 (RFC 2385) and GTSM (RFC 5082) in the speaker: the `tcp_md5sig` layout, config
 * validation, two Tabby speakers over loopback with right / wrong / missing keys, re-keying one
 * session while another keeps running, a speaker whose FFI cannot load (the peer stays down,
 * never unauthenticated), and the secret never reaching logs, status or error messages.
 */
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, freePort } from '@tabby/harness';
import { Speaker, SpeakerConfigError, TcpSecurityError, type BgpLogger, type PeerConfig, type PeerStatus } from '../../../src/index.js';
import { configEqual } from '../../../src/session/config-equal.js';
import { gtsmMinTtl, md5sig } from '../../../src/session/tcp-security.js';

const FAST = { holdTimeS: 9, keepaliveTimeS: 3, connectRetryTimeMs: 1000, idleHold: { initialMs: 300, maxMs: 1000 } } as const;
const SECRET = 'tabby-md5-s3cr3t-value';

const speakers: Speaker[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(speakers.splice(0).map((s) => s.stop()));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A logger that keeps every line as JSON text (as pino would write it). */
function captureLogger(lines: string[], bindings: Record<string, unknown> = {}): BgpLogger {
  const write = (level: string) => (obj: object, msg?: string) => {
    lines.push(JSON.stringify({ level, ...bindings, ...obj, msg }, (_k, v: unknown) => (v instanceof Error ? { message: v.message, stack: v.stack } : v)));
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error'), child: (b) => captureLogger(lines, { ...bindings, ...b }) };
}

interface Node {
  readonly speaker: Speaker;
  readonly address: string;
  readonly port: number;
  readonly asn: number;
}

async function node(address: string, asn: number, opts: { logger?: BgpLogger; tcpSecurity?: () => never } = {}): Promise<Node> {
  const port = await freePort(address);
  const speaker = new Speaker({ asn, routerId: `10.13.${asn % 256}.1`, listen: [{ address, port }], logger: opts.logger, tcpSecurity: opts.tcpSecurity });
  await speaker.start();
  speakers.push(speaker);
  return { speaker, address, port, asn };
}

function peer(self: Node, remote: Node, extra: Partial<PeerConfig> = {}): PeerConfig {
  return { address: remote.address, port: remote.port, remoteAs: remote.asn, localAddress: self.address, ...FAST, ...extra };
}

function waitPeer(s: Speaker, key: string, pred: (p: PeerStatus) => boolean, what: string, timeoutMs = 15_000): Promise<PeerStatus> {
  return eventually(what, () => {
    const p = s.peer(key);
    return p && pred(p) ? p : undefined;
  }, timeoutMs, 50);
}

/** Watches a peer for `ms` and fails if it ever reaches Established. */
async function staysDown(s: Speaker, key: string, ms: number): Promise<PeerStatus> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    expect(s.peer(key)?.state).not.toBe('Established');
    await new Promise((r) => setTimeout(r, 100));
  }
  return s.peer(key)!;
}

describe('struct tcp_md5sig', () => {
  it('lays out sockaddr_storage, keylen and key as Linux reads them (216 bytes)', () => {
    const b = md5sig('127.0.13.2', 'abc');
    expect(b.length).toBe(216);
    expect(b.readUInt16LE(0)).toBe(2); // AF_INET
    expect(b.readUInt16BE(2)).toBe(0); // port 0
    expect([...b.subarray(4, 8)]).toEqual([127, 0, 13, 2]);
    expect(b[128]).toBe(0); // flags
    expect(b[129]).toBe(0); // prefixlen
    expect(b.readUInt16LE(130)).toBe(3);
    expect(b.readUInt32LE(132)).toBe(0); // ifindex
    expect(b.subarray(136, 139).toString()).toBe('abc');
    const v6 = md5sig('2001:db8::1:2', undefined);
    expect(v6.readUInt16LE(0)).toBe(10); // AF_INET6
    expect(v6.subarray(8, 24).toString('hex')).toBe('20010db8000000000000000000010002');
    expect(v6.readUInt16LE(130)).toBe(0); // delete
    expect(md5sig('::ffff:127.0.13.9', 'k').subarray(8, 24).toString('hex')).toBe('00000000000000000000ffff7f000d09');
    expect(() => md5sig('127.0.0.1', 'x'.repeat(81))).toThrow(TcpSecurityError);
  });

  it('GTSM floor is 256 - hops', () => {
    expect(gtsmMinTtl(1)).toBe(255);
    expect(gtsmMinTtl(2)).toBe(254);
    expect(gtsmMinTtl(255)).toBe(1);
  });
});

describe('configEqual (updatePeer compares configs structurally)', () => {
  it.each([
    [{ a: 1 }, { a: 1, b: undefined }, true],
    [{ idleHold: { initialMs: 1 } }, { idleHold: { initialMs: 2 } }, false],
    [{ families: ['ipv4-unicast'] }, { families: ['ipv4-unicast', 'ipv6-unicast'] }, false],
    [{ p: { v4: [{ action: 'accept', cidr: '10.0.0.0/8' }] } }, { p: { v4: [{ action: 'accept', cidr: '10.0.0.0/9' }] } }, false],
    [{ password: 'a' }, { password: 'b' }, false],
    [{ password: 'a', x: [1, { y: 2 }] }, { x: [1, { y: 2 }], password: 'a' }, true],
  ])('%j vs %j → %s', (a, b, same) => {
    expect(configEqual(a, b)).toBe(same);
  });
});

describe('password and ttlSecurity validation', () => {
  it('rejects bad values naming the field, never the value', async () => {
    const a = await node('127.0.13.1', 65131);
    const base = { address: '127.0.13.2', remoteAs: 65132 };
    const long = 'p'.repeat(81);
    for (const [cfg, field] of [
      [{ ...base, password: long }, 'password'],
      [{ ...base, password: '' }, 'password'],
      [{ ...base, password: 'é'.repeat(41) }, 'password'], // 82 bytes in UTF-8
      [{ ...base, ttlSecurity: 0 }, 'ttlSecurity'],
      [{ ...base, ttlSecurity: 256 }, 'ttlSecurity'],
      [{ ...base, ttlSecurity: 1.5 }, 'ttlSecurity'],
    ] as const) {
      let err: unknown;
      try {
        a.speaker.addPeer(cfg);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SpeakerConfigError);
      expect((err as Error).message).toContain(field);
      expect((err as Error).message).not.toContain(long);
    }
    expect(() => a.speaker.addPeer({ ...base, password: 'x'.repeat(80) })).not.toThrow();
    // One key per address on a listening socket: another port of the same address must agree.
    expect(() => a.speaker.addPeer({ ...base, port: 1790, password: SECRET })).toThrow(/password must be the same/);
    expect(() => a.speaker.addPeer({ ...base, port: 1790, password: SECRET })).not.toThrow(new RegExp(SECRET));
  });
});

describe('TCP MD5 between two Tabby speakers', () => {
  it('establishes with the same key; a wrong or missing key never does', async () => {
    const a = await node('127.0.13.11', 65111);
    const b = await node('127.0.13.12', 65112);
    const ka = a.speaker.addPeer(peer(a, b, { password: SECRET }));
    const kb = b.speaker.addPeer(peer(b, a, { password: SECRET }));
    await waitPeer(a.speaker, ka, (p) => p.state === 'Established', 'a Established');
    await waitPeer(b.speaker, kb, (p) => p.state === 'Established', 'b Established');

    expect(b.speaker.updatePeer(peer(b, a, { password: 'wrong-key' }))).toBe('reset');
    await waitPeer(a.speaker, ka, (p) => p.state !== 'Established', 'a down after the wrong key');
    await staysDown(a.speaker, ka, 3000);
    expect(b.speaker.peer(kb)?.state).not.toBe('Established');

    expect(b.speaker.updatePeer(peer(b, a))).toBe('reset'); // no key at all
    await staysDown(a.speaker, ka, 3000);
    expect(b.speaker.peer(kb)?.state).not.toBe('Established');

    expect(b.speaker.updatePeer(peer(b, a, { password: SECRET }))).toBe('reset');
    await waitPeer(a.speaker, ka, (p) => p.state === 'Established', 'a Established again');
  });

  it('signs IPv6 sessions too (sockaddr_in6 keys on [::1])', async () => {
    const a = await node('::1', 65115);
    const b = await node('::1', 65116);
    const ka = a.speaker.addPeer({ ...peer(a, b, { password: SECRET }), families: ['ipv6-unicast'] });
    const kb = b.speaker.addPeer({ ...peer(b, a, { password: SECRET }), families: ['ipv6-unicast'] });
    await waitPeer(a.speaker, ka, (p) => p.state === 'Established', 'a Established over IPv6');
    await waitPeer(b.speaker, kb, (p) => p.state === 'Established', 'b Established over IPv6');
    expect(b.speaker.updatePeer({ ...peer(b, a, { password: 'wrong-key' }), families: ['ipv6-unicast'] })).toBe('reset');
    await waitPeer(a.speaker, ka, (p) => p.state !== 'Established', 'a down after the wrong key');
    await staysDown(a.speaker, ka, 2500);
  });

  it('works in one direction only (passive side listens with the key)', async () => {
    const a = await node('127.0.13.13', 65113);
    const b = await node('127.0.13.14', 65114);
    const ka = a.speaker.addPeer(peer(a, b, { password: SECRET, passive: true }));
    b.speaker.addPeer(peer(b, a, { password: SECRET }));
    const st = await waitPeer(a.speaker, ka, (p) => p.state === 'Established', 'a Established');
    expect(st.lastError).toBe('');
  });

  it('re-keys only the changed session: the other keeps its uptime and never flaps; secrets stay out of logs and status', async () => {
    const lines: string[] = [];
    const statuses: PeerStatus[] = [];
    const hub = await node('127.0.13.21', 65121, { logger: captureLogger(lines) });
    const b = await node('127.0.13.22', 65122, { logger: captureLogger(lines) });
    const c = await node('127.0.13.23', 65123, { logger: captureLogger(lines) });
    hub.speaker.onPeerStatus((s) => statuses.push(s));
    const kb = hub.speaker.addPeer(peer(hub, b, { password: SECRET }));
    const kc = hub.speaker.addPeer(peer(hub, c, { password: `${SECRET}-c` }));
    b.speaker.addPeer(peer(b, hub, { password: SECRET }));
    c.speaker.addPeer(peer(c, hub, { password: `${SECRET}-c` }));
    await waitPeer(hub.speaker, kb, (p) => p.state === 'Established', 'b Established');
    const c0 = await waitPeer(hub.speaker, kc, (p) => p.state === 'Established', 'c Established');
    const bSince = hub.speaker.peer(kb)!.since;

    const NEW = 'tabby-rekeyed-n3w-value';
    expect(hub.speaker.updatePeer(peer(hub, b, { password: NEW }))).toBe('reset');
    expect(b.speaker.updatePeer(peer(b, hub, { password: NEW }))).toBe('reset');
    await waitPeer(hub.speaker, kb, (p) => p.state === 'Established' && p.since > bSince, 'b Established with the new key');
    const c1 = hub.speaker.peer(kc)!;
    expect(c1.state).toBe('Established');
    expect(c1.flaps).toBe(0);
    expect(c1.since).toBe(c0.since);
    expect(c1.uptimeMs).toBeGreaterThan(c0.uptimeMs);

    // A wrong key too, so the error paths log as well.
    hub.speaker.updatePeer(peer(hub, b, { password: 'Wr0ng-k3y-value' }));
    await new Promise((r) => setTimeout(r, 1500));

    const everything = JSON.stringify([lines, statuses, hub.speaker.peers(), b.speaker.peers(), c.speaker.peers()]);
    expect(lines.length).toBeGreaterThan(5);
    expect(everything).toContain('session reset');
    for (const secret of [SECRET, `${SECRET}-c`, NEW, 'Wr0ng-k3y-value']) expect(everything).not.toContain(secret);
  });
});

describe('loading', () => {
  it('a speaker without password or ttlSecurity never loads the FFI', async () => {
    let loads = 0;
    const counting = (): never => {
      loads++;
      throw new TcpSecurityError('not expected');
    };
    const a = await node('127.0.13.35', 65135, { tcpSecurity: counting });
    const b = await node('127.0.13.36', 65136, { tcpSecurity: counting });
    const ka = a.speaker.addPeer(peer(a, b));
    b.speaker.addPeer(peer(b, a));
    await waitPeer(a.speaker, ka, (p) => p.state === 'Established', 'Established');
    a.speaker.updatePeer(peer(a, b, { description: 'relabelled' }));
    a.speaker.removePeer(ka);
    expect(loads).toBe(0);
  });
});

describe('when the FFI cannot load', () => {
  it('a peer with a password stays down with the reason in lastError and never connects unauthenticated; others run', async () => {
    const failing = (): never => {
      throw new TcpSecurityError('TCP MD5/GTSM unavailable: cannot load koffi/libc (test)');
    };
    const lines: string[] = [];
    const a = await node('127.0.13.31', 65131, { tcpSecurity: failing, logger: captureLogger(lines) });
    const b = await node('127.0.13.32', 65132);
    // A plain listener where the secured peer would connect: it must see nothing.
    const targetPort = await freePort('127.0.13.33');
    let connections = 0;
    const trap = createServer((s) => {
      connections++;
      s.destroy();
    });
    servers.push(trap);
    await new Promise<void>((r) => trap.listen(targetPort, '127.0.13.33', () => r()));

    const kSecured = a.speaker.addPeer({ address: '127.0.13.33', port: targetPort, remoteAs: 65133, localAddress: a.address, password: SECRET, ...FAST });
    const kPassive = a.speaker.addPeer({ address: '127.0.13.34', port: 1790, remoteAs: 65134, passive: true, ttlSecurity: 1, ...FAST });
    const kPlain = a.speaker.addPeer(peer(a, b));
    b.speaker.addPeer(peer(b, a));
    await waitPeer(a.speaker, kPlain, (p) => p.state === 'Established', 'the plain peer Established');
    const st = await waitPeer(a.speaker, kSecured, (p) => p.lastError !== '', 'a reason');
    expect(st.lastError).toMatch(/^TCP MD5: .*unavailable/);
    expect(a.speaker.peer(kPassive)?.lastError).toMatch(/^GTSM: .*unavailable/);
    await staysDown(a.speaker, kSecured, 2500);
    expect(connections).toBe(0);
    expect(lines.some((l) => l.includes('session security cannot be applied'))).toBe(true);
    expect(JSON.stringify([lines, a.speaker.peers()])).not.toContain(SECRET);
  });
});
