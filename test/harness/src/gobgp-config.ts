import type { IpFamily } from './ip-family.js';
import { assertLoopback, assertPort } from './loopback.js';

/**
 * gobgpd.toml for a GoBGP 3 test peer, generated from a structured config. It always lists
 * `local-address-list` (no wildcard listen) and an explicit remote port and local address
 * per neighbor; the gRPC API address is given on the command line by startGobgp.
 */

/**
 * Timers in seconds. Defaults: connect retry 2, hold 9, keepalive 3, idle hold after reset 1.
 * GoBGP 3.10 raises a connect retry below 5 s to 5 s, and after a session loss that is not an
 * administrative reset it stays Idle for a fixed 5 s: a session that only GoBGP can open
 * (the other side passive or just restarted) takes about 5 s to come up. Let the other side dial.
 */
export interface GobgpTimers {
  readonly connectRetry?: number;
  readonly hold?: number;
  readonly keepalive?: number;
  readonly idleHoldTimeAfterReset?: number;
}

export interface GobgpNeighbor {
  /** The neighbor's address (loopback only) and port. */
  readonly address: string;
  readonly remotePort: number;
  readonly remoteAs: number;
  /** Source address of the session; default {@link GobgpConfig.address}. */
  readonly localAddress?: string;
  /** `passive-mode`: never connect, wait for the neighbor. */
  readonly passive?: boolean;
  /**
   * eBGP multihop TTL (`true` = 10). Default on for eBGP, off for iBGP, and off with
   * {@link ttlSecurity} (GoBGP refuses both on one neighbor).
   */
  readonly multihop?: boolean | number;
  /**
   * GTSM (RFC 5082) for a neighbor `ttlSecurity` hops away (1 = directly connected):
   * `[neighbors.ttl-security.config] enabled = true, ttl-min = 256 - hops`: GoBGP then sends
   * with TTL 255 and drops what arrives with a lower TTL.
   */
  readonly ttlSecurity?: number;
  readonly timers?: GobgpTimers;
  /** `route-reflector-client` and the cluster id (set it on each client). */
  readonly rrClient?: boolean;
  readonly rrClusterId?: string;
  /** AFI/SAFIs to negotiate; default both unicast families. */
  readonly families?: readonly IpFamily[];
  /** `auth-password`: TCP MD5 signatures (RFC 2385) on this session. */
  readonly authPassword?: string;
}

export interface GobgpConfig {
  /** Instance name: names the files in the directory (`NAME.toml`, `NAME.log`) and the process. Default `gobgpd`. */
  readonly name?: string;
  readonly as: number;
  readonly routerId: string;
  /** Listen address (loopback only; `local-address-list`) and port. */
  readonly address: string;
  readonly port: number;
  /** gRPC API port on 127.0.0.1; default: a free port picked at start. */
  readonly apiPort?: number;
  readonly neighbors?: readonly GobgpNeighbor[];
  /** Raw TOML appended at the end (defined-sets, policy-definitions, `[global.apply-policy…]`). */
  readonly extra?: string;
}

const q = (s: string): string => JSON.stringify(s);

/**
 * The `[neighbors.ttl-security.config]` block for a neighbor `hops` hops away (1..255): GoBGP's
 * `ttl-min` is the least TTL accepted, 255 for a direct neighbor, 256 - hops in general.
 */
export function gobgpTtlSecurityLines(hops: number, what: string): string[] {
  if (!Number.isInteger(hops) || hops < 1 || hops > 255) throw new Error(`${what}: ttlSecurity must be a hop count 1..255, got ${hops}`);
  return ['  [neighbors.ttl-security.config]', '    enabled = true', `    ttl-min = ${256 - hops}`];
}

function neighborBlock(config: GobgpConfig, n: GobgpNeighbor): string[] {
  const local = n.localAddress ?? config.address;
  assertLoopback(n.address, `neighbor ${n.address}: address`);
  assertLoopback(local, `neighbor ${n.address}: local address`);
  assertPort(n.remotePort, `neighbor ${n.address}: remote port`);
  const t = n.timers ?? {};
  if (n.ttlSecurity !== undefined && n.multihop !== undefined && n.multihop !== false) {
    throw new Error(`neighbor ${n.address}: ttlSecurity and multihop exclude each other in GoBGP`);
  }
  const multihop = n.multihop ?? (n.ttlSecurity === undefined && n.remoteAs !== config.as);
  const lines = [
    '[[neighbors]]',
    '  [neighbors.config]',
    `    neighbor-address = ${q(n.address)}`,
    `    peer-as = ${n.remoteAs}`,
    ...(n.authPassword !== undefined ? [`    auth-password = ${q(n.authPassword)}`] : []),
    '  [neighbors.transport.config]',
    `    local-address = ${q(local)}`,
    `    remote-port = ${n.remotePort}`,
    ...(n.passive ? ['    passive-mode = true'] : []),
    '  [neighbors.timers.config]',
    `    connect-retry = ${t.connectRetry ?? 2}`,
    `    hold-time = ${t.hold ?? 9}`,
    `    keepalive-interval = ${t.keepalive ?? 3}`,
    `    idle-hold-time-after-reset = ${t.idleHoldTimeAfterReset ?? 1}`,
  ];
  if (multihop !== false) {
    lines.push('  [neighbors.ebgp-multihop.config]', '    enabled = true', `    multihop-ttl = ${multihop === true ? 10 : multihop}`);
  }
  if (n.ttlSecurity !== undefined) lines.push(...gobgpTtlSecurityLines(n.ttlSecurity, `neighbor ${n.address}`));
  if (n.rrClient || n.rrClusterId) {
    lines.push('  [neighbors.route-reflector.config]');
    if (n.rrClient) lines.push('    route-reflector-client = true');
    if (n.rrClusterId) lines.push(`    route-reflector-cluster-id = ${q(n.rrClusterId)}`);
  }
  for (const f of n.families ?? ['ipv4', 'ipv6']) {
    lines.push('  [[neighbors.afi-safis]]', '    [neighbors.afi-safis.config]', `      afi-safi-name = ${q(`${f}-unicast`)}`);
  }
  return lines;
}

/** Renders gobgpd.toml. Throws on a non-loopback address or a missing port. */
export function renderGobgpConfig(config: GobgpConfig): string {
  assertLoopback(config.address, 'GoBGP listen address');
  assertPort(config.port, 'GoBGP listen port');
  const out = [
    '# Generated by @tabby/harness (startGobgp).',
    '[global.config]',
    `  as = ${config.as}`,
    `  router-id = ${q(config.routerId)}`,
    `  port = ${config.port}`,
    `  local-address-list = [${q(config.address)}]`,
  ];
  for (const n of config.neighbors ?? []) out.push(...neighborBlock(config, n));
  if (config.extra) out.push(config.extra);
  return `${out.join('\n')}\n`;
}
