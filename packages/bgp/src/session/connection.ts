import type { Socket } from 'node:net';
import type { Clock } from '../platform.js';

/** A TCP connection of a peer session, tagged with who opened it. */
export interface Connection {
  readonly socket: Socket;
  readonly direction: 'inbound' | 'outbound';
  /** Set after both OPENs: 4-octet AS numbers on the wire (RFC 6793). */
  fourOctetAs: boolean;
  closed: boolean;
}

/** High-water mark of queued output: above it, UPDATE sending waits for 'drain'. */
export const OUTPUT_HIGH_WATER = 256 * 1024;

/** Writes and reports whether the socket still accepts more without waiting. */
export function writeBytes(conn: Connection, bytes: Uint8Array): boolean {
  if (conn.closed || conn.socket.destroyed) return false;
  conn.socket.write(bytes);
  return conn.socket.writableLength < OUTPUT_HIGH_WATER;
}

/** Flushes what is queued, then closes (a NOTIFICATION just written reaches the wire). */
export function closeConnection(conn: Connection, clock: Clock): void {
  if (conn.closed) return;
  conn.closed = true;
  conn.socket.end();
  // A peer that never reads must not keep the socket forever.
  clock.setTimeout(() => conn.socket.destroy(), 2000);
}
