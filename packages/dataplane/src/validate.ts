/**
 * Checks a wanted route before anything is written. iproute2's batch mode stops at the first
 * line it cannot parse (it exits instead of reporting the line), so every route that reaches
 * a batch must be well-formed; the kernel's own refusals (unknown device, unreachable gateway)
 * are reported per line and need no check here.
 */
import { LINK_LOCAL_PREFIX_V6, canonicalIP, ipFamily, parseCidr, parseIP } from './net.js';
import { canonicalRoute } from './diff.js';
import type { KernelRoute, RouteFailure } from './types.js';

/**
 * Interface names Tabby writes into a batch line: 1-15 characters (IFNAMSIZ - 1) of letters,
 * digits, `_`, `.` and `-`. Linux allows more, but a blank, `#`, a quote or a backslash
 * would change how iproute2 splits the line.
 */
const DEV_NAME = /^[A-Za-z0-9_.-]{1,15}$/;

/** Why `route` cannot be written, or undefined when it can. */
export function routeProblem(route: KernelRoute): string | undefined {
  const cidr = parseCidr(route.prefix);
  if (!cidr) return `prefix "${route.prefix}" is not an IPv4 or IPv6 network (ADDR/LEN)`;
  if (!cidr.strictlyMasked) return `prefix ${route.prefix} has host bits set (the network is ${cidr.canonical})`;
  if (route.type === 'blackhole') {
    return route.nextHops.length > 0 ? 'a blackhole route has no next hops' : undefined;
  }
  if (route.type !== 'unicast') return `route type "${String(route.type)}" is not unicast or blackhole`;
  if (route.nextHops.length === 0) return 'a unicast route needs at least one next hop (a gateway, an interface or both)';
  const seen = new Set<string>();
  for (const hop of route.nextHops) {
    if (hop.via === undefined && hop.dev === undefined) return 'a next hop needs a gateway (via), an interface (dev) or both';
    if (hop.dev !== undefined && (!DEV_NAME.test(hop.dev) || hop.dev === '.' || hop.dev === '..')) {
      return `interface name "${hop.dev}" is not valid (1-15 letters, digits, "_", "." or "-")`;
    }
    let via = '';
    if (hop.via !== undefined) {
      const family = ipFamily(hop.via);
      if (family === undefined) return `gateway "${hop.via}" is not an IP address`;
      if (family !== cidr.family) return `gateway ${hop.via} is IPv${family} but the prefix ${route.prefix} is IPv${cidr.family}`;
      const v6 = family === 6 ? parseIP(hop.via.trim()) : undefined;
      if (v6 && hop.dev === undefined && LINK_LOCAL_PREFIX_V6.contains(v6)) {
        return `link-local gateway ${hop.via} needs an interface (dev): fe80::/10 is on every link`;
      }
      via = canonicalIP(hop.via) ?? hop.via;
    }
    if (hop.onlink === true && (hop.via === undefined || hop.dev === undefined)) return 'onlink needs both a gateway (via) and an interface (dev)';
    if (route.nextHops.length === 1) break;
    const key = `${via}|${hop.dev ?? ''}`;
    if (seen.has(key)) return `next hop ${hop.via ?? ''}${hop.dev ? ` dev ${hop.dev}` : ''} appears twice`;
    seen.add(key);
  }
  return undefined;
}

/** The wanted routes sorted into those that can be written and those that cannot. */
export interface CheckedRoutes {
  /** Valid routes in canonical form, one per prefix. */
  readonly routes: readonly KernelRoute[];
  /** Routes refused before writing, with why. */
  readonly failed: readonly RouteFailure[];
  /**
   * Canonical prefixes of refused routes: a route already in the table for one of them is
   * left alone rather than pruned, since the prefix is still wanted.
   */
  readonly keep: ReadonlySet<string>;
}

/** Validates wanted routes; a prefix given twice is refused the second time. */
export function checkRoutes(desired: readonly KernelRoute[]): CheckedRoutes {
  const routes = new Map<string, KernelRoute>();
  const failed: RouteFailure[] = [];
  const keep = new Set<string>();
  for (const r of desired) {
    const problem = routeProblem(r);
    const c = canonicalRoute(r);
    if (problem !== undefined) {
      failed.push({ prefix: r.prefix, error: problem });
      if (parseCidr(r.prefix)) keep.add(c.prefix);
      continue;
    }
    if (routes.has(c.prefix)) {
      failed.push({ prefix: r.prefix, error: `prefix ${c.prefix} is wanted twice; the first route is kept` });
      continue;
    }
    routes.set(c.prefix, c);
  }
  return { routes: [...routes.values()], failed, keep };
}

/**
 * `spare` as the diff should ask it: never about a prefix in `keep` (still wanted, only not
 * writable; such a route stays anyway), so the caller hears only of routes nobody wants.
 */
export function spareUnlessKept(spare: ((route: KernelRoute) => boolean) | undefined, keep: ReadonlySet<string>): ((route: KernelRoute) => boolean) | undefined {
  if (spare === undefined) return undefined;
  return (route) => !keep.has(route.prefix) && spare(route);
}
