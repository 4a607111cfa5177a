/**
 * The kernel's messages as iproute2 prints them, shared by the Linux dataplane (which adds
 * context) and the in-memory one (which imitates them), so agent tests see the same text.
 */

/** `ip route` for a device that does not exist. */
export function noDeviceMessage(dev: string): string {
  return `Cannot find device "${dev}"`;
}

/** A gateway that is not on a connected network (and not onlink). */
export const INVALID_GATEWAY_MESSAGE = 'Error: Nexthop has invalid gateway.';

/** What the kernel says when `route add` finds the prefix taken (same table, same metric). */
export const FILE_EXISTS_MESSAGE = 'RTNETLINK answers: File exists';

/** `route del` of a route that is not there. */
export const NO_SUCH_ROUTE_MESSAGE = 'RTNETLINK answers: No such process';

/** The kernel's text, with why a taken prefix is never overwritten. */
export function prefixTakenMessage(kernelText: string, table: number, protocol: number): string {
  return `${kernelText} (table ${table} already has a route of another protocol for this prefix with the same metric; Tabby only changes routes of protocol ${protocol} and leaves it alone)`;
}
