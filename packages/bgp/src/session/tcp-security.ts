/**
 * TCP MD5 signatures (RFC 2385) and GTSM (RFC 5082) on Linux sockets: the one place that calls
 * libc. Node has no API for these socket options, so `setsockopt` goes through the `koffi` FFI
 * package, loaded on first use only: a speaker without passwords or GTSM never loads it.
 *
 * Nothing here logs, and no error message carries a key.
 */
import { createRequire } from 'node:module';
import { isIPv4, isIPv6, type Server, type Socket } from 'node:net';
import type * as KoffiModule from 'koffi';

const IPPROTO_IP = 0;
const IPPROTO_TCP = 6;
const IPPROTO_IPV6 = 41;
const TCP_MD5SIG = 14;
const IP_TTL = 2;
const IP_MINTTL = 21;
const IPV6_UNICAST_HOPS = 16;
const IPV6_MINHOPCOUNT = 73;
const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;

/** RFC 2385 keys are at most 80 octets on Linux (TCP_MD5SIG_MAXKEYLEN). */
export const TCP_MD5_MAX_KEY_BYTES = 80;
/** `struct tcp_md5sig`: sockaddr_storage (128), flags, prefixlen, keylen (u16), ifindex (u32), key[80]. */
const MD5SIG_SIZE = 216;
const MD5SIG_KEYLEN_OFFSET = 130;
const MD5SIG_KEY_OFFSET = 136;

/** The socket options of session security, on a socket's file descriptor. */
export interface TcpSecurity {
  /**
   * Installs the RFC 2385 key for segments to and from `peerAddress` on this socket (a
   * listening socket holds one key per peer address), or removes it (`key` undefined).
   * Removing a key that is not there is not an error.
   */
  setMd5Key(fd: number, peerAddress: string, key: string | undefined): void;
  /** TTL / hop limit of what the socket sends (IP_TTL, IPV6_UNICAST_HOPS); undefined = the system default. */
  setTtl(fd: number, v6: boolean, ttl: number | undefined): void;
  /** The least TTL / hop limit accepted (IP_MINTTL, IPV6_MINHOPCOUNT); 0 turns the check off. */
  setMinTtl(fd: number, v6: boolean, minTtl: number): void;
  /** A new, unconnected TCP socket (close-on-exec), to set options on before `connect`. */
  createSocket(v6: boolean): number;
  /** Closes a descriptor from {@link createSocket} that was never handed to a `net.Socket`. */
  closeSocket(fd: number): void;
}

/** Loads the implementation; throws {@link TcpSecurityError} when it cannot. */
export type TcpSecurityLoader = () => TcpSecurity;

/** A socket option could not be set, or the FFI could not be loaded. The message never holds a key. */
export class TcpSecurityError extends Error {
  override readonly name = 'TcpSecurityError';
}

export function isTcpSecurityError(err: unknown): err is TcpSecurityError {
  return err instanceof TcpSecurityError;
}

let loaded: TcpSecurity | undefined;
let loadError: TcpSecurityError | undefined;

/** The libc implementation (through koffi), loaded once; later calls return the same object or error. */
export const loadTcpSecurity: TcpSecurityLoader = () => {
  if (loaded) return loaded;
  if (loadError) throw loadError;
  try {
    loaded = libcTcpSecurity();
    return loaded;
  } catch (err) {
    loadError = err instanceof TcpSecurityError ? err : new TcpSecurityError(`TCP MD5/GTSM unavailable: cannot load koffi/libc (${(err as Error).message})`, { cause: err });
    throw loadError;
  }
};

type IntFn = (...args: (number | Buffer)[]) => number;

function libcTcpSecurity(): TcpSecurity {
  if (process.platform !== 'linux') throw new TcpSecurityError(`TCP MD5/GTSM unavailable: needs Linux, this is ${process.platform}`);
  const koffi = createRequire(import.meta.url)('koffi') as typeof KoffiModule;
  const libc = koffi.load('libc.so.6');
  const setsockopt = libc.func('int setsockopt(int fd, int level, int name, const void *val, uint32_t len)') as IntFn;
  const socket = libc.func('int socket(int domain, int type, int protocol)') as IntFn;
  const close = libc.func('int close(int fd)') as IntFn;
  const errnoText = (): string => {
    const e = koffi.errno();
    const name = Object.entries(koffi.os.errno).find(([, v]) => v === e)?.[0];
    return name ? `${name} (errno ${e})` : `errno ${e}`;
  };
  const intOpt = (fd: number, level: number, name: number, what: string, value: number): void => {
    const b = Buffer.alloc(4);
    b.writeInt32LE(value);
    if (setsockopt(fd, level, name, b, 4) !== 0) throw new TcpSecurityError(`setsockopt ${what}: ${errnoText()}`);
  };
  return {
    setMd5Key(fd, peerAddress, key) {
      const b = md5sig(peerAddress, key);
      if (setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, b, MD5SIG_SIZE) === 0) return;
      const e = koffi.errno();
      // Deleting a key the socket does not have.
      if (key === undefined && e === koffi.os.errno.ENOENT) return;
      throw new TcpSecurityError(`setsockopt TCP_MD5SIG for ${peerAddress}: ${errnoText()}`);
    },
    setTtl(fd, v6, ttl) {
      if (v6) intOpt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 'IPV6_UNICAST_HOPS', ttl ?? -1);
      else intOpt(fd, IPPROTO_IP, IP_TTL, 'IP_TTL', ttl ?? -1);
    },
    setMinTtl(fd, v6, minTtl) {
      if (v6) intOpt(fd, IPPROTO_IPV6, IPV6_MINHOPCOUNT, 'IPV6_MINHOPCOUNT', minTtl);
      else intOpt(fd, IPPROTO_IP, IP_MINTTL, 'IP_MINTTL', minTtl);
    },
    createSocket(v6) {
      const fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
      if (fd < 0) throw new TcpSecurityError(`socket(): ${errnoText()}`);
      return fd;
    },
    closeSocket(fd) {
      close(fd);
    },
  };
}

/** `struct tcp_md5sig` for a peer address (port 0, full prefix) and key; no key = delete. */
export function md5sig(peerAddress: string, key: string | undefined): Buffer {
  const b = Buffer.alloc(MD5SIG_SIZE);
  if (isIPv4(peerAddress)) {
    b.writeUInt16LE(AF_INET, 0); // sockaddr_in: family, port (0), address
    Buffer.from(peerAddress.split('.').map(Number)).copy(b, 4);
  } else if (isIPv6(peerAddress)) {
    b.writeUInt16LE(AF_INET6, 0); // sockaddr_in6: family, port, flowinfo, address at 8
    ipv6Bytes(peerAddress).copy(b, 8);
  } else {
    throw new TcpSecurityError(`TCP MD5: "${peerAddress}" is not an IP address`);
  }
  const k = Buffer.from(key ?? '', 'utf8');
  if (k.length > TCP_MD5_MAX_KEY_BYTES) throw new TcpSecurityError(`TCP MD5: key longer than ${TCP_MD5_MAX_KEY_BYTES} bytes`);
  b.writeUInt16LE(k.length, MD5SIG_KEYLEN_OFFSET);
  k.copy(b, MD5SIG_KEY_OFFSET);
  return b;
}

function ipv6Bytes(text: string): Buffer {
  let s = text;
  const out = Buffer.alloc(16);
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const [a, b, c, d] = v4[1].split('.').map(Number);
    s = `${s.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** The file descriptor under a net Server or Socket (libuv's handle), or -1 when it has none. */
export function handleFd(s: Server | Socket): number {
  const h = (s as unknown as { _handle?: { fd?: unknown } | null })._handle;
  return typeof h?.fd === 'number' ? h.fd : -1;
}

/** The GTSM floor for `hops` (RFC 5082 §3): packets must arrive with TTL >= 256 - hops. */
export function gtsmMinTtl(hops: number): number {
  return 256 - hops;
}
