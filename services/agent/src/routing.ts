/**
 * What a node's routing table and BGP originations should be: a pure function of its
 * compiled configuration (affine blocks, workloads, pools), its Loc-RIB and the
 * interfaces that exist. No sockets, no netlink: the agent feeds the result to its
 * Dataplane and its speaker. The rules are Calico's (docs/calico-compat.md §2.8 and
 * ../reference: BIRD's static blackholes, `calico_aggr`, `calico_export_to_bgp_peers`,
 * the kernel programming filter, Felix's workload routes).
 */
import { cidrsOverlap, parseCIDR, type ParsedCIDR } from '@tabby/api';
import { asPathLength, DEFAULT_LOCAL_PREF, type Path, type RouteEntry } from '@tabby/bgp';
import type { KernelRoute, NextHop } from '@tabby/dataplane';

/** A block affine to this node. */
export interface RoutingBlock {
  readonly cidr: string;
  /** False inside a disableBGPExport pool: blackholed, never announced. */
  readonly exported: boolean;
}

/** A workload on this node. */
export interface RoutingWorkload {
  readonly name: string;
  readonly interfaceName: string;
  readonly addresses: readonly string[];
}

/** An IP pool, as far as routing cares. */
export interface RoutingPool {
  readonly name: string;
  readonly cidr: string;
  readonly disableBGPExport: boolean;
  readonly vxlanMode: string;
  readonly ipipMode: string;
}

export interface RoutingInput {
  readonly blocks: readonly RoutingBlock[];
  readonly workloads: readonly RoutingWorkload[];
  readonly pools: readonly RoutingPool[];
  /** The Loc-RIB (both families); locally originated entries are ignored. */
  readonly rib: readonly RouteEntry[];
  /** Interfaces that exist now; undefined without a data plane (every workload counts as wired). */
  readonly links?: ReadonlySet<string>;
  /** This node's own addresses: a learned path pointing at one of them is not programmed. */
  readonly ownAddresses: ReadonlySet<string>;
  /** Service CIDRs this node announces (BGPConfiguration serviceClusterIPs, …): blackholed and originated. */
  readonly services?: readonly RoutingService[];
  /** Host routes to BGP peers through a gateway (BGPPeer reachableBy). */
  readonly statics?: readonly StaticRoute[];
}

/** A service CIDR the node announces, as Calico's static protocol holds it (`route CIDR blackhole;`). */
export interface RoutingService {
  readonly cidr: string;
}

/** `route <peer>/32 via <gateway>;` (BGPPeer reachableBy). */
export interface StaticRoute {
  readonly prefix: string;
  readonly via: string;
}

export interface RoutingPlan {
  /** Every route the node's table should hold, sorted by prefix. */
  readonly kernel: readonly KernelRoute[];
  /** Prefixes the node originates over BGP, sorted: its exported blocks and the borrowed addresses it holds. */
  readonly originate: readonly string[];
  /** Addresses held here from blocks not affine to this node (announced unless their pool has disableBGPExport). */
  readonly borrowed: readonly string[];
  /** `namespace/name (cali…)` of workloads whose host-side interface does not exist yet. */
  readonly waitingForInterface: readonly string[];
  readonly counts: { readonly blackholes: number; readonly workloads: number; readonly remote: number; readonly services: number; readonly statics: number };
}

interface ParsedPool {
  readonly pool: RoutingPool;
  readonly cidr: ParsedCIDR;
}

/** The pools, parsed once, for "which pool contains this prefix" (the longest match wins). */
export class PoolIndex {
  private readonly pools: ParsedPool[] = [];

  constructor(pools: readonly RoutingPool[]) {
    for (const pool of pools) {
      const cidr = parseCIDR(pool.cidr);
      if (cidr) this.pools.push({ pool, cidr });
    }
    this.pools.sort((a, b) => b.cidr.prefix - a.cidr.prefix);
  }

  /** The most specific pool containing the whole prefix, if any. */
  containing(prefix: ParsedCIDR): RoutingPool | undefined {
    for (const p of this.pools) if (p.cidr.prefix <= prefix.prefix && cidrsOverlap(p.cidr, prefix)) return p.pool;
    return undefined;
  }

  /** True when the prefix lies inside any pool with disableBGPExport (Calico rejects those first). */
  insideNoExportPool(prefix: ParsedCIDR): boolean {
    return this.pools.some((p) => p.pool.disableBGPExport && p.cidr.prefix <= prefix.prefix && cidrsOverlap(p.cidr, prefix));
  }
}

const hostLength = (c: ParsedCIDR): number => (c.family === 4 ? 32 : 128);

/**
 * Calico's export rule for a route this node did not originate (`calico_export_to_bgp_peers`):
 * nothing inside a disableBGPExport pool; only routes inside some IP pool (other nodes'
 * blocks and borrowed addresses, passed on by route reflectors and eBGP fabrics); and never
 * from one router outside the cluster to another (no transit); on a route reflector, routes inside
 * the serviceLoadBalancerIPs ranges (`reflectedServices`) too. Routes the node originates
 * are exactly what {@link planRoutes} chose, so they always pass.
 */
export function exportAllowed(prefix: string, path: Path, fromExternal: boolean, toExternal: boolean, pools: PoolIndex, reflectedServices: readonly ParsedCIDR[] = []): boolean {
  if (path.source.kind === 'local') return true;
  if (fromExternal && toExternal) return false;
  const c = parseCIDR(prefix);
  if (!c) return false;
  if (pools.insideNoExportPool(c)) return false;
  // On route reflectors: routes inside serviceLoadBalancerIPs pass on (Calico's RR allowlist).
  if (reflectedServices.some((s) => s.family === c.family && s.prefix <= c.prefix && cidrsOverlap(s, c))) return true;
  return pools.containing(c) !== undefined;
}

/**
 * Paths BIRD's `merge paths` would merge with the best one: equal LOCAL_PREF, AS_PATH
 * length, ORIGIN and MED, and the same kind of session (eBGP or iBGP).
 */
export function equalCostPaths(entry: RouteEntry): Path[] {
  const best = entry.best;
  const key = (p: Path): string =>
    `${p.attrs.localPref ?? DEFAULT_LOCAL_PREF}|${asPathLength(p.attrs)}|${p.attrs.origin ?? 0}|${p.attrs.med ?? 0}|${p.source.ibgp}|${p.source.kind}`;
  const want = key(best);
  return entry.paths.filter((p) => p === best || key(p) === want);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The node's desired routing table and originations. */
export function planRoutes(input: RoutingInput): RoutingPlan {
  const pools = new PoolIndex(input.pools);
  const kernel = new Map<string, KernelRoute>();
  const originate = new Set<string>();
  const borrowed: string[] = [];
  const waiting: string[] = [];
  let blackholes = 0;
  let workloads = 0;
  let remote = 0;
  let services = 0;
  let statics = 0;

  // Own affine blocks: blackholed (except single-address blocks, as Calico's static protocol),
  // announced when exported.
  const ownBlocks: ParsedCIDR[] = [];
  for (const b of input.blocks) {
    const c = parseCIDR(b.cidr);
    if (!c) continue;
    ownBlocks.push(c);
    if (b.exported) originate.add(c.canonical);
    if (c.prefix === hostLength(c)) continue;
    kernel.set(c.canonical, { prefix: c.canonical, type: 'blackhole', nextHops: [] });
    blackholes++;
  }

  // Local workloads: a link route to the host-side interface once it exists; an address
  // outside every own block is borrowed and announced as a host route (once wired).
  const local = new Set<string>();
  for (const w of input.workloads) {
    const wired = w.interfaceName !== '' && (input.links === undefined || input.links.has(w.interfaceName));
    if (!wired) waiting.push(`${w.name} (${w.interfaceName || 'no interface name'})`);
    for (const a of w.addresses) {
      const c = parseCIDR(a);
      if (!c || local.has(c.canonical)) continue;
      local.add(c.canonical);
      const isBorrowed = !ownBlocks.some((b) => b.prefix <= c.prefix && cidrsOverlap(b, c));
      if (isBorrowed) borrowed.push(c.canonical);
      if (!wired) continue;
      kernel.set(c.canonical, { prefix: c.canonical, type: 'unicast', nextHops: [{ dev: w.interfaceName }] });
      workloads++;
      if (isBorrowed && !pools.insideNoExportPool(c)) originate.add(c.canonical);
    }
  }

  // Service CIDRs: Calico's static protocol holds them as blackholes and exports them to
  // every peer (after the disableBGPExport rejection); traffic to them is DNATed before
  // routing, so only what nothing serves is dropped here.
  for (const svc of input.services ?? []) {
    const c = parseCIDR(svc.cidr);
    if (!c) continue;
    if (!pools.insideNoExportPool(c)) originate.add(c.canonical);
    if (kernel.has(c.canonical)) continue;
    kernel.set(c.canonical, { prefix: c.canonical, type: 'blackhole', nextHops: [] });
    services++;
  }

  // Peers reachable through a gateway (reachableBy): a host route via it, as BIRD's static
  // `route <peerIP>/32 via <reachableBy>;`. Not announced.
  for (const st of input.statics ?? []) {
    const c = parseCIDR(st.prefix);
    if (!c || kernel.has(c.canonical) || st.via.includes(':') !== (c.family === 6)) continue;
    kernel.set(c.canonical, { prefix: c.canonical, type: 'unicast', nextHops: [{ via: st.via }] });
    statics++;
  }

  // Learned routes: via their BGP next hops (equal-cost paths merged), except routes inside
  // VXLAN pools (the VXLAN data plane's job, as Calico's kernel filter), own blocks and
  // local workloads.
  for (const entry of input.rib) {
    if (entry.best.source.kind === 'local') continue;
    const c = parseCIDR(entry.prefix);
    if (!c || kernel.has(c.canonical)) continue;
    const pool = pools.containing(c);
    if (pool && pool.vxlanMode !== '' && pool.vxlanMode !== 'Never') continue;
    const hops = new Map<string, NextHop>();
    for (const p of equalCostPaths(entry)) {
      const via = p.attrs.nextHop;
      if (!via || input.ownAddresses.has(via) || via.includes(':') !== (c.family === 6)) continue;
      hops.set(via, { via });
    }
    if (hops.size === 0) continue;
    kernel.set(c.canonical, { prefix: c.canonical, type: 'unicast', nextHops: [...hops.values()].sort((a, b) => compareText(a.via ?? '', b.via ?? '')) });
    remote++;
  }

  return {
    kernel: [...kernel.values()].sort((a, b) => compareText(a.prefix, b.prefix)),
    originate: [...originate].sort(compareText),
    borrowed: borrowed.sort(compareText),
    waitingForInterface: waiting,
    counts: { blackholes, workloads, remote, services, statics },
  };
}
