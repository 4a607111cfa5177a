/**
 * Which host interfaces GC may remove (pure; `LinuxWiring` reads the inputs and removes
 * what this says). An attachment's host side outlives it only when its container's network
 * namespace does (a veth pair goes with its namespace), and then its name says little: a pod's
 * newer container takes over the same `cali…` name. So an interface is taken for a stale
 * attachment's only when every mark of tabby-cni's is on it and it carries nothing else.
 */
import { canonicalHostCidr } from './addresses.js';
import { HOST_MAC } from './result.js';

/** A route as the sweep reads it (an `ObservedRoute` of wiring.ts fits). */
export interface SweepRoute {
  readonly dst: string;
  readonly gateway?: string;
  readonly dev?: string;
}

/** A link as `ip -j -d link show` lists it: name, MAC and kind (`veth`, …). */
export interface ObservedLinkKind {
  readonly name: string;
  readonly mac: string;
  readonly kind: string;
}

/** What the sweep decides. */
export interface HostSweepPlan {
  /** Interfaces to remove, with the released addresses routed through them. */
  readonly remove: readonly { readonly name: string; readonly addresses: readonly string[] }[];
  /** Interfaces that route a released address but are left alone, and why. */
  readonly kept: readonly { readonly name: string; readonly reason: string }[];
}

export interface HostSweepInput {
  /** The addresses being released (single-address CIDRs). */
  readonly addresses: readonly string[];
  /** The node's links. */
  readonly links: readonly ObservedLinkKind[];
  /** Every route of the route table (both families, any protocol), destinations as CIDRs. */
  readonly tableRoutes: readonly SweepRoute[];
  /** The routes of that table with tabby-cni's protocol (ADD's `tabby.route_protocol`). */
  readonly ourRoutes: readonly SweepRoute[];
}

/** The kernel gives every IPv6 interface a route to fe80::/64: it says nothing about a workload. */
function isLinkLocal(cidr: string): boolean {
  return /^fe[89ab][0-9a-f]:/i.test(cidr);
}

/**
 * The interfaces to remove: each is named `cali…`, is a veth with MAC ee:ee:ee:ee:ee:ee (what
 * ADD makes), has a route of tabby-cni's protocol to a released address in the table, and no
 * route in that table to any address that is not being released (so no live workload's).
 * Every other interface routing a released address is kept, with the reason.
 */
export function planHostSweep(input: HostSweepInput): HostSweepPlan {
  const releasing = new Set(input.addresses.map(canonicalHostCidr));
  const carried = new Map<string, Set<string>>();
  for (const r of input.ourRoutes) {
    const dst = canonicalHostCidr(r.dst);
    if (r.dev === undefined || r.gateway !== undefined || !releasing.has(dst)) continue;
    const set = carried.get(r.dev) ?? new Set<string>();
    set.add(dst);
    carried.set(r.dev, set);
  }
  const remove: { name: string; addresses: string[] }[] = [];
  const kept: { name: string; reason: string }[] = [];
  for (const [name, addresses] of [...carried].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const link = input.links.find((l) => l.name === name);
    const others = input.tableRoutes.filter((r) => r.dev === name && !isLinkLocal(r.dst) && !releasing.has(canonicalHostCidr(r.dst))).map((r) => r.dst);
    let reason: string | undefined;
    if (!name.startsWith('cali')) reason = 'its name does not start with cali';
    else if (link === undefined) reason = 'it is not listed as a link';
    else if (link.kind !== 'veth') reason = `it is a ${link.kind || 'device of unknown kind'}, not a veth`;
    else if (link.mac.toLowerCase() !== HOST_MAC) reason = `its MAC ${link.mac} is not tabby-cni's ${HOST_MAC}`;
    else if (others.length > 0) reason = `it also routes ${others.join(', ')}, which stay allocated`;
    if (reason === undefined) remove.push({ name, addresses: [...addresses].sort() });
    else kept.push({ name, reason });
  }
  return { remove, kept };
}

/** Links with their kind from `ip -j -d link show`. */
export function parseLinkKinds(text: string): ObservedLinkKind[] {
  const t = text.trim();
  if (t === '') return [];
  const v = JSON.parse(t) as unknown;
  if (!Array.isArray(v)) return [];
  return v.flatMap((item): ObservedLinkKind[] => {
    if (typeof item !== 'object' || item === null) return [];
    const j = item as { ifname?: unknown; address?: unknown; linkinfo?: { info_kind?: unknown } };
    if (typeof j.ifname !== 'string') return [];
    return [{ name: j.ifname, mac: typeof j.address === 'string' ? j.address : '', kind: typeof j.linkinfo?.info_kind === 'string' ? j.linkinfo.info_kind : '' }];
  });
}
