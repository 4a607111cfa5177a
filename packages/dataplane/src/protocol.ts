/**
 * Which routing table and which route protocol number Tabby may use. Tabby only ever reads,
 * changes and removes routes that carry its own protocol number, so the number must be one
 * no other routing program on the node uses, and the table must be a real routing table.
 */

/**
 * Tabby's route protocol number: 84. Numbers 0-4 are the kernel's own (unspec, redirect,
 * kernel, boot, static) and the kernel's `rtnetlink.h` and iproute2's `/etc/iproute2/rt_protos`
 * assign 8-18, 42, 99 and 186-192 to other routing daemons (zebra 11, bird 12, FRR's bgp 186…);
 * Calico's Felix uses 80 (and Calico's BIRD writes 12). 84 is assigned by neither file, so
 * nothing on a stock node writes it; it is "T" in ASCII. `deploy/iproute2/rt_protos.d/tabby.conf`
 * names it `tabby`, so `ip route` prints `proto tabby`. A node where another program already
 * uses 84 sets the agent's protocol flag to another free number.
 */
export const DEFAULT_ROUTE_PROTOCOL = 84;

/** The main table (`ip route` without `table`). */
export const MAIN_ROUTE_TABLE = 254;

/** Largest table id the kernel accepts (RTA_TABLE is a u32). */
export const MAX_ROUTE_TABLE = 4294967295;

/** Protocol numbers that belong to the kernel or to other routing programs, with their owner. */
export const RESERVED_ROUTE_PROTOCOLS: ReadonlyMap<number, string> = new Map([
  [0, 'unspec (no protocol)'],
  [1, 'redirect (ICMP redirects)'],
  [2, 'kernel (routes the kernel makes for addresses)'],
  [3, 'boot (what `ip route add` writes by default)'],
  [4, 'static (routes an administrator added)'],
  [8, 'gated'],
  [9, 'ra (IPv6 router advertisements)'],
  [10, 'mrt'],
  [11, 'zebra (Quagga/FRR zebra)'],
  [12, 'bird (BIRD; Calico programs its routes through it)'],
  [13, 'dnrouted'],
  [14, 'xorp'],
  [15, 'ntk'],
  [16, 'dhcp'],
  [17, 'mrouted'],
  [18, 'keepalived'],
  [42, 'babel'],
  [80, 'felix (Calico Felix)'],
  [99, 'openr'],
  [186, 'bgp (FRR bgpd)'],
  [187, 'isis (FRR)'],
  [188, 'ospf (FRR)'],
  [189, 'rip (FRR)'],
  [192, 'eigrp (FRR)'],
]);

/** Why `table` cannot be Tabby's table, or undefined when it can. */
export function routeTableProblem(table: number): string | undefined {
  if (!Number.isInteger(table) || table < 1 || table > MAX_ROUTE_TABLE) {
    return `route table ${String(table)} is out of range: it must be a whole number from 1 to ${MAX_ROUTE_TABLE} (254 is main)`;
  }
  if (table === 255) return 'route table 255 is the kernel\'s `local` table (local and broadcast addresses, maintained by the kernel): Tabby never writes there';
  if (table === 253) return 'route table 253 is the `default` table, consulted only after main by the default rule and reserved for fallback routes: use 254 (main) or a table of your own';
  return undefined;
}

/** Why `protocol` cannot be Tabby's protocol number, or undefined when it can. */
export function routeProtocolProblem(protocol: number): string | undefined {
  if (!Number.isInteger(protocol) || protocol < 0 || protocol > 255) {
    return `route protocol ${String(protocol)} is out of range: it must be a whole number from 5 to 255 (rtm_protocol is one byte; 0-4 are the kernel's)`;
  }
  const owner = RESERVED_ROUTE_PROTOCOLS.get(protocol);
  if (owner === undefined) return undefined;
  if (protocol <= 4) {
    return `route protocol ${protocol} is the kernel's ${owner}: Tabby must only touch routes of its own protocol (default ${DEFAULT_ROUTE_PROTOCOL})`;
  }
  return `route protocol ${protocol} belongs to ${owner}: Tabby would change and delete that program's routes; pick a number no routing program on the node uses (default ${DEFAULT_ROUTE_PROTOCOL})`;
}

/**
 * Parses a route table flag: `main` (254), or a number 1-4294967295. `local` (255) and
 * `default` (253) are refused with the reason, as are other names (give the number: names in
 * `/etc/iproute2/rt_tables` differ from node to node).
 */
export function parseRouteTable(text: string): { value: number } | { error: string } {
  const t = text.trim();
  if (t === 'main') return { value: MAIN_ROUTE_TABLE };
  if (t === 'local') return { error: routeTableProblem(255) as string };
  if (t === 'default') return { error: routeTableProblem(253) as string };
  if (!/^\d+$/.test(t)) return { error: `route table "${text}" is not a number or "main": give the table's number (1-${MAX_ROUTE_TABLE}, 254 is main)` };
  const n = Number(t);
  const problem = routeTableProblem(n);
  return problem === undefined ? { value: n } : { error: problem };
}

/** Parses a route protocol flag: a number 5-255 that no other routing program uses, or `tabby` (84). */
export function parseRouteProtocol(text: string): { value: number } | { error: string } {
  const t = text.trim();
  if (t === 'tabby') return { value: DEFAULT_ROUTE_PROTOCOL };
  if (!/^\d+$/.test(t)) {
    const known = [...RESERVED_ROUTE_PROTOCOLS.entries()].find(([, owner]) => owner.split(' ')[0] === t);
    if (known) return { error: routeProtocolProblem(known[0]) as string };
    return { error: `route protocol "${text}" is not a number: give a number from 5 to 255 (default ${DEFAULT_ROUTE_PROTOCOL}, named "tabby")` };
  }
  const n = Number(t);
  const problem = routeProtocolProblem(n);
  return problem === undefined ? { value: n } : { error: problem };
}
