import type { RoutePolicy } from '../rib/route-policy.js';
import type { Family } from '../types.js';

/** One configured BGP neighbour. */
export interface PeerConfig {
  /** The neighbour's address (IPv4 or IPv6 text). With `port`, it identifies the peer. */
  readonly address: string;
  /** The neighbour's BGP port. Default 179. */
  readonly port?: number;
  /** The neighbour's AS. */
  readonly remoteAs: number;
  /** The AS we present to this neighbour (BGPPeer localASNumber); default the speaker's AS. */
  readonly localAs?: number;
  /**
   * Source address of the connections we dial. Default (undefined): the speaker's first listen
   * address of the family that is not a wildcard. `null`: no bind, the kernel picks the source
   * by its routing table (BGPPeer `sourceAddress: None`, GoBGP without `local-address`).
   */
  readonly localAddress?: string | null;
  /** Wait for the neighbour to connect; never connect ourselves. */
  readonly passive?: boolean;
  /** The neighbour is our route-reflector client (RFC 4456); needs the speaker's clusterId. */
  readonly rrClient?: boolean;
  /** Families to negotiate; default both. */
  readonly families?: readonly Family[];
  /** Hold time we propose (0, or 3..65535 s); default 90. */
  readonly holdTimeS?: number;
  /** Keepalive interval; default a third of the negotiated hold time. */
  readonly keepaliveTimeS?: number;
  /** ConnectRetryTime in ms; default 5 000 (BIRD's connect retry is 120 s; agents reconnect faster). */
  readonly connectRetryTimeMs?: number;
  /** Backoff before restarting after a failure; default 1 s doubling to 60 s. */
  readonly idleHold?: { readonly initialMs?: number; readonly maxMs?: number; readonly resetAfterMs?: number };
  /** Next hop towards this neighbour: auto (self for eBGP and own routes), self, keep. */
  readonly nextHopMode?: 'auto' | 'self' | 'keep';
  /** Next-hop address we announce, per family; default the session's local address (IPv4) or none (IPv6). */
  readonly nextHopIPv4?: string;
  readonly nextHopIPv6?: string;
  /** Graceful restart time we advertise (RFC 4724), seconds; 0 disables the capability. Default 120. */
  readonly gracefulRestartTimeS?: number;
  /** How many times our own AS may appear in a received AS_PATH (BGPPeer numAllowedLocalASNumbers). */
  readonly allowOwnAs?: number;
  /**
   * Import rules (Calico BGPFilter importV4/importV6, the filters' rules concatenated in order):
   * the first matching rule accepts or rejects a route the peer sends; no match accepts. Rejected
   * routes are kept aside (soft reconfiguration inbound) and shown as `filtered`; a change
   * re-evaluates them without resetting the session.
   */
  readonly importPolicy?: RoutePolicy;
  /**
   * Export rules (BGPFilter exportV4/exportV6): the first matching rule accepts (the speaker's
   * export filter is skipped; the protocol's export rules still apply) or rejects a route; no
   * match leaves the decision to the speaker's export filter. A change re-announces or
   * withdraws only the differences.
   */
  readonly exportPolicy?: RoutePolicy;
  /** Free-form label carried into status (e.g. "node-to-node mesh"). */
  readonly description?: string;
  /**
   * TCP MD5 signature key (RFC 2385), the resolved secret: 1..80 bytes of UTF-8. Both the
   * dialled and the accepted connection are signed; without a working key the peer stays down
   * (never unauthenticated). A change re-keys: only this peer's session restarts. Never logged
   * nor reported in status.
   */
  readonly password?: string;
  /**
   * GTSM (RFC 5082), BIRD's `ttl security on; multihop N`: we send with TTL 255 and accept
   * only packets that arrived with TTL >= 256 - N, N = this value (1..255, 1 = directly
   * connected).
   */
  readonly ttlSecurity?: number;
}

/** A peer's key: `address` for port 179, `[address]:port` / `address:port` otherwise. */
export function peerKey(address: string, port = 179): string {
  if (port === 179) return address;
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
