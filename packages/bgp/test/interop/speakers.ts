import { eventually, freePort, loopbackNextHops } from '@tabby/harness';
import { Speaker, type Family, type PeerConfig, type PeerStatus } from '../../src/index.js';

/** Short timers for tests: hold 9 s, keepalive 3 s, reconnect fast (docs/testing-with-peers.md). */
export const FAST = { holdTimeS: 9, keepaliveTimeS: 3, connectRetryTimeMs: 1000, idleHold: { initialMs: 500, maxMs: 2000 } } as const;

export interface TestSpeaker {
  readonly speaker: Speaker;
  readonly address: string;
  readonly port: number;
  /** The non-loopback next hops it announces (GoBGP/FRR refuse 127/8). */
  readonly nextHop4: string;
  readonly nextHop6: string;
}

/** A Tabby speaker on a 127.x address and a free port. */
export async function tabbySpeaker(address: string, asn: number, opts: { clusterId?: string; routerId?: string } = {}): Promise<TestSpeaker> {
  const port = await freePort(address);
  const nh = loopbackNextHops(address);
  const speaker = new Speaker({ asn, routerId: opts.routerId ?? nh.ipv4, listen: [{ address, port }], clusterId: opts.clusterId });
  await speaker.start();
  return { speaker, address, port, nextHop4: nh.ipv4, nextHop6: nh.ipv6 };
}

/** A peer config with the test timers and our non-loopback next hops. */
export function peerOf(self: TestSpeaker, remote: { address: string; port: number; as: number }, extra: Partial<PeerConfig> = {}): PeerConfig {
  return {
    address: remote.address,
    port: remote.port,
    remoteAs: remote.as,
    localAddress: self.address,
    nextHopIPv4: self.nextHop4,
    nextHopIPv6: self.nextHop6,
    ...FAST,
    ...extra,
  };
}

export async function waitState(s: Speaker, key: string, state: PeerStatus['state'], timeoutMs = 20_000): Promise<PeerStatus> {
  return eventually(`peer ${key} ${state}`, () => {
    const st = s.peer(key);
    return st?.state === state ? st : undefined;
  }, timeoutMs, 50);
}

export async function waitRoute(s: Speaker, family: Family, prefix: string, timeoutMs = 15_000) {
  return eventually(`${prefix} in the Tabby RIB`, () => s.routes(family).find((r) => r.prefix === prefix), timeoutMs, 50);
}

export async function waitNoRoute(s: Speaker, family: Family, prefix: string, timeoutMs = 15_000): Promise<void> {
  await eventually(`${prefix} gone from the Tabby RIB`, () => !s.routes(family).some((r) => r.prefix === prefix), timeoutMs, 50);
}
