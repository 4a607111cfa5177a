import { AS_SEQUENCE, type AsPathSegment, type Family, type PathAttributes } from '../types.js';
import { DEFAULT_LOCAL_PREF, type Path } from './best-path.js';
import type { PathSource } from './source.js';

/** RFC 1997 well-known communities. */
export const COMMUNITY_NO_EXPORT = 0xffffff01;
export const COMMUNITY_NO_ADVERTISE = 0xffffff02;
export const COMMUNITY_NO_EXPORT_SUBCONFED = 0xffffff03;

/** How a peer receives our routes. */
export interface ExportPeer {
  /** Same key as the peer's PathSource id: routes are never sent back where they came from. */
  readonly id: string;
  /** Internal peer (same AS). */
  readonly ibgp: boolean;
  /** The peer is our route-reflector client (RFC 4456). */
  readonly rrClient: boolean;
  /** The AS we present to this peer (the BGPPeer's localASNumber, or the node's AS). */
  readonly localAs: number;
  readonly routerId: string;
  /** Our cluster id when we reflect routes (route reflector), else undefined. */
  readonly clusterId?: string;
  /**
   * Next hop towards this peer: `auto` (self for eBGP and for our own routes, unchanged for
   * reflected iBGP routes), `self` (always ours), `keep` (unchanged when the route has one).
   */
  readonly nextHopMode: 'auto' | 'self' | 'keep';
  /** Our next-hop address per family (may differ from the session address: GoBGP and FRR refuse 127/8). */
  readonly nextHopIPv4?: string;
  readonly nextHopIPv6?: string;
}

function prepend(asPath: readonly AsPathSegment[] | undefined, asn: number): AsPathSegment[] {
  const segs = asPath ?? [];
  const first = segs[0];
  if (first && first.type === AS_SEQUENCE && first.asns.length < 255) return [{ type: AS_SEQUENCE, asns: [asn, ...first.asns] }, ...segs.slice(1)];
  return [{ type: AS_SEQUENCE, asns: [asn] }, ...segs];
}

/**
 * What we announce to one peer for a best path, or null when it must not be announced
 * (RFC 4271 §9.1.3, RFC 4456 §6–8, RFC 1997). Results for equal inputs are the same object
 * (cached), so announcements with equal attributes pack into one UPDATE and the Adj-RIB-Out
 * compares by identity. One policy per peer configuration: make a new one when it changes.
 */
export class ExportPolicy {
  private readonly cache = new WeakMap<PathAttributes, WeakMap<PathSource, Partial<Record<Family, PathAttributes | null>>>>();

  constructor(readonly peer: ExportPeer) {}

  exportAttributes(path: Path, family: Family): PathAttributes | null {
    let bySource = this.cache.get(path.attrs);
    if (!bySource) {
      bySource = new WeakMap();
      this.cache.set(path.attrs, bySource);
    }
    let byFamily = bySource.get(path.source);
    if (!byFamily) {
      byFamily = {};
      bySource.set(path.source, byFamily);
    }
    let r = byFamily[family];
    if (r === undefined) {
      r = this.compute(path, family, this.peer);
      byFamily[family] = r;
    }
    return r;
  }

  private compute(path: Path, family: Family, peer: ExportPeer): PathAttributes | null {
    const src = path.source;
    const a = path.attrs;
    if (src.kind === 'peer' && src.id === peer.id) return null;
    const comms = a.communities ?? [];
    if (comms.includes(COMMUNITY_NO_ADVERTISE)) return null;
    if (!peer.ibgp && (comms.includes(COMMUNITY_NO_EXPORT) || comms.includes(COMMUNITY_NO_EXPORT_SUBCONFED))) return null;

    const local = src.kind === 'local';
    let reflected = false;
    if (peer.ibgp && !local && src.ibgp) {
      // iBGP-learned to iBGP: only a route reflector passes it on (RFC 4456 §6).
      if (peer.clusterId === undefined) return null;
      if (!src.rrClient && !peer.rrClient) return null;
      reflected = true;
    }

    const selfNh = family === 'ipv4-unicast' ? peer.nextHopIPv4 : peer.nextHopIPv6;
    const original = a.nextHop;
    let nextHop: string | undefined;
    if (peer.nextHopMode === 'self') nextHop = selfNh ?? original;
    else if (peer.nextHopMode === 'keep') nextHop = original ?? selfNh;
    else nextHop = local || !peer.ibgp || original === undefined ? (selfNh ?? original) : original;

    // Without a next hop of the family (e.g. IPv6 over an IPv4 session with no IPv6 next hop
    // configured) the route cannot be announced: BIRD and GoBGP would reject it.
    if (nextHop === undefined) return null;
    const out: {
      -readonly [K in keyof PathAttributes]: PathAttributes[K];
    } = {
      origin: a.origin ?? 0,
      nextHop,
    };
    if (a.atomicAggregate) out.atomicAggregate = true;
    if (a.aggregator) out.aggregator = a.aggregator;
    if (a.communities && a.communities.length > 0) out.communities = a.communities;
    if (a.largeCommunities && a.largeCommunities.length > 0) out.largeCommunities = a.largeCommunities;
    if (a.unknown && a.unknown.length > 0) out.unknown = a.unknown;
    if (peer.ibgp) {
      out.asPath = a.asPath ?? [];
      out.localPref = a.localPref ?? DEFAULT_LOCAL_PREF;
      if (a.med !== undefined) out.med = a.med;
      if (reflected) {
        out.originatorId = a.originatorId ?? src.routerId;
        out.clusterList = [peer.clusterId as string, ...(a.clusterList ?? [])];
      } else {
        if (a.originatorId !== undefined) out.originatorId = a.originatorId;
        if (a.clusterList !== undefined) out.clusterList = a.clusterList;
      }
    } else {
      out.asPath = prepend(a.asPath, peer.localAs);
      // MED from another AS is not passed on to a third (RFC 4271 §5.1.4); ours is.
      if (local && a.med !== undefined) out.med = a.med;
    }
    return out;
  }
}
