/**
 * Shared by the GTSM tests (gtsm.test.ts, gtsm-gobgp.test.ts, gtsm-ipv6.test.ts): a Tabby
 * speaker (gtsm-speaker.mjs, @tabby/bgp) started inside a fabric namespace, re-configured by
 * rewriting its config file, and read back from the status lines it prints every 250 ms.
 */
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep, type Fabric, type TestProcess } from '@tabby/harness';
import { onTestFailed } from 'vitest';

const SPEAKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'gtsm-speaker.mjs');

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
