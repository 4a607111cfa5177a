/**
 * Graceful restart (RFC 4724) against a real BIRD 2 (`graceful restart on;`) on 127.0.0.x with
 * non-default ports: a Tabby speaker announcing routes dies as with kill -9 (`Speaker.abort()`:
 * sockets destroyed, no NOTIFICATION); BIRD keeps the routes, stale; a new speaker on the same
 * address and port, restarting with forwarding preserved (R=1, F=1), reconnects, announces the
 * same routes and its End-of-RIB. BIRD's table is polled throughout: the routes never leave it,
 * and they are no longer stale at the end. BIRD's own End-of-RIB shows in our peer status.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ProcessGroup, eventually, freePort, loopbackNextHops, sleep, startBird, tempDir, type BirdProcess } from '@tabby/harness';
import { Speaker, type GracefulRestartConfig } from '../../src/index.js';
import { peerOf, waitState, type TestSpeaker } from './speakers.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-bgp-gr-');
afterAll(async () => {
  await group.stopAll();
  dir.remove();
});

const TABBY = '127.0.0.51';
const BIRD = '127.0.0.52';
const V4 = ['10.51.0.0/24', '10.51.1.0/24'];
const V6 = ['fd00:51::/48'];
/** Announced by the crashed speaker only: stale in BIRD, gone after the restarted one's End-of-RIB. */
const GONE = '10.51.9.0/24';

/** One look at BIRD: the time each route from the Tabby session was installed, and whether BIRD's GR helper runs. */
interface Sample {
  readonly at: number;
  /** prefix → the time BIRD shows for the route (when it was last replaced). */
  readonly routes: ReadonlyMap<string, string>;
  /** `Neighbor graceful restart active`: BIRD keeps our routes as stale until our End-of-RIB. */
  readonly grActive: boolean;
}

/**
 * BIRD 2.0.12 does not mark routes kept by its graceful-restart helper in `show route` (its
 * `s` flag is for long-lived stale routes); the protocol says `Neighbor graceful restart
 * active` until every channel's End-of-RIB arrived, when BIRD flushes what is still stale.
 */
async function sample(bird: BirdProcess): Promise<Sample> {
  const routes = new Map<string, string>();
  for (const table of ['master4', 'master6']) {
    const reply = await bird.birdc(`show route table ${table} protocol tabby`);
    for (const { text } of reply.lines) {
      const m = /^(\S+)\s+\S+\s+\[tabby (\S+)/.exec(text);
      if (m) routes.set(m[1], m[2]);
    }
  }
  const proto = await bird.birdc('show protocols all tabby');
  return { at: Date.now(), routes, grActive: proto.lines.some((l) => l.text.includes('Neighbor graceful restart active')) };
}

/** Samples BIRD until stopped. */
function watch(bird: BirdProcess): { stop: () => Promise<Sample[]> } {
  const samples: Sample[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      samples.push(await sample(bird));
      await sleep(20);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return samples;
    },
  };
}

describe('graceful restart with BIRD', { timeout: 90_000 }, () => {
  it('BIRD keeps our routes through a crash and a restart with forwarding preserved, and flushes what we did not re-announce after our End-of-RIB', async () => {
    const port = await freePort(TABBY);
    const birdPort = await freePort(BIRD);
    const nh = loopbackNextHops(TABBY);
    const speakers: Speaker[] = [];
    group.defer(async () => {
      await Promise.all(speakers.map((s) => s.stop()));
    });
    const start = async (gracefulRestart: GracefulRestartConfig, extra: readonly string[]): Promise<TestSpeaker> => {
      const speaker = new Speaker({ asn: 65051, routerId: nh.ipv4, listen: [{ address: TABBY, port }], gracefulRestart });
      speakers.push(speaker);
      await speaker.start();
      // As the agent does: the routes of its kept FIB are announced before the peers come up.
      for (const p of [...V4, ...extra]) speaker.announce('ipv4-unicast', p);
      for (const p of V6) speaker.announce('ipv6-unicast', p);
      return { speaker, address: TABBY, port, nextHop4: nh.ipv4, nextHop6: nh.ipv6 };
    };
    const bird = await startBird(group, dir.path, {
      name: 'gr',
      routerId: '10.0.0.52',
      address: BIRD,
      port: birdPort,
      as: 65052,
      statics: ['10.52.0.0/24'],
      peers: [{ name: 'tabby', neighbor: TABBY, neighborPort: port, remoteAs: 65051, extra: ['graceful restart on;'] }],
    });

    // Normal life: forwarding state survives our restarts (F=1), not restarting (R=0).
    const first = await start({ forwardingPreserved: true }, [GONE]);
    const key = first.speaker.addPeer(peerOf(first, { address: BIRD, port: birdPort, as: 65052 }));
    await waitState(first.speaker, key, 'Established');
    const kept = [...V4, ...V6].sort();
    const before = await eventually('BIRD to have our routes', async () => {
      const s = await sample(bird);
      return [...kept, GONE].every((p) => s.routes.has(p)) ? s : undefined;
    }, 15_000, 100);
    // GR on both sides: BIRD sends its End-of-RIB per family, and shows our F bits.
    const up = await eventually('BIRD End-of-RIBs', () => {
      const st = first.speaker.peer(key);
      return st && st.endOfRibReceived.length === 2 ? st : undefined;
    }, 10_000, 50);
    expect(up.endOfRibReceived).toEqual(['ipv4-unicast', 'ipv6-unicast']);
    expect(neighborCapabilities(await bird.birdc('show protocols all tabby'))).toContain('AF preserved: ipv4 ipv6');

    const watcher = watch(bird);
    let samples: Sample[] = [];
    try {
      await first.speaker.abort(); // kill -9: the sockets close, no NOTIFICATION
      await eventually('BIRD to keep our routes as a GR helper', async () => {
        const s = await sample(bird);
        return s.grActive && [...kept, GONE].every((p) => s.routes.has(p));
      }, 15_000, 50);
      expect((await bird.protocol('tabby')).bgpState).not.toBe('Established');
      await sleep(1000); // BIRD tries to reconnect meanwhile and is refused

      const second = await start({ restarting: true, forwardingPreserved: true }, []);
      expect(second.speaker.restarting).toBe(true);
      expect(second.speaker.addPeer(peerOf(second, { address: BIRD, port: birdPort, as: 65052 }))).toBe(key);
      await waitState(second.speaker, key, 'Established', 30_000);
      // Our End-of-RIBs end BIRD's restart handling: what we did not announce again goes.
      await eventually('BIRD to finish the restart and flush the route we dropped', async () => {
        const s = await sample(bird);
        return !s.grActive && !s.routes.has(GONE);
      }, 15_000, 50);
      const caps = neighborCapabilities(await bird.birdc('show protocols all tabby'));
      expect(caps).toContain('Restart recovery'); // R=1 as BIRD read it
      expect(caps).toContain('AF preserved: ipv4 ipv6'); // F=1
      await eventually('BIRD End-of-RIBs to the restarted speaker', () => second.speaker.peer(key)?.endOfRibReceived.length === 2, 10_000, 50);
      second.speaker.restartComplete();
      expect(second.speaker.restarting).toBe(false);
      await sleep(300);
    } finally {
      samples = await watcher.stop();
    }
    // Never a moment without the routes we announce again, from the crash to the end...
    const gaps = samples.filter((s) => kept.some((p) => !s.routes.has(p)));
    expect(gaps.map((g) => ({ at: g.at, had: [...g.routes.keys()] }))).toEqual([]);
    expect(samples.length).toBeGreaterThan(20);
    expect(samples.some((s) => s.grActive)).toBe(true);
    expect(samples[samples.length - 1].grActive).toBe(false);
    // ...and not even replaced: BIRD still shows the time it learned them from the first speaker.
    const after = samples[samples.length - 1];
    for (const p of kept) expect(after.routes.get(p), p).toBe(before.routes.get(p));
    await eventually('BIRD route at Tabby', () => speakers[1].routes('ipv4-unicast').some((r) => r.prefix === '10.52.0.0/24'), 10_000, 50);
    expect((await bird.protocol('tabby')).bgpState).toBe('Established');
  });
});

/** The `Neighbor capabilities` block of `show protocols all`, as trimmed lines. */
function neighborCapabilities(reply: { readonly lines: readonly { readonly text: string }[] }): string[] {
  const lines = reply.lines.map((l) => l.text.trim());
  const from = lines.indexOf('Neighbor capabilities');
  if (from < 0) return [];
  const to = lines.findIndex((l, i) => i > from && l.startsWith('Session:'));
  return lines.slice(from + 1, to < 0 ? undefined : to);
}
