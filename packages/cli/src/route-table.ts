/**
 * What `tabbyctl node routes` prints: a node's Loc-RIB as a table in the spirit of BIRD's
 * `show route` (prefix, next hop, the peer it came from, AS path, `*` on the best path,
 * why it won), laid out as calicoctl lays out its lists (Go tabwriter); or the same data as
 * JSON or YAML. Pure: the agent's response in, text out.
 */
import { parseIP } from '@tabby/api';
import type { Route, RoutePath, RoutesResponse } from '@tabby/proto';
import { stringify } from 'yaml';
import { CliError } from './errors.js';
import { tabwrite } from './tabwriter.js';

export const ROUTE_FORMATS = ['ps', 'wide', 'json', 'yaml'] as const;
export type RouteFormat = (typeof ROUTE_FORMATS)[number];

/** Reads `-o` for `node routes` (`yml` is yaml); anything else names the formats there are. */
export function parseRouteFormat(text: string | undefined): RouteFormat {
  if (text === undefined || text === '') return 'ps';
  if (text === 'yml') return 'yaml';
  if ((ROUTE_FORMATS as readonly string[]).includes(text)) return text as RouteFormat;
  throw new CliError(`unrecognized output format '${text}' (use one of: ${ROUTE_FORMATS.join(', ')})`);
}

export const ROUTE_HEADER = ['PREFIX', 'VIA', 'FROM', 'AS PATH', 'BEST', 'REASON'] as const;
export const ROUTE_WIDE_HEADER = [...ROUTE_HEADER, 'ORIGIN', 'LOCAL PREF', 'MED', 'COMMUNITIES', 'ORIGINATOR', 'CLUSTER LIST'] as const;

/** IPv4 before IPv6, then by address and prefix length. */
function comparePrefixes(a: Route, b: Route): number {
  const key = (r: Route): [number, bigint, number] => {
    const [addr, len] = r.prefix.split('/');
    const ip = parseIP(addr);
    return [ip?.family === 6 ? 6 : 4, ip?.value ?? 0n, Number(len ?? 0)];
  };
  const [fa, va, la] = key(a);
  const [fb, vb, lb] = key(b);
  if (fa !== fb) return fa - fb;
  if (va !== vb) return va < vb ? -1 : 1;
  if (la !== lb) return la - lb;
  return a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0;
}

/** The routes in print order: by family and prefix; within a prefix the best path first. */
export function sortedRoutes(routes: readonly Route[]): Route[] {
  return [...routes].sort(comparePrefixes).map((r) => ({ ...r, paths: [...r.paths.filter((p) => p.best), ...r.paths.filter((p) => !p.best)] }));
}

function pathCells(r: Route, p: RoutePath): string[] {
  const local = p.fromPeer === '';
  return [
    r.prefix,
    p.nextHop || '-',
    local ? 'local' : p.fromPeer,
    p.asPath.length > 0 ? p.asPath.join(' ') : '-',
    p.best ? '*' : '',
    p.best ? r.reason : '',
  ];
}

function wideCells(r: Route, p: RoutePath): string[] {
  return [
    ...pathCells(r, p),
    p.origin,
    String(p.localPref),
    p.med === undefined ? '-' : String(p.med),
    p.communities.length > 0 ? p.communities.join(',') : '-',
    p.originatorId || '-',
    p.clusterList.length > 0 ? p.clusterList.join(',') : '-',
  ];
}

/**
 * The table: one row per path, the prefix repeated on every row (so `grep` finds them),
 * `*` and the reason on the best path. A path this node originates comes FROM `local`.
 */
export function routesTable(routes: readonly Route[], wide: boolean): string {
  const rows: string[][] = [[...(wide ? ROUTE_WIDE_HEADER : ROUTE_HEADER)]];
  for (const r of sortedRoutes(routes)) for (const p of r.paths) rows.push(wide ? wideCells(r, p) : pathCells(r, p));
  return `${tabwrite(rows)}\n`;
}

/** The response as a plain object with every field present, for `-o json|yaml`. */
export function routesObject(res: RoutesResponse): Record<string, unknown> {
  return {
    node: res.node,
    routes: sortedRoutes(res.routes).map((r) => ({
      prefix: r.prefix,
      family: r.family,
      local: r.local,
      reason: r.reason,
      paths: r.paths.map((p) => ({
        best: p.best,
        fromPeer: p.fromPeer,
        nextHop: p.nextHop,
        asPath: [...p.asPath],
        origin: p.origin,
        localPref: p.localPref,
        ...(p.med === undefined ? {} : { med: p.med }),
        originatorID: p.originatorId,
        clusterList: [...p.clusterList],
        communities: [...p.communities],
      })),
    })),
  };
}

/** Renders `node routes` output in `format`. */
export function renderRoutes(res: RoutesResponse, format: RouteFormat): string {
  switch (format) {
    case 'ps':
    case 'wide':
      return routesTable(res.routes, format === 'wide');
    case 'json':
      return `${JSON.stringify(routesObject(res), null, 2)}\n`;
    case 'yaml':
      return stringify(routesObject(res));
  }
}
