/**
 * The data-plane side of the plugin behind an interface (STYLE 27): {@link LinuxWiring}
 * does it with iproute2, tests of the command logic use a fake. What "wired" means is
 * Calico's host wiring (reference: dataplane.md §3): a veth pair, host side `cali…` with
 * MAC ee:ee:ee:ee:ee:ee, proxy ARP (and proxy NDP), forwarding, no address, and a host route
 * `ADDR dev cali… scope link`; container side CNI_IFNAME with the /32 (/128), a link route to
 * 169.254.1.1 and the default route via it (IPv6: via fe80::ecee:eeff:feee:eeee).
 */

import type { HostSweepPlan } from './host-sweep.js';

/** What to build for one container interface. */
export interface WiringSpec {
  /** The container's network namespace (CNI_NETNS). */
  readonly netns: string;
  /** CNI_IFNAME. */
  readonly ifname: string;
  /** The host side, `cali…`. */
  readonly hostInterface: string;
  readonly containerMac: string;
  /** Single-address CIDRs (`/32`, `/128`). */
  readonly addresses: readonly string[];
  readonly mtu: number | undefined;
  /** Table and protocol of the host routes: the agent's (--route-table, --route-protocol), so its reconcile adopts them. */
  readonly routeTable: number;
  readonly routeProtocol: number;
}

/** An interface as `ip -j addr show` lists it. */
export interface ObservedLink {
  readonly name: string;
  readonly mac: string;
  /** Administratively up. */
  readonly up: boolean;
  /** Addresses with prefix length, e.g. `10.0.0.5/32`. */
  readonly addresses: readonly string[];
}

/** A route as `ip -j route show` lists it (destination normalised: `default` → `0.0.0.0/0` or `::/0`, host routes with /32 or /128). */
export interface ObservedRoute {
  readonly dst: string;
  readonly gateway?: string;
  readonly dev?: string;
  readonly scope?: string;
}

/** The state CHECK compares with what ADD made. */
export interface Observation {
  readonly container: {
    readonly netnsExists: boolean;
    readonly link?: ObservedLink;
    readonly routes: readonly ObservedRoute[];
  };
  readonly host: {
    readonly link?: ObservedLink;
    /** Routes in the route table through the host interface. */
    readonly routes: readonly ObservedRoute[];
    /** Values of the host interface's sysctls that matter (`net.ipv4.conf.<if>.proxy_arp`, …); undefined when unreadable. */
    readonly sysctls: Readonly<Record<string, string | undefined>>;
    /** Proxy neighbour entries on the host interface. */
    readonly proxyNeighbours: readonly string[];
  };
}

/** A container-side interface of that name, if there is one. */
export interface ContainerInterface {
  readonly exists: boolean;
  readonly mac?: string;
}

export interface Wiring {
  /** True when `path` is a network namespace (an nsfs file), false when it is missing or something else. */
  netnsExists(path: string): boolean;
  /** The container's interface named `ifname`. */
  inspectContainer(netns: string, ifname: string): Promise<ContainerInterface>;
  /**
   * Builds the veth pair and everything on both sides. With `replaceContainerInterface` the
   * container's `ifname` (tabby-cni's, from an earlier ADD: the caller checked its MAC) is
   * removed first; a host interface of that name is replaced. Throws {@link CniError} 105
   * when a step fails; what it made stays for {@link tearDown} to remove.
   */
  setUp(spec: WiringSpec, replaceContainerInterface: boolean): Promise<void>;
  /**
   * Removes the container's interface when it is tabby-cni's (its MAC is `mac`; that takes the
   * host side with it) and, when `hostInterface` is given, the host side by name too (only
   * for undoing a failed ADD: a later container of the same pod may own that name).
   * Nothing there is not an error.
   */
  tearDown(netns: string, ifname: string, mac: string, hostInterface?: string): Promise<{ readonly removed: boolean }>;
  /** The current state of both sides, for CHECK. */
  observe(spec: WiringSpec): Promise<Observation>;
  /**
   * For GC: removes the host side of the veth pairs that carry `addresses` (being released)
   * when they are tabby-cni's and carry nothing else (`planHostSweep` decides, from the
   * links and the routes of `routeTable`, ours being those of `routeProtocol`). Removing the
   * host side removes its peer, in a container namespace that outlived its attachment. What could not
   * be removed is in `kept`.
   */
  removeStaleHostInterfaces(addresses: readonly string[], routeTable: number, routeProtocol: number): Promise<HostSweepPlan>;
}

/** The host-interface sysctls ADD sets, by address family; CHECK reads the same. */
export function hostSysctls(hostInterface: string, v4: boolean, v6: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  if (v4) {
    out[`net.ipv4.conf.${hostInterface}.proxy_arp`] = '1';
    out[`net.ipv4.neigh.${hostInterface}.proxy_delay`] = '0';
    out[`net.ipv4.conf.${hostInterface}.forwarding`] = '1';
  }
  if (v6) {
    // Before the link is up: the link-local address (the container's gateway) is then usable at once.
    out[`net.ipv6.conf.${hostInterface}.disable_ipv6`] = '0';
    out[`net.ipv6.conf.${hostInterface}.accept_dad`] = '0';
    out[`net.ipv6.conf.${hostInterface}.accept_ra`] = '0';
    out[`net.ipv6.conf.${hostInterface}.proxy_ndp`] = '1';
    out[`net.ipv6.conf.${hostInterface}.forwarding`] = '1';
  }
  return out;
}
