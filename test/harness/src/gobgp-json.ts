import type { BgpOrigin } from './bird-show.js';
import type { IpFamily } from './ip-family.js';

/**
 * Parsers for the JSON the `gobgp` CLI prints with `-j` (GoBGP 3.10): `neighbor`,
 * `global rib`, `neighbor ADDR adj-in|adj-out`. Protobuf JSON leaves zero values out, so
 * every count defaults to 0.
 */

export type GobgpSessionState = 'idle' | 'connect' | 'active' | 'opensent' | 'openconfirm' | 'established' | 'unknown';

/** Per-family counters of a neighbor. */
export interface GobgpFamilyCounters {
  readonly received: number;
  readonly accepted: number;
  readonly advertised: number;
}

export interface GobgpNeighborState {
  readonly address: string;
  readonly peerAs?: number;
  readonly state: GobgpSessionState;
  readonly routerId?: string;
  readonly families: Partial<Readonly<Record<IpFamily, GobgpFamilyCounters>>>;
}

/** One path of a RIB (global, adj-in or adj-out). */
export interface GobgpPath {
  readonly prefix: string;
  readonly best: boolean;
  /** NEXT_HOP (type 3) or the MP_REACH_NLRI next hop (type 14). */
  readonly nextHop?: string;
  readonly origin?: BgpOrigin;
  /** ASNs in order (AS_SET members flattened in place). */
  readonly asPath: readonly number[];
  readonly med?: number;
  readonly localPref?: number;
  /** `65000:1`. */
  readonly communities: readonly string[];
  /** `1:2:3`. */
  readonly largeCommunities: readonly string[];
  readonly originatorId?: string;
  readonly clusterList: readonly string[];
  /** The peer it came from; absent for locally originated paths. */
  readonly neighborIp?: string;
  readonly sourceId?: string;
  /** The attributes as gobgp printed them. */
  readonly attrs: readonly RawAttr[];
}

interface RawFamily {
  afi?: number;
  safi?: number;
}

interface RawNeighbor {
  conf?: { neighbor_address?: string; peer_asn?: number };
  state?: { neighbor_address?: string; peer_asn?: number; session_state?: number | string; router_id?: string };
  afi_safis?: { state?: { family?: RawFamily; received?: number; accepted?: number; advertised?: number } }[];
}

/** A path attribute as gobgp prints it: `{type, …}` with type-specific fields. */
export interface RawAttr {
  readonly type: number;
  readonly value?: unknown;
  readonly as_paths?: { segment_type?: number; asns?: number[] }[];
  readonly nexthop?: string;
  readonly metric?: number;
  readonly communities?: number[];
  readonly [key: string]: unknown;
}

interface RawPath {
  nlri?: { prefix?: string };
  best?: boolean;
  attrs?: RawAttr[];
  'neighbor-ip'?: string;
  'source-id'?: string;
}

const STATES: readonly GobgpSessionState[] = ['unknown', 'idle', 'connect', 'active', 'opensent', 'openconfirm', 'established'];

function sessionState(s: number | string | undefined): GobgpSessionState {
  if (typeof s === 'number') return STATES[s] ?? 'unknown';
  if (typeof s === 'string') {
    const name = s.toLowerCase().replace(/^session_state_/, '') as GobgpSessionState;
    return STATES.includes(name) ? name : 'unknown';
  }
  return 'unknown';
}

function familyName(f: RawFamily | undefined): IpFamily | undefined {
  if (f?.safi !== 1) return undefined;
  return f.afi === 1 ? 'ipv4' : f.afi === 2 ? 'ipv6' : undefined;
}

function parseJson(text: string, what: string): unknown {
  const t = text.trim();
  if (t === '' || t === 'null') return undefined;
  try {
    return JSON.parse(t) as unknown;
  } catch (e) {
    throw new Error(`gobgp printed no JSON for ${what}: ${t.slice(0, 200)}`, { cause: e });
  }
}

/** `gobgp neighbor -j`. */
export function parseGobgpNeighbors(text: string): GobgpNeighborState[] {
  const list = (parseJson(text, 'neighbor') ?? []) as RawNeighbor[];
  return list.map((n) => {
    const families: Partial<Record<IpFamily, GobgpFamilyCounters>> = {};
    for (const af of n.afi_safis ?? []) {
      const name = familyName(af.state?.family);
      if (name) families[name] = { received: af.state?.received ?? 0, accepted: af.state?.accepted ?? 0, advertised: af.state?.advertised ?? 0 };
    }
    return {
      address: n.state?.neighbor_address ?? n.conf?.neighbor_address ?? '',
      peerAs: n.state?.peer_asn ?? n.conf?.peer_asn,
      state: sessionState(n.state?.session_state),
      routerId: n.state?.router_id,
      families,
    };
  });
}

const ORIGINS: readonly BgpOrigin[] = ['igp', 'egp', 'incomplete'];

function stringList(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String);
  if (typeof v === 'string') return v.split(/[\s,]+/).filter(Boolean);
  return [];
}

function toPath(prefix: string, p: RawPath): GobgpPath {
  const attrs = p.attrs ?? [];
  const attr = (type: number): RawAttr | undefined => attrs.find((a) => a.type === type);
  const asPath = (attr(2)?.as_paths ?? []).flatMap((s) => s.asns ?? []);
  const originValue = attr(1)?.value;
  const large = attr(32)?.value;
  return {
    prefix: p.nlri?.prefix ?? prefix,
    best: p.best === true,
    nextHop: attr(3)?.nexthop ?? attr(14)?.nexthop,
    origin: typeof originValue === 'number' ? ORIGINS[originValue] : undefined,
    asPath,
    med: attr(4)?.metric,
    localPref: typeof attr(5)?.value === 'number' ? (attr(5)?.value as number) : undefined,
    communities: (attr(8)?.communities ?? []).map((c) => `${Math.floor(c / 65536)}:${c % 65536}`),
    largeCommunities: Array.isArray(large)
      ? (large as { ASN?: number; LocalData1?: number; LocalData2?: number }[]).map((l) => `${l.ASN ?? 0}:${l.LocalData1 ?? 0}:${l.LocalData2 ?? 0}`)
      : [],
    originatorId: typeof attr(9)?.value === 'string' ? (attr(9)?.value as string) : undefined,
    clusterList: stringList(attr(10)?.value),
    neighborIp: p['neighbor-ip'],
    sourceId: p['source-id'],
    attrs,
  };
}

/** `gobgp global rib -j` and `gobgp neighbor ADDR adj-in|adj-out -j`: every path of every prefix. */
export function parseGobgpRib(text: string): GobgpPath[] {
  const rib = (parseJson(text, 'rib') ?? {}) as Record<string, RawPath[] | null>;
  return Object.entries(rib).flatMap(([prefix, paths]) => (paths ?? []).map((p) => toPath(prefix, p)));
}
