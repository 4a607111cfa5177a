/**
 * Calico's route cleanup grace period (felix's route table, `RouteCleanupGracePeriod`, 10 s) for
 * the routes tabby-cni adds. The plugin writes a container's host route (`ADDR dev cali… scope
 * link`) with the agent's protocol number before the agent has learned the workload (IPAM →
 * store → topology → agent), so a reconcile in between would take it for stale and remove it.
 * This decides, route by route, what a pruning reconcile may remove. Pure: the clock is injected.
 */
import type { KernelRoute } from '@tabby/dataplane';

/** Host-side interfaces of workloads start with this (Calico's; `workloadInterfaceName` in @tabby/api). */
export const WORKLOAD_INTERFACE_PREFIX = 'cali';

/** Felix's default route cleanup grace period. */
export const DEFAULT_ROUTE_CLEANUP_GRACE_MS = 10_000;

/**
 * The workload interface a route leads to: a unicast route whose one next hop is an interface
 * named `cali…` and no gateway (what tabby-cni and the agent write for a local workload).
 */
export function workloadInterfaceOf(route: KernelRoute): string | undefined {
  if (route.type !== 'unicast' || route.nextHops.length !== 1) return undefined;
  const hop = route.nextHops[0];
  if (hop?.dev === undefined || hop.via !== undefined || !hop.dev.startsWith(WORKLOAD_INTERFACE_PREFIX)) return undefined;
  return hop.dev;
}

/** `PREFIX dev IF`: how routes are named in logs and kept apart (a new interface is a new route). */
function keyOf(route: KernelRoute, dev: string): string {
  return `${route.prefix} dev ${dev}`;
}

/** What one reconcile decided about routes the agent does not want, for the log. */
export interface GraceRound {
  /** Unknown workload routes seen for the first time, left in place. */
  readonly spared: readonly string[];
  /** Unknown workload routes still unknown after the grace period: removed. */
  readonly expired: readonly string[];
  /** Unknown workload routes whose interface is gone: removed without waiting. */
  readonly interfaceGone: readonly string[];
  /** Routes spared before that the agent wants now: adopted as they are. */
  readonly adopted: readonly string[];
}

/**
 * Which stale routes a pruning reconcile leaves in place. A route to a workload interface
 * (`cali…`) the agent does not want and never wanted is spared for `graceMs` from the first
 * reconcile that lists it, then removed if still unknown; removed at once when its interface is
 * gone. A route the agent itself wanted (it knew the workload) goes at once when no longer
 * wanted, as felix removes the routes of an endpoint it was told is gone. Every other route
 * (blackholes, routes via a gateway, other interfaces) is never spared. `graceMs` 0 spares
 * nothing.
 *
 * Use: `begin(desired, links)` before each reconcile, pass the predicate it returns as the
 * reconcile's `spare`, and `end()` once the reconcile has returned (not when it threw).
 */
export class RouteCleanupGrace {
  /** Unknown workload routes → when a reconcile first listed them (ms, from `now`). */
  private readonly firstSeen = new Map<string, number>();
  /** Workload routes the agent wanted (at the last reconcile, or still in the table since). */
  private known = new Set<string>();
  private round: { readonly desired: ReadonlySet<string>; readonly asked: Set<string>; readonly spared: string[]; readonly expired: string[]; readonly gone: string[] } | undefined;

  constructor(
    readonly graceMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Starts one reconcile towards `desired`; `links` are the interfaces read just before it (a
   * route to an interface not among them is newer than that read, or its interface is gone).
   * Returns the reconcile's `spare`.
   */
  begin(desired: readonly KernelRoute[], links: ReadonlySet<string>): (route: KernelRoute) => boolean {
    const wanted = new Set<string>();
    for (const r of desired) {
      const dev = workloadInterfaceOf(r);
      if (dev !== undefined) wanted.add(keyOf(r, dev));
    }
    const round = { desired: wanted, asked: new Set<string>(), spared: [] as string[], expired: [] as string[], gone: [] as string[] };
    this.round = round;
    return (route) => {
      const dev = workloadInterfaceOf(route);
      if (dev === undefined) return false;
      const key = keyOf(route, dev);
      round.asked.add(key);
      // The agent knew this workload and no longer wants it: it is gone.
      if (this.known.has(key)) return false;
      const first = this.firstSeen.get(key);
      const t = this.now();
      if (first === undefined) {
        // First sight. Its interface may be newer than `links`: never judged on them now.
        if (this.graceMs <= 0) return false;
        this.firstSeen.set(key, t);
        round.spared.push(key);
        return true;
      }
      if (!links.has(dev)) {
        round.gone.push(key);
        return false;
      }
      if (t - first < this.graceMs) return true;
      round.expired.push(key);
      return false;
    };
  }

  /**
   * Ends the reconcile `begin` started: forgets the unknown routes it was not asked about (gone
   * from the table, or wanted now) and remembers what the agent wants. Returns what it decided.
   */
  end(): GraceRound {
    const round = this.round;
    this.round = undefined;
    if (!round) return { spared: [], expired: [], interfaceGone: [], adopted: [] };
    const adopted: string[] = [];
    for (const key of [...this.firstSeen.keys()]) {
      if (round.asked.has(key)) continue;
      this.firstSeen.delete(key);
      if (round.desired.has(key)) adopted.push(key);
    }
    // Still known: what is wanted now, and known routes still in the table (a removal that
    // failed is tried again, at once, at the next reconcile).
    this.known = new Set([...round.desired, ...[...this.known].filter((k) => round.asked.has(k))]);
    return { spared: round.spared, expired: round.expired, interfaceGone: round.gone, adopted };
  }

  /** Unknown workload routes left in place now, with the ms since first seen (tests, logs). */
  pending(): ReadonlyMap<string, number> {
    const t = this.now();
    return new Map([...this.firstSeen].map(([k, first]) => [k, t - first]));
  }
}
