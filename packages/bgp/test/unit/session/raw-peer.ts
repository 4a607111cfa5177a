import { connect, createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { MessageReader, decodeMessage, encodeMessage } from '../../../src/codec/index.js';
import type { BgpMessage, NotificationMessage, OpenMessage } from '../../../src/types.js';

/** A hand-driven BGP peer for tests: sends exactly what the test says, records what it gets. */
export class RawPeer {
  readonly received: BgpMessage[] = [];
  private readonly reader = new MessageReader();
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.reader.push(chunk);
      for (let f = this.reader.next(); f; f = this.reader.next()) this.received.push(decodeMessage(f, { fourOctetAs: true }).message);
    });
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => (this.closed = true));
  }

  /** Connects from `localAddress` to a speaker. */
  static async dial(host: string, port: number, localAddress: string): Promise<RawPeer> {
    const s = connect({ host, port, localAddress });
    await once(s, 'connect');
    return new RawPeer(s);
  }

  /** Listens on address:port and resolves with the first connection. */
  static async listen(address: string): Promise<{ port: number; accepted: Promise<RawPeer>; server: Server }> {
    const server = createServer();
    server.listen(0, address);
    await once(server, 'listening');
    const accepted = once(server, 'connection').then(([s]) => new RawPeer(s as Socket));
    return { port: (server.address() as { port: number }).port, accepted, server };
  }

  send(msg: BgpMessage): void {
    this.socket.write(encodeMessage(msg, { fourOctetAs: true }));
  }

  sendRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  open(asn: number, bgpId: string, holdTime = 9): void {
    const open: OpenMessage = {
      type: 'open',
      version: 4,
      myAs: asn > 0xffff ? 23456 : asn,
      holdTime,
      bgpId,
      capabilities: [
        { code: 1, afi: 1, safi: 1 },
        { code: 1, afi: 2, safi: 1 },
        { code: 65, asn },
      ],
    };
    this.send(open);
  }

  notifications(): NotificationMessage[] {
    return this.received.filter((m): m is NotificationMessage => m.type === 'notification');
  }

  close(): void {
    this.socket.destroy();
  }
}
