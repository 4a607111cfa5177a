/**
 * The bench/bgp sender, built on @tabby/bgp's codec: opens a session to a receiver, sends
 * the feed as fast as the receiver reads it (TCP backpressure), keeps sending KEEPALIVEs
 * every hold/3 s throughout, and records the largest gap between the receiver's KEEPALIVE or
 * UPDATE messages (either restarts the hold timer).
 */
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { MessageReader, decodeMessage, encodeEndOfRib, encodeMessage } from '@tabby/bgp';
import { SENDER_AS } from './bgp-feed.js';

export interface SendResult {
  /** When the first UPDATE was written (ms, performance.now()). */
  readonly startedAt: number;
  readonly writeDoneAt: number;
}

export class FeedSender {
  /** Prefixes received in UPDATEs (when used as a sink), and when the End-of-RIB came. */
  prefixesReceived = 0;
  endOfRibAt = 0;
  firstUpdateAt = 0;
  private socket: Socket | undefined;
  private readonly reader = new MessageReader();
  private lastKeepaliveAt = 0;
  /** Largest gap between two KEEPALIVE or UPDATE messages from the receiver while the session was up, ms. */
  maxKeepaliveGapMs = 0;
  keepalivesReceived = 0;
  notification: string | undefined;
  private established!: Promise<void>;
  private keepaliveTimer: NodeJS.Timeout | undefined;

  constructor(private readonly asn = SENDER_AS) {}

  async connect(host: string, port: number, localAddress: string, routerId: string, holdTime = 9): Promise<void> {
    const s = connect({ host, port, localAddress, noDelay: true });
    this.socket = s;
    await once(s, 'connect');
    let resolveUp!: () => void;
    this.established = new Promise((r) => (resolveUp = r));
    s.on('data', (chunk: Buffer) => {
      this.reader.push(chunk);
      for (let f = this.reader.next(); f; f = this.reader.next()) {
        const m = decodeMessage(f, { fourOctetAs: true }).message;
        if (m.type === 'open') this.send(encodeMessage({ type: 'keepalive' }, { fourOctetAs: true }));
        if (m.type === 'keepalive' || m.type === 'update') {
          // Either restarts our hold timer (RFC 4271 §4.4), so the gap between them is what matters.
          const now = performance.now();
          if (this.lastKeepaliveAt > 0) this.maxKeepaliveGapMs = Math.max(this.maxKeepaliveGapMs, now - this.lastKeepaliveAt);
          else if (m.type === 'keepalive') resolveUp();
          this.lastKeepaliveAt = now;
          this.keepalivesReceived++;
        }
        if (m.type === 'notification') this.notification = `${m.code}/${m.subcode}`;
        if (m.type === 'update') {
          if (this.firstUpdateAt === 0) this.firstUpdateAt = performance.now();
          this.prefixesReceived += m.nlri.length;
          if (m.nlri.length === 0 && m.withdrawn.length === 0 && !m.attributes) this.endOfRibAt = performance.now();
        }
      }
    });
    this.send(
      encodeMessage(
        {
          type: 'open',
          version: 4,
          myAs: this.asn,
          holdTime,
          bgpId: routerId,
          capabilities: [
            { code: 1, afi: 1, safi: 1 },
            { code: 65, asn: this.asn },
          ],
        },
        { fourOctetAs: true },
      ),
    );
    await this.established;
    this.keepaliveTimer = setInterval(() => this.send(encodeMessage({ type: 'keepalive' }, { fourOctetAs: true })), (holdTime * 1000) / 3);
  }

  private send(bytes: Uint8Array): boolean {
    return this.socket?.write(bytes) ?? false;
  }

  /** Writes every message, waiting for 'drain' when the kernel buffer is full. */
  async sendFeed(messages: readonly Uint8Array[]): Promise<SendResult> {
    const s = this.socket as Socket;
    const startedAt = performance.now();
    const CHUNK = 256;
    for (let i = 0; i < messages.length; i += CHUNK) {
      const buf = Buffer.concat(messages.slice(i, i + CHUNK));
      if (!s.write(buf)) await once(s, 'drain');
    }
    s.write(encodeEndOfRib(1));
    return { startedAt, writeDoneAt: performance.now() };
  }

  close(): void {
    clearInterval(this.keepaliveTimer);
    this.socket?.destroy();
  }
}
