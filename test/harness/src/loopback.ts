import { createServer, isIPv4, isIPv6 } from 'node:net';

/**
 * Loopback addressing for test speakers. Every BGP process the harness starts binds and
 * connects only to 127.0.0.0/8 or ::1, and announces the non-loopback next hops that
 * GoBGP and FRR accept (they treat a 127/8 next hop as invalid).
 */

/** True for 127.0.0.0/8 and ::1. */
export function isLoopback(address: string): boolean {
  if (isIPv4(address)) return address.split('.')[0] === '127';
  if (isIPv6(address)) return new URL(`http://[${address}]/`).hostname === '[::1]';
  return false;
}

/** Throws unless `address` is a loopback address (the harness never binds or dials anything else). */
export function assertLoopback(address: string, what: string): void {
  if (!isLoopback(address)) throw new Error(`${what} must be a loopback address (127.0.0.0/8 or ::1), got "${address}"`);
}

/** Throws unless `port` is an explicit TCP port (1..65535). */
export function assertPort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${what} must be a TCP port 1..65535, got ${port}`);
}

/**
 * The next hops a speaker on `address` should announce: 10.a.b.c for 127.a.b.c and
 * 2001:db8::a:b:c (the decimal octets written as hex groups, so distinct addresses give
 * distinct next hops). For a non-127 address (::1) pass the router id, e.g. 10.0.0.2.
 * Nothing is ever sent to these addresses: no speaker programs a FIB.
 */
export function loopbackNextHops(address: string): { ipv4: string; ipv6: string } {
  if (!isIPv4(address)) throw new Error(`loopbackNextHops needs an IPv4 address (127.a.b.c or a router id), got "${address}"`);
  const [, a, b, c] = address.split('.');
  const groups = a !== '0' ? [a, b, c] : b !== '0' ? [b, c] : [c];
  return { ipv4: `10.${a}.${b}.${c}`, ipv6: `2001:db8::${groups.join(':')}` };
}

/**
 * A TCP port that was free on `host` a moment ago (bind port 0, read it, close). Another
 * process may take it before the caller binds it: a small race that is acceptable in tests
 * (the daemon then fails to start with "address in use" and the test reports it).
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, resolve);
  });
  const addr = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (addr === null || typeof addr === 'string') throw new Error(`could not read the port bound on ${host}`);
  return addr.port;
}
