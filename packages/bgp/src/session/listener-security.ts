import type { Server } from 'node:net';
import type { BgpLogger } from '../platform.js';
import type { PeerConfig } from './peer-config.js';
import { GTSM_TTL } from './secure-socket.js';
import { gtsmMinTtl, handleFd, type TcpSecurity, type TcpSecurityLoader } from './tcp-security.js';

/** What is set on one listening socket. */
interface ListenerState {
  readonly address: string;
  readonly v6: boolean;
  /** A `::` listener also accepts IPv4 peers (as `::ffff:a.b.c.d`). */
  readonly dualStack: boolean;
  /** Peer address as the socket sees it → the key installed for it. */
  readonly keys: Map<string, string>;
  /** Installed IP_TTL / IPV6_UNICAST_HOPS (undefined: the system default). */
  ttl: number | undefined;
  /** Installed IP_MINTTL / IPV6_MINHOPCOUNT (0: off). */
  minTtl: number;
  /** The last failure, as shown to a peer whose connection is refused because of it. */
  error: string | undefined;
}

/**
 * TCP MD5 keys and GTSM options of the speaker's listening sockets, kept in step with the
 * peers: one key per peer address with a password (removed when the password or the peer
 * goes), TTL 255 while any peer on the socket uses GTSM (so our SYN-ACK passes the peer's
 * floor), and the GTSM floor itself only when every peer on the socket uses GTSM with the same
 * hop count (IP_MINTTL is per socket). The FFI is loaded only when something has to be set.
 */
export class ListenerSecurity {
  private readonly listeners = new Map<Server, ListenerState>();

  constructor(
    private readonly loader: TcpSecurityLoader,
    private readonly log: BgpLogger,
  ) {}

  /** A listening socket opened on `address`. */
  add(server: Server, address: string): void {
    const v6 = address.includes(':');
    this.listeners.set(server, { address, v6, dualStack: false, keys: new Map(), ttl: undefined, minTtl: 0, error: undefined });
  }

  /** Forgets one listening socket (it is being closed). */
  remove(server: Server): void {
    this.listeners.delete(server);
  }

  /** Brings every listening socket in line with these peers. Failures are logged and kept per socket. */
  sync(peers: readonly PeerConfig[]): void {
    for (const [server, st] of this.listeners) {
      const served = peers.filter((p) => this.serves(st, p.address));
      const wantKeys = new Map<string, string>();
      for (const p of served) if (p.password !== undefined) wantKeys.set(this.socketAddress(st, p.address), p.password);
      const gtsm = served.filter((p) => p.ttlSecurity !== undefined);
      const hops = new Set(gtsm.map((p) => p.ttlSecurity));
      const wantTtl = gtsm.length > 0 ? GTSM_TTL : undefined;
      const wantMin = served.length > 0 && gtsm.length === served.length && hops.size === 1 ? gtsmMinTtl(gtsm[0].ttlSecurity ?? 1) : 0;
      const keysChange = [...st.keys].some(([a, k]) => wantKeys.get(a) !== k) || [...wantKeys].some(([a, k]) => st.keys.get(a) !== k);
      if (!keysChange && st.ttl === wantTtl && st.minTtl === wantMin) continue;
      let sec: TcpSecurity;
      try {
        sec = this.loader();
      } catch (err) {
        this.failed(st, err);
        continue;
      }
      const fd = handleFd(server);
      if (fd < 0) {
        this.failed(st, new Error('the listening socket has no descriptor'));
        continue;
      }
      const attempt = (what: () => void): boolean => {
        try {
          what();
          return true;
        } catch (err) {
          this.failed(st, err);
          return false;
        }
      };
      let ok = true;
      for (const [addr, key] of [...st.keys]) {
        if (wantKeys.get(addr) === key) continue;
        if (attempt(() => sec.setMd5Key(fd, addr, undefined))) st.keys.delete(addr);
        else ok = false;
      }
      for (const [addr, key] of wantKeys) {
        if (st.keys.get(addr) === key) continue;
        if (attempt(() => sec.setMd5Key(fd, addr, key))) st.keys.set(addr, key);
        else ok = false;
      }
      if (st.ttl !== wantTtl) {
        if (attempt(() => sec.setTtl(fd, st.v6, wantTtl))) st.ttl = wantTtl;
        else ok = false;
      }
      if (st.minTtl !== wantMin) {
        if (attempt(() => sec.setMinTtl(fd, st.v6, wantMin))) st.minTtl = wantMin;
        else ok = false;
      }
      if (ok) st.error = undefined;
      this.log.debug({ listen: st.address, md5Peers: st.keys.size, ttl: st.ttl ?? 'default', minTtl: st.minTtl }, 'listening socket security updated');
    }
  }

  /**
   * Why an inbound connection from this peer, accepted on `server`, must be refused: its
   * password is not (or not yet) the key installed on that listening socket. The kernel then
   * did not check the connection's signature. Undefined when the connection may go on.
   */
  inboundProblem(server: Server, peer: PeerConfig): string | undefined {
    if (peer.password === undefined) return undefined;
    const st = this.listeners.get(server);
    if (!st) return 'no MD5 key on the listening socket';
    if (st.keys.get(this.socketAddress(st, peer.address)) === peer.password) return undefined;
    return st.error ?? 'no MD5 key on the listening socket';
  }

  private serves(st: ListenerState, peerAddress: string): boolean {
    return peerAddress.includes(':') === st.v6 || (st.dualStack && !peerAddress.includes(':'));
  }

  private socketAddress(st: ListenerState, peerAddress: string): string {
    return st.v6 && !peerAddress.includes(':') ? `::ffff:${peerAddress}` : peerAddress;
  }

  private failed(st: ListenerState, err: unknown): void {
    const text = err instanceof Error ? err.message : String(err);
    if (st.error === text) return;
    st.error = text;
    this.log.warn({ listen: st.address, reason: text }, 'listening socket: TCP MD5 / GTSM option not set; peers that need it stay down');
  }
}
