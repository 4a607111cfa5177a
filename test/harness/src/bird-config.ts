import { familyOf, type IpFamily } from './ip-family.js';
import { assertLoopback, assertPort, loopbackNextHops } from './loopback.js';

/**
 * bird.conf for a BIRD 2 test peer, generated from a structured config. The output always
 * has `strict bind` and explicit ports on every BGP session, no `protocol kernel` (nothing
 * reaches this machine's routing table), and private IGP tables so received routes resolve
 * (`unicast … dev lo` instead of `unreachable`).
 */

/** What BIRD puts into NEXT_HOP / MP_REACH towards a peer. */
export type BirdNextHop =
  /** `next hop self`: the session's source address (a 127/8 address: GoBGP/FRR reject it; none for IPv6 over IPv4). */
  | 'self'
  /** `next hop keep`: forward the received next hop (locally originated routes still use `address`). */
  | 'keep'
  /** `next hop address X` (+ `next hop keep` when `keep`): X where BIRD would use its own address. */
  | { readonly address: string; readonly keep?: boolean };

/** BGP timers in seconds. Defaults: hold 9, keepalive 3, connect retry 2, connect delay 1, error wait 1..5. */
export interface BirdTimers {
  readonly hold?: number;
  readonly keepalive?: number;
  readonly connectRetry?: number;
  readonly connectDelay?: number;
  /**
   * `error wait time MIN, MAX`: delay before BIRD restarts a session after an error (hold timer
   * expired, NOTIFICATION). BIRD's default 60, 300 would keep a flapped session down for a minute.
   */
  readonly errorWait?: readonly [number, number];
}

/** One `protocol bgp`. */
export interface BirdPeer {
  /** Protocol name (a BIRD symbol: letters, digits, `_`). */
  readonly name: string;
  /**
   * The neighbor's address (loopback only) and port. BIRD 2.0.12 allows one session per
   * neighbor address + port (the second protocol would wait for a lock, Idle forever), so
   * renderBirdConfig rejects duplicates: a second session to the same daemon needs another
   * neighbor address (e.g. GoBGP dialing from another 127.x as its transport local address).
   */
  readonly neighbor: string;
  readonly neighborPort: number;
  readonly remoteAs: number;
  /** Source address and listen address of this session; default {@link BirdConfig.address}. */
  readonly localAddress?: string;
  /** Listen port of this session; default {@link BirdConfig.port}. */
  readonly localPort?: number;
  /** `passive on`: never connect, wait for the neighbor. */
  readonly passive?: boolean;
  /** `multihop [ttl]`. Default: on for eBGP (BIRD refuses a direct session to 127.x), off for iBGP (already multihop). */
  readonly multihop?: boolean | number;
  readonly timers?: BirdTimers;
  /** `rr client` (iBGP only) and the cluster id, e.g. `10.0.0.2`. */
  readonly rrClient?: boolean;
  readonly rrClusterId?: string;
  /** Channels to open; default both. */
  readonly families?: readonly IpFamily[];
  /** Per family; default `{ address: <BirdConfig.nextHop4/6> }`. */
  readonly nextHop?: { readonly ipv4?: BirdNextHop; readonly ipv6?: BirdNextHop };
  /** `extended next hop on` on the ipv6 channel (accept/send IPv4 next hops for IPv6 routes, RFC 8950). */
  readonly extendedNextHop?: boolean;
  /** Channel filters, as BIRD writes them: `all`, `none`, `where …`, `filter NAME`. Default `all`. */
  readonly import?: string;
  readonly export?: string;
  /** `disabled`: configured but not started. */
  readonly disabled?: boolean;
  /** `password "…"`: TCP MD5 signatures (RFC 2385) on this session. */
  readonly password?: string;
  /** `ttl security on` (GTSM, RFC 5082): with `multihop N` BIRD accepts TTL >= 256 - N; without multihop N = 1. */
  readonly ttlSecurity?: boolean;
  /** Raw statements added inside the protocol block. */
  readonly extra?: readonly string[];
}

/** A blackhole route BIRD originates, in a static protocol of its own (so it can be withdrawn alone). */
export interface BirdStaticRoute {
  readonly prefix: string;
  /** Protocol name; default {@link staticProtocolName}. */
  readonly name?: string;
}

export interface BirdConfig {
  /** Instance name: names the files in the directory (`NAME.conf`, `NAME.ctl`) and the process. Default `bird`. */
  readonly name?: string;
  readonly routerId: string;
  /** Listen/source address of the BGP sessions (loopback only), and the listen port. */
  readonly address: string;
  readonly port: number;
  readonly as: number;
  /** Next hops announced by default; default {@link loopbackNextHops} of `address` (or of `routerId` for ::1). */
  readonly nextHop4?: string;
  readonly nextHop6?: string;
  /** Originated prefixes (IPv4 or IPv6), each a static blackhole route. */
  readonly statics?: readonly (string | BirdStaticRoute)[];
  readonly peers?: readonly BirdPeer[];
  /** `debug protocols all` (verbose log: states, events, routes). */
  readonly debug?: boolean;
  /** Raw top-level config (filters, functions) placed before the protocols. */
  readonly extra?: string;
}

const SYMBOL = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The static protocol name of an originated prefix: `s4_10_2_0_0_24`, `s6_fd42_2__48`. */
export function staticProtocolName(prefix: string): string {
  return `s${familyOf(prefix) === 'ipv4' ? 4 : 6}_${prefix.replace(/[^A-Za-z0-9]/g, '_')}`;
}

/** The static routes of a config in their object form, with names filled in. */
export function staticRoutes(config: BirdConfig): { prefix: string; name: string; family: IpFamily }[] {
  return (config.statics ?? []).map((s) => {
    const r = typeof s === 'string' ? { prefix: s } : s;
    return { prefix: r.prefix, name: r.name ?? staticProtocolName(r.prefix), family: familyOf(r.prefix) };
  });
}

/** The default next hops of a config (explicit or derived from the listen address). */
export function birdNextHops(config: BirdConfig): { ipv4: string; ipv6: string } {
  const derived = loopbackNextHops(config.address.includes('.') ? config.address : config.routerId);
  return { ipv4: config.nextHop4 ?? derived.ipv4, ipv6: config.nextHop6 ?? derived.ipv6 };
}

/** A BIRD string literal. BIRD 2's lexer has no escapes: a `"` or a newline cannot be written. */
function birdString(s: string, what: string): string {
  if (/["\n]/.test(s)) throw new Error(`${what}: BIRD strings cannot hold a double quote or a newline`);
  return `"${s}"`;
}

function nextHopLines(nh: BirdNextHop): string[] {
  if (nh === 'self') return ['next hop self;'];
  if (nh === 'keep') return ['next hop keep;'];
  return [...(nh.keep ? ['next hop keep;'] : []), `next hop address ${nh.address};`];
}

function peerBlock(config: BirdConfig, p: BirdPeer, defaults: { ipv4: string; ipv6: string }): string {
  if (!SYMBOL.test(p.name)) throw new Error(`BIRD protocol name "${p.name}" is not a symbol (letters, digits, _)`);
  const local = p.localAddress ?? config.address;
  const localPort = p.localPort ?? config.port;
  assertLoopback(local, `peer ${p.name}: local address`);
  assertLoopback(p.neighbor, `peer ${p.name}: neighbor address`);
  assertPort(localPort, `peer ${p.name}: local port`);
  assertPort(p.neighborPort, `peer ${p.name}: neighbor port`);
  const ebgp = p.remoteAs !== config.as;
  const multihop = p.multihop ?? ebgp;
  const t = p.timers ?? {};
  const lines = [
    `local ${local} port ${localPort} as ${config.as};`,
    `neighbor ${p.neighbor} port ${p.neighborPort} as ${p.remoteAs};`,
    'strict bind;',
    ...(multihop === false ? [] : [multihop === true ? 'multihop;' : `multihop ${multihop};`]),
    ...(p.passive ? ['passive on;'] : []),
    `hold time ${t.hold ?? 9}; keepalive time ${t.keepalive ?? 3}; connect retry time ${t.connectRetry ?? 2}; connect delay time ${t.connectDelay ?? 1};`,
    `error wait time ${(t.errorWait ?? [1, 5]).join(', ')};`,
    ...(p.rrClient ? ['rr client;'] : []),
    ...(p.rrClusterId ? [`rr cluster id ${p.rrClusterId};`] : []),
    ...(p.disabled ? ['disabled;'] : []),
    ...(p.password !== undefined ? [`password ${birdString(p.password, `peer ${p.name}: password`)};`] : []),
    ...(p.ttlSecurity ? ['ttl security on;'] : []),
  ];
  for (const family of p.families ?? ['ipv4', 'ipv6']) {
    const enh = family === 'ipv6' && p.extendedNextHop === true;
    const nh = p.nextHop?.[family] ?? { address: defaults[family] };
    const ch = [
      `igp table ${family === 'ipv4' ? 'igp4' : 'igp6'};`,
      ...(enh ? ['igp table igp4;', 'extended next hop on;'] : []),
      `import ${p.import ?? 'all'};`,
      `export ${p.export ?? 'all'};`,
      ...nextHopLines(nh),
    ];
    lines.push(`${family} {`, ...ch.map((l) => `  ${l}`), '};');
  }
  lines.push(...(p.extra ?? []));
  return [`protocol bgp ${p.name} {`, ...lines.map((l) => `  ${l}`), '}'].join('\n');
}

/** Renders bird.conf. Throws on a non-loopback address, a missing port or a `protocol kernel` in `extra`. */
export function renderBirdConfig(config: BirdConfig): string {
  assertLoopback(config.address, 'BIRD listen address');
  assertPort(config.port, 'BIRD listen port');
  if (config.extra && /protocol\s+kernel/.test(config.extra)) throw new Error('no protocol kernel in test peers: it would write routes into this machine\'s table');
  for (const p of config.peers ?? []) {
    if (p.extra?.some((l) => /protocol\s+kernel/.test(l))) throw new Error('no protocol kernel in test peers');
  }
  const defaults = birdNextHops(config);
  const out = [
    '# Generated by @tabby/harness (startBird). No protocol kernel: nothing reaches the host FIB.',
    'log stderr all;',
    `router id ${config.routerId};`,
    ...(config.debug ? ['debug protocols all;'] : []),
    'protocol device { }',
    '# Private IGP tables, only for BGP next-hop resolution.',
    'ipv4 table igp4;',
    'ipv6 table igp6;',
    'protocol static igp4s { ipv4 { table igp4; }; route 0.0.0.0/0 via "lo"; }',
    'protocol static igp6s { ipv6 { table igp6; }; route ::/0 via "lo"; }',
  ];
  if (config.extra) out.push(config.extra);
  const names = new Set<string>();
  for (const s of staticRoutes(config)) {
    if (!SYMBOL.test(s.name)) throw new Error(`static protocol name "${s.name}" is not a BIRD symbol`);
    if (names.has(s.name)) throw new Error(`duplicate static route ${s.prefix} (${s.name})`);
    names.add(s.name);
    out.push(`protocol static ${s.name} { ${s.family}; route ${s.prefix} blackhole; }`);
  }
  // BIRD 2.0.12 locks a BGP session by neighbor address + port (not the local end): a second
  // protocol to the same neighbor endpoint waits for the lock and stays Idle forever.
  const endpoints = new Map<string, string>();
  for (const p of config.peers ?? []) {
    if (names.has(p.name)) throw new Error(`duplicate protocol name ${p.name}`);
    names.add(p.name);
    const endpoint = `${p.neighbor} port ${p.neighborPort}`;
    const other = endpoints.get(endpoint);
    if (other) throw new Error(`peers ${other} and ${p.name} both go to ${endpoint}: BIRD locks sessions by neighbor address and port, so ${p.name} would stay Idle; give the neighbor another address`);
    endpoints.set(endpoint, p.name);
    out.push(peerBlock(config, p, defaults));
  }
  return `${out.join('\n')}\n`;
}
