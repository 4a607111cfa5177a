/**
 * On-link gateways: a next hop given only as an address that lies in a network connected to
 * an interface that is up gets that interface and `onlink`, the way Calico's BIRD renders
 * routes to peers on the node's subnet (`via 10.0.0.13 dev eth0 onlink`). The kernel then
 * lists the route exactly as written, so the next reconcile finds it equal.
 */
import { Network, parseIP } from './net.js';
import type { KernelRoute, NextHop } from './types.js';

/** A network on an interface that is up: `{ dev: 'eth0', cidr: '10.0.0.0/24' }`. */
export interface ConnectedNetwork {
  readonly dev: string;
  /** The interface address with its prefix length (`10.0.0.11/24`) or the network. */
  readonly cidr: string;
}

interface Parsed {
  readonly dev: string;
  readonly network: Network;
}

/**
 * Returns a function that fills in `dev` and `onlink` for next hops that have a gateway and
 * no interface, when exactly one interface has the longest matching connected network.
 * Next hops that already name an interface, and gateways on no (or on several equally
 * specific) connected networks, are left as they are.
 */
export function onLinkResolver(networks: readonly ConnectedNetwork[]): (route: KernelRoute) => KernelRoute {
  const parsed: Parsed[] = [];
  for (const n of networks) {
    const network = Network.parse(n.cidr);
    if (network) parsed.push({ dev: n.dev, network });
  }
  // Routes share a handful of gateways: resolve each once.
  const byGateway = new Map<string, NextHop | undefined>();
  const resolveGateway = (via: string): NextHop | undefined => {
    const ip = parseIP(via.trim());
    if (!ip) return undefined;
    let best: Parsed | undefined;
    let tie = false;
    for (const p of parsed) {
      if (!p.network.contains(ip)) continue;
      if (!best || p.network.prefix > best.network.prefix) {
        best = p;
        tie = false;
      } else if (p.network.prefix === best.network.prefix && p.dev !== best.dev) {
        tie = true;
      }
    }
    return best && !tie ? { via, dev: best.dev, onlink: true } : undefined;
  };
  const resolveHop = (hop: NextHop): NextHop => {
    if (hop.via === undefined || hop.dev !== undefined) return hop;
    if (!byGateway.has(hop.via)) byGateway.set(hop.via, resolveGateway(hop.via));
    return byGateway.get(hop.via) ?? hop;
  };
  return (route) => {
    if (route.type !== 'unicast' || parsed.length === 0) return route;
    if (!route.nextHops.some((h) => h.via !== undefined && h.dev === undefined)) return route;
    return { prefix: route.prefix, type: route.type, nextHops: route.nextHops.map(resolveHop) };
  };
}
