import type { Socket } from 'node:net';
import type { Clock } from '../platform.js';

/** A TCP connection of a peer session, tagged with who opened it. */
export interface Connection {
  readonly socket: Socket;
  readonly direction: 'inbound' | 'outbound';
  /** Set after both OPENs: 4-octet AS numbers on the wire (RFC 6793). */
  fourOctetAs: boolean;
  closed: boolean;
  /** Set by {@link closeConnection}: settles once what was written has left for the kernel (or the socket is gone). */
  flushed?: Promise<void>;
}

/** High-water mark of queued output: above it, UPDATE sending waits for 'drain'. */
export const OUTPUT_HIGH_WATER = 256 * 1024;

/** Writes and reports whether the socket still accepts more without waiting. */
export function writeBytes(conn: Connection, bytes: Uint8Array): boolean {
  if (conn.closed || conn.socket.destroyed) return false;
  conn.socket.write(bytes);
  return conn.socket.writableLength < OUTPUT_HIGH_WATER;
}

/**
 * Flushes what is queued, then closes (a NOTIFICATION just written reaches the wire). The
 * promise settles once the queued bytes are in the kernel ('finish'), or the socket is gone;
 * the kernel then sends them even if this process exits. A peer that never reads is cut off
 * after 2 s.
 */
export function closeConnection(conn: Connection, clock: Clock): Promise<void> {
  if (conn.closed) return conn.flushed ?? Promise.resolve();
  conn.closed = true;
  const socket = conn.socket;
  if (socket.destroyed) return (conn.flushed = Promise.resolve());
  // A peer that never reads must not keep the socket forever.
  const timer = clock.setTimeout(() => socket.destroy(), 2000);
  conn.flushed = new Promise<void>((resolve) => {
    socket.once('close', () => {
      timer.cancel();
      resolve();
    });
    socket.end(() => resolve());
  });
  return conn.flushed;
}
