import type { GetAllocationResponse, WorkloadEndpoint } from '@tabby/proto';
import { canonicalHostCidr } from './addresses.js';
import type { WorkloadIdentity } from './identity.js';
import { GATEWAY_V4, GATEWAY_V6, HOST_MAC, type PreviousResult } from './result.js';
import { hostSysctls, type Observation } from './wiring.js';

/** What CHECK learned from the control plane about the workload's addresses and endpoint. */
export interface ControlPlaneView {
  /** GetAllocation of each address of prevResult, by address (no prefix length). */
  readonly allocations: ReadonlyMap<string, GetAllocationResponse>;
  /** The WorkloadEndpoint, undefined when the store has none. */
  readonly endpoint: WorkloadEndpoint | undefined;
}

/**
 * Everything that differs between what ADD made (per `prev`, the ADD result) and what is
 * there: one sentence per problem, empty when all is well. Pure: the inputs are read by the
 * caller.
 */
export function checkProblems(id: WorkloadIdentity, prev: PreviousResult, seen: Observation, view: ControlPlaneView, netns: string, routeTable: number): string[] {
  const problems: string[] = [];
  const addresses = prev.addresses.map(canonicalHostCidr);
  const v4 = addresses.some((a) => !a.includes(':'));
  const v6 = addresses.some((a) => a.includes(':'));
  const ifname = id.endpoint;
  const host = id.hostInterface;

  // The container side.
  if (!seen.container.netnsExists) {
    problems.push(`the container's network namespace ${netns} does not exist`);
  } else if (!seen.container.link) {
    problems.push(`interface ${ifname} is missing in the container`);
  } else {
    const link = seen.container.link;
    const prevIf = prev.interfaces.find((i) => i.name === ifname && i.sandbox !== undefined);
    if (!link.up) problems.push(`interface ${ifname} in the container is down`);
    if (prevIf?.mac && prevIf.mac.toLowerCase() !== link.mac.toLowerCase()) problems.push(`interface ${ifname} in the container has MAC ${link.mac}, not ${prevIf.mac}`);
    for (const a of addresses) if (!link.addresses.includes(a)) problems.push(`address ${a} is missing on ${ifname} in the container`);
    const routes = seen.container.routes;
    if (v4) {
      if (!routes.some((r) => r.dst === `${GATEWAY_V4}/32` && r.dev === ifname && r.gateway === undefined)) problems.push(`route ${GATEWAY_V4} dev ${ifname} scope link is missing in the container`);
      if (!routes.some((r) => r.dst === '0.0.0.0/0' && r.gateway === GATEWAY_V4 && r.dev === ifname)) problems.push(`default route via ${GATEWAY_V4} dev ${ifname} is missing in the container`);
    }
    if (v6 && !routes.some((r) => r.dst === '::/0' && r.gateway === GATEWAY_V6 && r.dev === ifname)) problems.push(`IPv6 default route via ${GATEWAY_V6} dev ${ifname} is missing in the container`);
  }

  // The host side.
  const hostLink = seen.host.link;
  if (!hostLink) {
    problems.push(`host interface ${host} is missing`);
  } else {
    if (!hostLink.up) problems.push(`host interface ${host} is down`);
    if (hostLink.mac.toLowerCase() !== HOST_MAC) problems.push(`host interface ${host} has MAC ${hostLink.mac}, not ${HOST_MAC}`);
    for (const [key, want] of Object.entries(hostSysctls(host, v4, v6))) {
      const have = seen.host.sysctls[key];
      if (have !== want) problems.push(`${key} is ${have ?? 'unreadable'}, not ${want}`);
    }
    for (const a of addresses) {
      if (!seen.host.routes.some((r) => r.dst === a && r.dev === host && r.gateway === undefined)) problems.push(`host route ${a} dev ${host} is missing from table ${routeTable}`);
    }
    if (v6 && !seen.host.proxyNeighbours.includes(GATEWAY_V6)) problems.push(`proxy neighbour ${GATEWAY_V6} on ${host} is missing`);
  }

  // IPAM and the store.
  for (const a of addresses) {
    const ip = a.replace(/\/\d+$/, '');
    const alloc = view.allocations.get(ip);
    if (!alloc?.allocated) problems.push(`address ${ip} is not allocated in tabby-ipam`);
    else if (alloc.handle !== id.handle) problems.push(`address ${ip} is allocated to handle ${alloc.handle}, not ${id.handle}`);
  }
  const ep = view.endpoint?.spec;
  const epName = `${id.namespace}/${id.endpointName}`;
  if (!ep) {
    problems.push(`WorkloadEndpoint ${epName} is missing in tabby-store`);
  } else {
    if (ep.containerID !== id.containerId) problems.push(`WorkloadEndpoint ${epName} belongs to container ${ep.containerID || '(none)'}, not ${id.containerId}`);
    const nets = ep.ipNetworks.map(canonicalHostCidr).sort();
    if (nets.join(',') !== [...addresses].sort().join(',')) problems.push(`WorkloadEndpoint ${epName} has addresses ${nets.join(', ') || '(none)'}, not ${addresses.join(', ')}`);
    if (ep.interfaceName !== host) problems.push(`WorkloadEndpoint ${epName} names interface ${ep.interfaceName}, not ${host}`);
  }
  return problems;
}
