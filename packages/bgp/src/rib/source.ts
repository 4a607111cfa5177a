/**
 * Where a path came from: a BGP peer, or this speaker itself (locally originated).
 * One object per peer session, shared by every route it sent.
 */
export interface PathSource {
  /** Stable key of the peer (`address` or `address:port`); `local` for originated routes. */
  readonly id: string;
  readonly kind: 'peer' | 'local';
  /** Peer address (for tie-breaking and ORIGINATOR_ID); empty for local. */
  readonly address: string;
  /** The peer's AS (ours for local routes). */
  readonly asn: number;
  /** The peer's BGP Identifier (dotted quad). */
  readonly routerId: string;
  /** True when the peer is in our AS. */
  readonly ibgp: boolean;
  /** We are its route reflector (RFC 4456 client). Changes in place when the peer's role changes. */
  rrClient: boolean;
}

/** The source of locally originated routes. */
export function localSource(asn: number, routerId: string): PathSource {
  return { id: 'local', kind: 'local', address: '', asn, routerId, ibgp: false, rrClient: false };
}
