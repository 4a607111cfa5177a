/**
 * iproute2's text, both ways, with no I/O: batch lines for `ip -force -batch -`, its stderr
 * mapped back to lines, and the JSON of `ip -N -j route show`, `ip -j link show` and
 * `ip -j addr show` (iproute2 6.1, checked by experiment in a network namespace; the
 * captured output is in test/iproute2.test.ts).
 */
import { canonicalIP, parseCidr } from './net.js';
import { canonicalRoute } from './diff.js';
import type { ConnectedNetwork } from './on-link.js';
import type { KernelRoute, NextHop } from './types.js';

/** What a batch line does: `add` creates (and fails if the prefix is taken), `replace` rewrites ours, `del` removes ours. */
export type BatchOp = 'add' | 'replace' | 'del';

/**
 * One `ip -batch` line. Table and protocol are always written as numbers: iproute2 6.1 keeps
 * the last name it looked up in a static cache that a numeric argument overwrites, so after
 * `proto 84` a later `proto static` in the same batch parses as 84. Multipath `nexthop`
 * clauses must come last on the line (iproute2 reads everything after them as next hops).
 */
export function batchLine(op: BatchOp, route: KernelRoute, table: number, protocol: number): string {
  const tail = `table ${table} proto ${protocol}`;
  if (op === 'del') return `route del ${route.prefix} ${tail}`;
  if (route.type === 'blackhole') return `route ${op} blackhole ${route.prefix} ${tail}`;
  const v4 = !route.prefix.includes(':');
  if (route.nextHops.length === 1) return `route ${op} ${route.prefix} ${hopText(route.nextHops[0], v4)} ${tail}`;
  return `route ${op} ${route.prefix} ${tail} ${route.nextHops.map((h) => `nexthop ${hopText(h, false)}`).join(' ')}`;
}

function hopText(h: NextHop, linkScope: boolean): string {
  const parts: string[] = [];
  if (h.via !== undefined) parts.push(`via ${h.via}`);
  if (h.dev !== undefined) parts.push(`dev ${h.dev}`);
  if (h.onlink === true) parts.push('onlink');
  // An IPv4 route to an interface alone is a link route (Felix writes `scope link`); IPv6 has no route scopes.
  if (linkScope && h.via === undefined) parts.push('scope link');
  return parts.join(' ');
}

/** stderr of `ip -force -batch -`, sorted by line. */
export interface BatchErrors {
  /** The message(s) printed before each `Command failed -:N`, by 1-based line N. */
  readonly byLine: ReadonlyMap<number, string>;
  /**
   * Text not followed by a `Command failed` marker: a line iproute2 could not parse (it
   * exits there, so later lines never ran), or a failure to start at all.
   */
  readonly unattributed: string;
}

/**
 * Maps batch stderr to lines. iproute2 prints the kernel's message (`Error: Nexthop has
 * invalid gateway.`, `RTNETLINK answers: File exists`, `Cannot find device "cali1"`) and
 * then `Command failed -:LINE`.
 */
export function parseBatchErrors(stderr: string): BatchErrors {
  const byLine = new Map<number, string>();
  let pending: string[] = [];
  for (const raw of stderr.split('\n')) {
    const line = raw.trimEnd();
    if (line === '') continue;
    const m = /^Command failed (?:-|.*?):(\d+)$/.exec(line);
    if (m) {
      const n = Number(m[1]);
      const text = pending.join('; ') || 'command failed (no message)';
      byLine.set(n, byLine.has(n) ? `${byLine.get(n)}; ${text}` : text);
      pending = [];
    } else {
      pending.push(line);
    }
  }
  return { byLine, unattributed: pending.join('\n') };
}

interface JsonHop {
  readonly gateway?: unknown;
  readonly via?: unknown;
  readonly dev?: unknown;
  readonly flags?: unknown;
}

interface JsonRoute extends JsonHop {
  readonly dst?: unknown;
  readonly type?: unknown;
  readonly nexthops?: unknown;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function hopOf(j: JsonHop): NextHop {
  // RTA_VIA (a gateway of another family) is printed as {"family", "host"}.
  const viaObj = typeof j.via === 'object' && j.via !== null ? str((j.via as { host?: unknown }).host) : undefined;
  const via = str(j.gateway) ?? viaObj;
  const dev = str(j.dev);
  const hop: { via?: string; dev?: string; onlink?: boolean } = {};
  if (via !== undefined) hop.via = canonicalIP(via) ?? via;
  if (dev !== undefined) hop.dev = dev;
  if (Array.isArray(j.flags) && j.flags.includes('onlink')) hop.onlink = true;
  return hop;
}

function prefixOf(dst: string, family: 4 | 6): string | undefined {
  if (dst === 'default') return family === 4 ? '0.0.0.0/0' : '::/0';
  return parseCidr(dst)?.canonical;
}

/** Parses JSON text, treating empty output (some iproute2 versions print nothing) as `[]`. */
function parseJsonArray(text: string, what: string): unknown[] {
  const t = text.trim();
  if (t === '') return [];
  const v: unknown = JSON.parse(t);
  if (!Array.isArray(v)) throw new Error(`${what}: expected a JSON array`);
  return v;
}

/**
 * Routes from `ip -N -j -4|-6 route show table T proto P`. With those filters iproute2 leaves
 * out the `table` and `protocol` keys; `dst` is `default` for /0 and has no length for host
 * routes; with -N a blackhole's `type` is `"6"` (`"blackhole"` without -N; IPv6 blackholes
 * also carry `dev lo`); multipath routes have `nexthops: [{gateway, dev, weight, flags}]`;
 * `flags` may hold `onlink`; link routes have a scope (`"253"`/`"link"`) and no gateway.
 * Routes come back in canonical form (`canonicalRoute`).
 * Other route types (unreachable, prohibit, throw: Tabby never writes them) come back as
 * unicast routes with no next hops, which no wanted route equals, so reconcile replaces or
 * removes them.
 */
export function parseRouteJson(text: string, family: 4 | 6): KernelRoute[] {
  const routes: KernelRoute[] = [];
  for (const item of parseJsonArray(text, 'ip route show')) {
    if (typeof item !== 'object' || item === null) continue;
    const j = item as JsonRoute;
    const dst = str(j.dst);
    const prefix = dst === undefined ? undefined : prefixOf(dst, family);
    if (prefix === undefined) continue;
    const type = str(j.type) ?? 'unicast';
    if (type === 'blackhole' || type === '6') {
      routes.push({ prefix, type: 'blackhole', nextHops: [] });
    } else if (type === 'unicast' || type === '1') {
      const hops = (Array.isArray(j.nexthops) ? (j.nexthops as JsonHop[]).map(hopOf) : [hopOf(j)]).filter((h) => h.via !== undefined || h.dev !== undefined);
      routes.push({ prefix, type: 'unicast', nextHops: hops.length > 1 ? canonicalRoute({ prefix, type: 'unicast', nextHops: hops }).nextHops : hops });
    } else {
      routes.push({ prefix, type: 'unicast', nextHops: [] });
    }
  }
  return routes;
}

/** Interface names from `ip -j link show`. */
export function parseLinkJson(text: string): string[] {
  const names: string[] = [];
  for (const item of parseJsonArray(text, 'ip link show')) {
    const name = typeof item === 'object' && item !== null ? str((item as { ifname?: unknown }).ifname) : undefined;
    if (name !== undefined) names.push(name);
  }
  return names;
}

/**
 * Connected networks from `ip -j addr show`: every address with a prefix shorter than a host
 * route, not of host scope, on an interface whose flags include `UP`.
 */
export function parseAddrJson(text: string): ConnectedNetwork[] {
  const out: ConnectedNetwork[] = [];
  for (const item of parseJsonArray(text, 'ip addr show')) {
    if (typeof item !== 'object' || item === null) continue;
    const link = item as { ifname?: unknown; flags?: unknown; addr_info?: unknown };
    const dev = str(link.ifname);
    if (dev === undefined || !Array.isArray(link.flags) || !link.flags.includes('UP') || !Array.isArray(link.addr_info)) continue;
    for (const a of link.addr_info as { family?: unknown; local?: unknown; prefixlen?: unknown; scope?: unknown }[]) {
      const local = str(a.local);
      const len = a.prefixlen;
      if (local === undefined || typeof len !== 'number' || a.scope === 'host' || a.scope === '254') continue;
      if (len >= (a.family === 'inet6' ? 128 : 32)) continue;
      out.push({ dev, cidr: `${local}/${len}` });
    }
  }
  return out;
}
