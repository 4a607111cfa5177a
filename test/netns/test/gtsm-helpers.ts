/**
 * Shared by the GTSM tests (gtsm.test.ts, gtsm-gobgp.test.ts, gtsm-ipv6.test.ts): their fabric
 * (a peer one hop and one two hops away, {@link buildHopFabric}), and a Tabby speaker
 * (gtsm-speaker.mjs, @tabby/bgp) started inside a fabric namespace, re-configured by rewriting
 * its config file, and read back from the status lines it prints every 250 ms.
 */
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep, type DirectLinkEnd, type Fabric, type TestProcess } from '@tabby/harness';
import { onTestFailed } from 'vitest';

const SPEAKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'gtsm-speaker.mjs');

/** The addresses of the link ends of {@link buildHopFabric}, one family: t ↔ b, t ↔ r, r ↔ c. */
export interface HopLinks {
  readonly tb: string;
  readonly bt: string;
  readonly tr: string;
  readonly rt: string;
  readonly rc: string;
  readonly cr: string;
}

/**
 * The GTSM tests' fabric: namespaces `t` (the speaker), `b`, `r` and `c`, with direct links
 * t ↔ b (b one hop from t), t ↔ r and r ↔ c (c two hops from t; r forwards), each end's
 * interface named as its {@link HopLinks} key. `ipv4` gives every end its /30 (a fabric link
 * always has one); with `ipv6` every end also gets its /64, r forwards IPv6 only and the two
 * routes are IPv6 ones. The routes: t reaches `routes.toC` (r ↔ c's subnet) via r, c reaches
 * `routes.toT` (t ↔ r's) via r. Resolves with the namespaces' full names.
 */
export async function buildHopFabric(
  fabric: Fabric,
  opts: { ipv4: HopLinks; ipv6?: HopLinks; routes: { toC: string; toT: string } },
): Promise<{ t: string; b: string; r: string; c: string }> {
  const t = await fabric.addNamespace('t');
  const b = await fabric.addNamespace('b');
  const r = await fabric.addNamespace('r');
  const c = await fabric.addNamespace('c');
  const { ipv4, ipv6 } = opts;
  const end = (ns: string, key: keyof HopLinks): DirectLinkEnd => ({ ns, ifname: key, address: `${ipv4[key]}/30`, ...(ipv6 ? { ipv6Address: `${ipv6[key]}/64` } : {}) });
  await fabric.connectDirect(end(t, 'tb'), end(b, 'bt'));
  await fabric.connectDirect(end(t, 'tr'), end(r, 'rt'));
  await fabric.connectDirect(end(r, 'rc'), end(c, 'cr'));
  await fabric.sysctl(r, ipv6 ? { 'net.ipv6.conf.all.forwarding': 1 } : { 'net.ipv4.ip_forward': 1 });
  const family = ipv6 ? ['-6'] : [];
  const links = ipv6 ?? ipv4;
  await fabric.ip(t, [...family, 'route', 'add', opts.routes.toC, 'via', links.rt]);
  await fabric.ip(c, [...family, 'route', 'add', opts.routes.toT, 'via', links.rc]);
  return { t, b, r, c };
}

/** Short timers: a refused session is retried every second, an allowed one comes up at once. */
export const FAST = { holdTimeS: 9, keepaliveTimeS: 3, connectRetryTimeMs: 1000, idleHold: { initialMs: 300, maxMs: 1000 } } as const;

/** One peer of the speaker (a PeerConfig of @tabby/bgp; {@link FAST} timers are added). */
export interface GtsmPeer {
  readonly address: string;
  readonly remoteAs: number;
  readonly localAddress: string;
  readonly ttlSecurity?: number;
  readonly families?: readonly ('ipv4-unicast' | 'ipv6-unicast')[];
}

/** A peer as the speaker reports it. */
export interface PeerLine {
  readonly key: string;
  readonly state: string;
  readonly lastError: string;
  readonly since: number;
  readonly flaps: number;
}

export interface GtsmSpeakerConfig {
  readonly asn: number;
  readonly routerId: string;
  /** Addresses it listens on, port 179 each. */
  readonly listen: readonly string[];
}

/** The speaker process and its config file. */
export class GtsmSpeaker {
  private constructor(
    readonly process: TestProcess,
    private readonly configFile: string,
    private readonly base: GtsmSpeakerConfig,
  ) {}

  /** Writes the config, starts the speaker in `ns` (owned by the fabric) and waits for its first status line. */
  static async start(fabric: Fabric, ns: string, dir: string, base: GtsmSpeakerConfig, peers: readonly GtsmPeer[]): Promise<GtsmSpeaker> {
    const configFile = path.join(dir, 'tabby.json');
    writeConfig(configFile, base, peers);
    const proc = fabric.start(ns, 'tabby', process.execPath, [SPEAKER, configFile], { logFile: path.join(dir, 'tabby.log') });
    const speaker = new GtsmSpeaker(proc, configFile, base);
    await proc.waitForLine(/^\{"peers":/, 20_000);
    return speaker;
  }

  /** Replaces the peer list; the speaker applies it with updatePeer within 250 ms. */
  configure(peers: readonly GtsmPeer[]): void {
    writeConfig(this.configFile, this.base, peers);
  }

  /** Waits for the speaker's report that updating `address` reset its session. */
  async waitReset(address: string, timeoutMs = 10_000): Promise<void> {
    const quoted = JSON.stringify(address).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    await this.process.waitForLine(new RegExp(`"updated":${quoted},"result":"reset"`), timeoutMs);
  }

  /** Every status line so far, oldest first (a line still being written is left out). */
  private statusLines(): PeerLine[][] {
    const out = this.process.output();
    return out
      .slice(0, out.lastIndexOf('\n'))
      .split('\n')
      .filter((l) => l.startsWith('{"peers":'))
      .map((l) => (JSON.parse(l) as { peers: PeerLine[] }).peers);
  }

  /** Every peer, from the latest status line. */
  peers(): PeerLine[] {
    return this.statusLines().at(-1) ?? [];
  }

  /** The speaker's own log (transitions, collisions, NOTIFICATIONs) and its update results: every line but the status lines. */
  log(): string {
    return this.process
      .output()
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('{"peers":'))
      .join('\n');
  }

  /** Prints the speaker's log if the running test fails (its files go with the temp dir). */
  logOnFailure(): void {
    onTestFailed(() => console.log(`speaker log:\n${this.log()}`));
  }

  /**
   * How a peer's state went, from every status line so far: one entry per change of state,
   * flap count or last error (for failure messages).
   */
  history(address: string): string[] {
    const out: string[] = [];
    for (const peers of this.statusLines()) {
      const p = peers.find((x) => x.key === address);
      const text = p ? `${p.state} flaps=${p.flaps}${p.lastError ? ` (${p.lastError})` : ''}` : 'absent';
      if (out.at(-1) !== text) out.push(text);
    }
    return out;
  }

  /** One peer by key (its address: every session here is on port 179). */
  peer(address: string): PeerLine | undefined {
    return this.peers().find((p) => p.key === address);
  }
}

function writeConfig(file: string, base: GtsmSpeakerConfig, peers: readonly GtsmPeer[]): void {
  const cfg = { asn: base.asn, routerId: base.routerId, listen: base.listen.map((address) => ({ address, port: 179 })), peers: peers.map((p) => ({ ...p, ...FAST })) };
  // Written aside and renamed: the speaker polls the file and must never read half of it.
  writeFileSync(`${file}.next`, JSON.stringify(cfg));
  renameSync(`${file}.next`, file);
}

/** Runs `check` every 250 ms for `ms`: what it asserts must hold the whole time. */
export async function holdsFor(ms: number, check: () => Promise<void> | void): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    await check();
    await sleep(250);
  }
}
