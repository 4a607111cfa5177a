/**
 * Pure route comparison: the canonical form of a route, structural equality, and the
 * difference between the routes in a table and the routes wanted there. No I/O.
 */
import { canonicalIP, parseCidr } from './net.js';
import type { KernelRoute, NextHop } from './types.js';

/** One route whose next hops (or type) must change: replaced in place. */
export interface RouteChange {
  readonly from: KernelRoute;
  readonly to: KernelRoute;
}

/** What {@link diffRoutes} found; every route in it is canonical. */
export interface RouteDiff {
  /** Wanted, not in the table. */
  readonly add: readonly KernelRoute[];
  /** In the table with other next hops or another type. */
  readonly change: readonly RouteChange[];
  /** In the table, not wanted (empty when `prune` is false). */
  readonly remove: readonly KernelRoute[];
  /** In the table exactly as wanted. */
  readonly unchanged: readonly KernelRoute[];
  /** In the table, not wanted, left there because `spare` said so (empty without `prune`). */
  readonly spared: readonly KernelRoute[];
}

export interface DiffOptions {
  /** Put routes that are not wanted into `remove` (default true). */
  readonly prune?: boolean;
  /**
   * With `prune`: a route whose prefix is not wanted goes into `spared` instead of `remove`
   * when this returns true (called once per such route, in canonical form).
   */
  readonly spare?: (route: KernelRoute) => boolean;
}

function canonicalPrefix(prefix: string): string {
  return parseCidr(prefix)?.canonical ?? prefix.trim();
}

function canonicalHop(h: NextHop): NextHop {
  const out: { via?: string; dev?: string; onlink?: boolean } = {};
  if (h.via !== undefined) out.via = canonicalIP(h.via) ?? h.via.trim();
  if (h.dev !== undefined && h.dev !== '') out.dev = h.dev;
  if (h.onlink === true) out.onlink = true;
  return out;
}

function compareHops(a: NextHop, b: NextHop): number {
  const av = a.via ?? '';
  const bv = b.via ?? '';
  if (av !== bv) return av < bv ? -1 : 1;
  const ad = a.dev ?? '';
  const bd = b.dev ?? '';
  if (ad !== bd) return ad < bd ? -1 : 1;
  return Number(a.onlink === true) - Number(b.onlink === true);
}

/**
 * The canonical form of a route: the prefix masked and printed as `ADDR/LEN` (a bare address
 * becomes /32 or /128, IPv6 in RFC 5952 form), next-hop addresses canonical, next hops sorted,
 * absent and false fields dropped, and no next hops for a blackhole. Text that does not parse
 * is kept as written (validation reports it).
 */
export function canonicalRoute(r: KernelRoute): KernelRoute {
  const prefix = canonicalPrefix(r.prefix);
  if (r.type === 'blackhole') return { prefix, type: 'blackhole', nextHops: [] };
  const nextHops = r.nextHops.map(canonicalHop);
  if (nextHops.length > 1) nextHops.sort(compareHops);
  return { prefix, type: r.type, nextHops };
}

function sameCanonical(a: KernelRoute, b: KernelRoute): boolean {
  if (a.prefix !== b.prefix || a.type !== b.type || a.nextHops.length !== b.nextHops.length) return false;
  return a.nextHops.every((h, i) => {
    const o = b.nextHops[i];
    return h.via === o.via && h.dev === o.dev && (h.onlink === true) === (o.onlink === true);
  });
}

/** True when the two routes are the same route (compared in canonical form, field by field). */
export function sameRoute(a: KernelRoute, b: KernelRoute): boolean {
  return sameCanonical(canonicalRoute(a), canonicalRoute(b));
}

/**
 * What to write so that the table (`current`) holds exactly `desired`: routes to add, to
 * replace, to remove (only with `prune`, the default; minus those `spare` keeps) and those
 * already right. Routes are
 * matched by canonical prefix. `desired` should name each prefix once (the last one wins);
 * when `current` holds one prefix more than once, the copy equal to the wanted route (else
 * the first) is kept and the other copies are removed.
 */
export function diffRoutes(current: readonly KernelRoute[], desired: readonly KernelRoute[], options: DiffOptions = {}): RouteDiff {
  return diffCanonical(current.map(canonicalRoute), desired.map(canonicalRoute), options);
}

/** {@link diffRoutes} for routes already in canonical form (what the dataplanes pass). */
export function diffCanonical(current: readonly KernelRoute[], desired: readonly KernelRoute[], options: DiffOptions = {}): RouteDiff {
  const prune = options.prune ?? true;
  const want = new Map<string, KernelRoute>();
  for (const c of desired) want.set(c.prefix, c);
  const have = new Map<string, KernelRoute[]>();
  for (const c of current) {
    const list = have.get(c.prefix);
    if (list) list.push(c);
    else have.set(c.prefix, [c]);
  }
  const add: KernelRoute[] = [];
  const change: RouteChange[] = [];
  const remove: KernelRoute[] = [];
  const unchanged: KernelRoute[] = [];
  const spared: KernelRoute[] = [];
  for (const [prefix, to] of want) {
    const copies = have.get(prefix);
    if (!copies) {
      add.push(to);
      continue;
    }
    const equal = copies.findIndex((c) => sameCanonical(c, to));
    const keep = equal >= 0 ? equal : 0;
    if (equal >= 0) unchanged.push(to);
    else change.push({ from: copies[keep], to });
    if (prune && copies.length > 1) remove.push(...copies.filter((_, i) => i !== keep));
  }
  if (prune) {
    for (const [prefix, copies] of have) {
      if (want.has(prefix)) continue;
      for (const c of copies) (options.spare?.(c) === true ? spared : remove).push(c);
    }
  }
  return { add, change, remove, unchanged, spared };
}
