/**
 * The BGP data model shared by the codec, the FSM driver and the RIB. Addresses are
 * canonical text (`10.0.0.1`, `2001:db8::1`); prefixes are canonical text with a length
 * (`10.0.0.0/24`, `2001:db8::/32`) and never have host bits set. AS numbers are always
 * 4-octet values internally (RFC 6793); the codec converts at the wire for 2-octet peers.
 */

/** Address family identifier (RFC 4760): 1 = IPv4, 2 = IPv6. */
export type Afi = 1 | 2;
/** Subsequent AFI: only unicast (1) is carried by Tabby. */
export type Safi = number;

export const AFI_IPV4: Afi = 1;
export const AFI_IPV6: Afi = 2;
export const SAFI_UNICAST = 1;

/** A family Tabby exchanges routes for. */
export type Family = 'ipv4-unicast' | 'ipv6-unicast';

/** Canonical prefix text, e.g. `10.0.0.0/24` or `fd00:1::/48`. */
export type Prefix = string;

/** ORIGIN values (RFC 4271 §5.1.1). */
export const ORIGIN_IGP = 0;
export const ORIGIN_EGP = 1;
export const ORIGIN_INCOMPLETE = 2;
export type Origin = 0 | 1 | 2;

/** AS_PATH segment types (RFC 4271 §4.3; confederation types of RFC 5065 are kept as-is). */
export const AS_SET = 1;
export const AS_SEQUENCE = 2;
export const AS_CONFED_SEQUENCE = 3;
export const AS_CONFED_SET = 4;

export interface AsPathSegment {
  readonly type: number;
  readonly asns: readonly number[];
}

/**
 * A BGP Large Community (RFC 8092 §3): Global Administrator (an ASN), Local Data Part 1 and
 * Local Data Part 2, each an unsigned 32-bit value. Written `global:local1:local2`.
 */
export type LargeCommunity = readonly [number, number, number];

/** An attribute the codec did not interpret, carried on as received (RFC 4271 §5). */
export interface RawAttribute {
  /** Attribute flags as received (optional, transitive, partial, extended length bits). */
  readonly flags: number;
  readonly type: number;
  readonly value: Uint8Array;
}

/**
 * Decoded path attributes of a route. MP_REACH_NLRI and MP_UNREACH_NLRI are not here: they
 * carry NLRI and live on {@link UpdateMessage}. Objects of this type are treated as
 * immutable once built, so the RIB can share one between many routes.
 */
export interface PathAttributes {
  readonly origin?: Origin;
  /** With 4-octet AS numbers; AS4_PATH from 2-octet peers is already merged in (RFC 6793 §4.2.3). */
  readonly asPath?: readonly AsPathSegment[];
  /** NEXT_HOP (IPv4 routes carried in the classic NLRI field). */
  readonly nextHop?: string;
  readonly med?: number;
  readonly localPref?: number;
  readonly atomicAggregate?: boolean;
  readonly aggregator?: { readonly asn: number; readonly address: string };
  /** RFC 1997 communities as 32-bit values. */
  readonly communities?: readonly number[];
  /** RFC 8092 large communities, in the order received, duplicates removed (§5). */
  readonly largeCommunities?: readonly LargeCommunity[];
  readonly originatorId?: string;
  readonly clusterList?: readonly string[];
  /** Optional transitive attributes not understood: passed on with the Partial bit set. */
  readonly unknown?: readonly RawAttribute[];
}

/** MP_REACH_NLRI (RFC 4760 §3). */
export interface MpReach {
  readonly afi: Afi;
  readonly safi: Safi;
  /** The next hop(s): one global address, optionally followed by an IPv6 link-local one. */
  readonly nextHops: readonly string[];
  readonly nlri: readonly Prefix[];
}

/** MP_UNREACH_NLRI (RFC 4760 §4). */
export interface MpUnreach {
  readonly afi: Afi;
  readonly safi: Safi;
  readonly withdrawn: readonly Prefix[];
}

/** A BGP capability (RFC 5492) from an OPEN. */
export type Capability =
  | { readonly code: 1; readonly afi: number; readonly safi: number }
  | { readonly code: 2 }
  | {
      readonly code: 64;
      /** Restart State (R) bit. */
      readonly restarting: boolean;
      /** Restart Time in seconds (12 bits). */
      readonly restartTime: number;
      readonly families: readonly { readonly afi: number; readonly safi: number; readonly forwardingPreserved: boolean }[];
    }
  | { readonly code: 65; readonly asn: number }
  | { readonly code: number; readonly value: Uint8Array };

export const CAP_MULTIPROTOCOL = 1;
export const CAP_ROUTE_REFRESH = 2;
export const CAP_GRACEFUL_RESTART = 64;
export const CAP_FOUR_OCTET_AS = 65;

export interface OpenMessage {
  readonly type: 'open';
  readonly version: number;
  /** The 2-octet My Autonomous System field (AS_TRANS 23456 when the real AS needs 4 octets). */
  readonly myAs: number;
  readonly holdTime: number;
  /** BGP Identifier as a dotted quad. */
  readonly bgpId: string;
  readonly capabilities: readonly Capability[];
}

export interface UpdateMessage {
  readonly type: 'update';
  /** Withdrawn IPv4 routes (classic field). */
  readonly withdrawn: readonly Prefix[];
  /** Absent when the UPDATE only withdraws. */
  readonly attributes?: PathAttributes;
  /** IPv4 NLRI (classic field). */
  readonly nlri: readonly Prefix[];
  readonly mpReach?: MpReach;
  readonly mpUnreach?: MpUnreach;
}

export interface NotificationMessage {
  readonly type: 'notification';
  readonly code: number;
  readonly subcode: number;
  readonly data: Uint8Array;
}

export interface KeepaliveMessage {
  readonly type: 'keepalive';
}

/** ROUTE-REFRESH (RFC 2918). */
export interface RouteRefreshMessage {
  readonly type: 'route-refresh';
  readonly afi: number;
  readonly safi: number;
}

export type BgpMessage = OpenMessage | UpdateMessage | NotificationMessage | KeepaliveMessage | RouteRefreshMessage;
