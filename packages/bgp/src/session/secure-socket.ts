import { Socket } from 'node:net';
import type { PeerConfig } from './peer-config.js';
import { gtsmMinTtl, handleFd, TcpSecurityError, type TcpSecurity } from './tcp-security.js';

/** GTSM (RFC 5082 §3): what we send with. */
export const GTSM_TTL = 255;

/** The peer needs socket options Node cannot set (TCP MD5 or GTSM). */
export function needsTcpSecurity(cfg: Pick<PeerConfig, 'password' | 'ttlSecurity'>): boolean {
  return cfg.password !== undefined || cfg.ttlSecurity !== undefined;
}

export interface SecureDialOptions {
  readonly host: string;
  readonly port: number;
  readonly localAddress?: string;
  readonly password?: string;
  readonly ttlSecurity?: number;
}

/**
 * Starts a TCP connection whose socket got its MD5 key and GTSM options before `connect`: the
 * SYN is already signed, and a SYN-ACK from too far away is dropped. The socket is made with
 * libc and handed to `net.Socket`, which then connects it as usual ('connect' / 'error').
 */
export function dialSecured(sec: TcpSecurity, o: SecureDialOptions): Socket {
  const v6 = o.host.includes(':');
  const fd = sec.createSocket(v6);
  let socket: Socket;
  try {
    if (o.password !== undefined) sec.setMd5Key(fd, o.host, o.password);
    if (o.ttlSecurity !== undefined) {
      sec.setTtl(fd, v6, GTSM_TTL);
      sec.setMinTtl(fd, v6, gtsmMinTtl(o.ttlSecurity));
    }
    socket = new Socket({ fd });
  } catch (err) {
    sec.closeSocket(fd);
    throw err;
  }
  return socket.connect({ host: o.host, port: o.port, localAddress: o.localAddress, noDelay: true });
}

/**
 * GTSM on an accepted connection: send with TTL 255 and drop what arrives with less than
 * 256 − hops from now on. The SYN itself was already answered (the listener's floor applies
 * only when every peer on it uses the same hop count).
 */
export function secureAccepted(sec: TcpSecurity, socket: Socket, ttlSecurity: number): void {
  const fd = handleFd(socket);
  if (fd < 0) throw new TcpSecurityError('GTSM: the accepted socket has no descriptor');
  const v6 = socket.remoteFamily === 'IPv6' && !(socket.remoteAddress ?? '').startsWith('::ffff:');
  sec.setTtl(fd, v6, GTSM_TTL);
  sec.setMinTtl(fd, v6, gtsmMinTtl(ttlSecurity));
}
