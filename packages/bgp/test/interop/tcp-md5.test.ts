/**
 * TCP MD5 signatures (RFC 2385) between Tabby and real peers on 127.0.13.x: BIRD 2 (`password`)
 * and GoBGP (`auth-password`) establish with the right key and never with a wrong or missing
 * one (the kernel drops the segments: its TCPMD5 counters go up), and a password change
 * re-keys only that session while another one of the same speaker keeps running.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessGroup, eventually, freePort, startBird, startGobgp, tempDir, type BirdConfig, type BirdPeer, type BirdProcess, type GobgpProcess } from '@tabby/harness';
import type { PeerStatus, Speaker } from '../../src/index.js';
import { peerOf, tabbySpeaker, waitState, type TestSpeaker } from './speakers.js';

const BIRD_KEY = 'bird md5 key with spaces';
const GOBGP_KEY = 'gobgp-md5-key';

const group = new ProcessGroup();
const dir = tempDir('tabby-bgp-md5-');
afterAll(async () => {
  await group.stopAll();
  dir.remove();
});

/** The kernel's TCP MD5 drop counters (TcpExt TCPMD5NotFound / Unexpected / Failure), summed. */
function md5Drops(): number {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
  const i = lines.findIndex((l) => l.startsWith('TcpExt:'));
  const names = lines[i].split(/\s+/);
  const values = lines[i + 1].split(/\s+/);
  return names.reduce((sum, n, j) => (/^TCPMD5(NotFound|Unexpected|Failure)$/.test(n) ? sum + Number(values[j]) : sum), 0);
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

describe('TCP MD5 with BIRD and GoBGP', { timeout: 90_000 }, () => {
  let tabby: TestSpeaker; // keys right with BIRD and GoBGP
  let wrong: TestSpeaker; // a wrong key towards BIRD and GoBGP
  let missing: TestSpeaker; // no key; BIRD has one
  let unkeyedPeer: TestSpeaker; // a key; GoBGP has none
  let bird: BirdProcess;
  let gobgp: GobgpProcess;
  let birdPort: number;
  let gobgpPort: number;
  const keys: Record<string, string> = {};

  const birdPeer = (name: string, t: TestSpeaker, password: string | undefined): BirdPeer => ({ name, neighbor: t.address, neighborPort: t.port, remoteAs: 65040, password });
  const birdConfig = (goodKey: string): BirdConfig => ({
    routerId: '10.13.0.42',
    address: '127.0.13.42',
    port: birdPort,
    as: 65042,
    statics: ['10.42.0.0/24'],
    peers: [birdPeer('p_good', tabby, goodKey), birdPeer('p_wrong', wrong, BIRD_KEY), birdPeer('p_nokey', missing, BIRD_KEY)],
  });

  beforeAll(async () => {
    [tabby, wrong, missing, unkeyedPeer] = await Promise.all(['127.0.13.41', '127.0.13.43', '127.0.13.44', '127.0.13.46'].map((a) => tabbySpeaker(a, 65040)));
    for (const t of [tabby, wrong, missing, unkeyedPeer]) group.defer(() => t.speaker.stop());
    birdPort = await freePort('127.0.13.42');
    gobgpPort = await freePort('127.0.13.45');
    bird = await startBird(group, dir.path, { name: 'md5bird', ...birdConfig(BIRD_KEY) });
    gobgp = await startGobgp(group, dir.path, {
      name: 'md5gobgp',
      as: 65045,
      routerId: '10.13.0.45',
      address: '127.0.13.45',
      port: gobgpPort,
      neighbors: [
        { address: tabby.address, remotePort: tabby.port, remoteAs: 65040, authPassword: GOBGP_KEY, passive: true },
        { address: wrong.address, remotePort: wrong.port, remoteAs: 65040, authPassword: GOBGP_KEY, passive: true },
        { address: unkeyedPeer.address, remotePort: unkeyedPeer.port, remoteAs: 65040, passive: true },
      ],
    });
    const toBird = { address: '127.0.13.42', port: birdPort, as: 65042 };
    const toGobgp = { address: '127.0.13.45', port: gobgpPort, as: 65045 };
    keys.birdGood = tabby.speaker.addPeer(peerOf(tabby, toBird, { password: BIRD_KEY }));
    keys.gobgpGood = tabby.speaker.addPeer(peerOf(tabby, toGobgp, { password: GOBGP_KEY }));
    keys.birdWrong = wrong.speaker.addPeer(peerOf(wrong, toBird, { password: 'not-the-bird-key' }));
    keys.gobgpWrong = wrong.speaker.addPeer(peerOf(wrong, toGobgp, { password: 'not-the-gobgp-key' }));
    keys.birdMissing = missing.speaker.addPeer(peerOf(missing, toBird));
    keys.gobgpUnkeyed = unkeyedPeer.speaker.addPeer(peerOf(unkeyedPeer, toGobgp, { password: GOBGP_KEY }));
  }, 60_000);

  it('establishes with BIRD (password) and GoBGP (auth-password) with the right keys, and routes flow', async () => {
    await waitState(tabby.speaker, keys.birdGood, 'Established');
    await waitState(tabby.speaker, keys.gobgpGood, 'Established');
    expect((await bird.waitEstablished('p_good')).bgpState).toBe('Established');
    expect((await gobgp.waitEstablished(tabby.address)).state).toBe('established');
    await bird.waitRoute('ipv4', '10.42.0.0/24');
    expect(tabby.speaker.routes('ipv4-unicast').some((r) => r.prefix === '10.42.0.0/24')).toBe(true);
  });

  it('never establishes with a wrong key or without one on either side; the kernel counts the dropped segments', async () => {
    const drops = md5Drops();
    const stWrong = await staysDown(wrong.speaker, keys.birdWrong, 5000);
    expect(wrong.speaker.peer(keys.gobgpWrong)?.state).not.toBe('Established');
    expect(missing.speaker.peer(keys.birdMissing)?.state).not.toBe('Established');
    expect(unkeyedPeer.speaker.peer(keys.gobgpUnkeyed)?.state).not.toBe('Established');
    for (const name of ['p_wrong', 'p_nokey']) expect((await bird.protocol(name)).bgpState).not.toBe('Established');
    for (const a of [wrong.address, unkeyedPeer.address]) expect((await gobgp.neighbor(a))?.state).not.toBe('established');
    // Our signed SYNs got no answer: the status says what that usually means.
    expect(stWrong.lastError).toMatch(/TCP MD5/);
    expect(stWrong.lastError).not.toContain('not-the-bird-key');
    expect(md5Drops()).toBeGreaterThan(drops);
  });

  it('re-keys: a new password on both sides restarts only that session; the GoBGP session of the same speaker keeps running', async () => {
    const g0 = await waitState(tabby.speaker, keys.gobgpGood, 'Established');
    const b0 = await waitState(tabby.speaker, keys.birdGood, 'Established');
    const NEW = 'bird-md5-rekeyed';
    await bird.configure(birdConfig(NEW)); // BIRD restarts the session on a password change
    // The old key no longer works: the session goes down and stays down until we change ours.
    await eventually('the BIRD session to go down', () => tabby.speaker.peer(keys.birdGood)?.state !== 'Established', 20_000, 50);
    expect(tabby.speaker.updatePeer(peerOf(tabby, { address: '127.0.13.42', port: birdPort, as: 65042 }, { password: NEW }))).toBe('reset');
    const b1 = await waitState(tabby.speaker, keys.birdGood, 'Established', 30_000);
    expect(b1.since).toBeGreaterThan(b0.since);
    await bird.waitEstablished('p_good');
    const g1 = tabby.speaker.peer(keys.gobgpGood)!;
    expect(g1.state).toBe('Established');
    expect(g1.flaps).toBe(0);
    expect(g1.since).toBe(g0.since);
    expect(g1.uptimeMs).toBeGreaterThan(g0.uptimeMs);
  });
});
