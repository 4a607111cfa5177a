import type { BirdReplyLine } from './birdc.js';

/**
 * Parsers for BIRD 2.0 `show protocols`, `show protocols all NAME`, `show route … all` and
 * `show route count` replies. BIRD has no JSON output; these read the text birdc prints,
 * using the reply codes (1002 protocol list, 1006 protocol details, 1007 route list,
 * 1008 route details, 1012 route attributes) to tell the kinds of lines apart.
 */

/** One row of `show protocols`. */
export interface BirdProtocol {
  readonly name: string;
  /** `BGP`, `Static`, `Device`, … */
  readonly proto: string;
  readonly table: string;
  /** `up`, `down`, `start`, `stop`. */
  readonly state: string;
  readonly since: string;
  /** For BGP: `Established`, `Active`, `Connect`, `Idle`, `Passive`, `Error: …`, … */
  readonly info: string;
}

/** Per-channel state and route counts of `show protocols all NAME`. */
export interface BirdChannelDetails {
  /** `ipv4`, `ipv6`. */
  readonly name: string;
  readonly state?: string;
  readonly table?: string;
  readonly imported: number;
  readonly filtered: number;
  readonly exported: number;
  readonly preferred: number;
  /** Every `Key: value` line of the channel. */
  readonly fields: Readonly<Record<string, string>>;
}

/** `show protocols all NAME`. */
export interface BirdProtocolDetails extends BirdProtocol {
  /** `Established`, `Active`, `Connect`, `Idle`, `OpenSent`, `OpenConfirm`, `Down` (BGP only). */
  readonly bgpState?: string;
  readonly neighborAddress?: string;
  readonly neighborAs?: number;
  readonly localAs?: number;
  readonly neighborId?: string;
  readonly lastError?: string;
  /** Every `Key: value` line outside the channel sections. */
  readonly fields: Readonly<Record<string, string>>;
  readonly channels: Readonly<Record<string, BirdChannelDetails>>;
  /** The reply as birdc prints it. */
  readonly text: string;
}

export type BgpOrigin = 'igp' | 'egp' | 'incomplete';

/** One route of `show route … all`. */
export interface BirdRoute {
  readonly table: string;
  readonly prefix: string;
  /** `unicast`, `blackhole`, `unreachable`, `prohibited`. */
  readonly dest: string;
  /** The protocol the route came from (`peer1`, `s4_10_2_0_0_24`). */
  readonly protocol: string;
  /** Address of the BGP neighbor it came from, when BIRD prints it. */
  readonly from?: string;
  /** Selected as best (`*`). */
  readonly best: boolean;
  readonly preference?: number;
  /** Next-hop lines as printed: `dev lo`, `via 10.1.1.1 on eth0`. */
  readonly via: readonly string[];
  /** `Type:` line, e.g. `BGP univ`, `static univ`. */
  readonly type?: string;
  /** The BGP next hop (first address of BGP.next_hop), else the gateway of a `via` line. */
  readonly nextHop?: string;
  /** All addresses of BGP.next_hop (a global and possibly a link-local one). */
  readonly bgpNextHops: readonly string[];
  readonly origin?: BgpOrigin;
  /** ASNs in order (AS_SET members flattened in place). */
  readonly asPath: readonly number[];
  readonly asPathText?: string;
  readonly med?: number;
  readonly localPref?: number;
  /** `65000:1`. */
  readonly communities: readonly string[];
  /** `1:2:3`. */
  readonly largeCommunities: readonly string[];
  /** As printed inside the parentheses: `rt, 65000, 1`. */
  readonly extCommunities: readonly string[];
  readonly originatorId?: string;
  readonly clusterList: readonly string[];
  /** Every attribute line by name (`BGP.as_path`, `BGP.atomic_aggr`, …). */
  readonly attributes: Readonly<Record<string, string>>;
}

/** `show protocols` rows. */
export function parseProtocols(lines: readonly BirdReplyLine[]): BirdProtocol[] {
  return lines.filter((l) => l.code === 1002).map((l) => parseProtocolRow(l.text));
}

function parseProtocolRow(text: string): BirdProtocol {
  const m = /^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*(.*?)\s*$/.exec(text);
  if (!m) throw new Error(`unexpected show protocols line: ${JSON.stringify(text)}`);
  return { name: m[1], proto: m[2], table: m[3], state: m[4], since: m[5], info: m[6] };
}

function keyValue(text: string): [string, string] | undefined {
  const m = /^\s*([A-Za-z][A-Za-z0-9 .\-/]*?):\s*(.*?)\s*$/.exec(text);
  return m ? [m[1], m[2]] : undefined;
}

function count(routes: string | undefined, what: string): number {
  const m = routes === undefined ? null : new RegExp(`(\\d+) ${what}`).exec(routes);
  return m ? Number(m[1]) : 0;
}

/** `show protocols all NAME` for one protocol. */
export function parseProtocolDetails(lines: readonly BirdReplyLine[]): BirdProtocolDetails {
  const row = lines.find((l) => l.code === 1002);
  if (!row) throw new Error(`no protocol row in: ${lines.map((l) => l.text).join('\n')}`);
  const fields: Record<string, string> = {};
  const channels: Record<string, { name: string; fields: Record<string, string> }> = {};
  let channel: { name: string; fields: Record<string, string> } | undefined;
  for (const l of lines) {
    if (l.code !== 1006) continue;
    const ch = /^\s*Channel (\S+)\s*$/.exec(l.text);
    if (ch) {
      channel = { name: ch[1], fields: {} };
      channels[ch[1]] = channel;
      continue;
    }
    const kv = keyValue(l.text);
    if (!kv || kv[1] === '') continue;
    const target = channel ? channel.fields : fields;
    if (!(kv[0] in target)) target[kv[0]] = kv[1];
  }
  const num = (v: string | undefined): number | undefined => (v === undefined || !/^\d+$/.test(v) ? undefined : Number(v));
  const out: Record<string, BirdChannelDetails> = {};
  for (const [name, c] of Object.entries(channels)) {
    const routes = c.fields.Routes;
    out[name] = {
      name,
      state: c.fields.State,
      table: c.fields.Table,
      imported: count(routes, 'imported'),
      filtered: count(routes, 'filtered'),
      exported: count(routes, 'exported'),
      preferred: count(routes, 'preferred'),
      fields: c.fields,
    };
  }
  return {
    ...parseProtocolRow(row.text),
    bgpState: fields['BGP state'],
    neighborAddress: fields['Neighbor address'],
    neighborAs: num(fields['Neighbor AS']),
    localAs: num(fields['Local AS']),
    neighborId: fields['Neighbor ID'],
    lastError: fields['Last error'],
    fields,
    channels: out,
    text: lines.map((l) => l.text).join('\n'),
  };
}

const ROUTE_LINE = /^(\S*)\s+(\S+) \[(\S+)(?: ([^\]]*?))?(?: from (\S+))?\](?: ([*!]))?(?: \((\d+)(?:\/[^)]*)?\))?/;

interface RouteBuilder {
  table: string;
  prefix: string;
  dest: string;
  protocol: string;
  from?: string;
  best: boolean;
  preference?: number;
  via: string[];
  type?: string;
  attributes: Record<string, string>;
  lastAttr?: string;
}

const ORIGINS: Record<string, BgpOrigin> = { IGP: 'igp', EGP: 'egp', Incomplete: 'incomplete' };

function finish(b: RouteBuilder): BirdRoute {
  const a = b.attributes;
  const bgpNextHops = (a['BGP.next_hop'] ?? '').split(/\s+/).filter(Boolean);
  const gw = b.via.map((v) => /^via (\S+)/.exec(v)?.[1]).find((x) => x !== undefined);
  const asPathText = a['BGP.as_path'];
  const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));
  return {
    table: b.table,
    prefix: b.prefix,
    dest: b.dest,
    protocol: b.protocol,
    from: b.from,
    best: b.best,
    preference: b.preference,
    via: b.via,
    type: b.type,
    nextHop: bgpNextHops[0] ?? gw,
    bgpNextHops,
    origin: a['BGP.origin'] === undefined ? undefined : ORIGINS[a['BGP.origin']],
    asPath: (asPathText ?? '').replace(/[{}]/g, ' ').split(/\s+/).filter(Boolean).map(Number),
    asPathText,
    med: num(a['BGP.med']),
    localPref: num(a['BGP.local_pref']),
    communities: [...(a['BGP.community'] ?? '').matchAll(/\((\d+),\s*(\d+)\)/g)].map((m) => `${m[1]}:${m[2]}`),
    largeCommunities: [...(a['BGP.large_community'] ?? '').matchAll(/\((\d+),\s*(\d+),\s*(\d+)\)/g)].map((m) => `${m[1]}:${m[2]}:${m[3]}`),
    extCommunities: [...(a['BGP.ext_community'] ?? '').matchAll(/\(([^)]*)\)/g)].map((m) => m[1]),
    originatorId: a['BGP.originator_id'],
    clusterList: (a['BGP.cluster_list'] ?? '').split(/\s+/).filter(Boolean),
    attributes: a,
  };
}

/** Routes of `show route [table T] [PREFIX] all` (also works without `all`, with fewer fields). */
export function parseRoutes(lines: readonly BirdReplyLine[]): BirdRoute[] {
  const routes: BirdRoute[] = [];
  let table = '';
  let prefix = '';
  let cur: RouteBuilder | undefined;
  const flush = (): void => {
    if (cur) routes.push(finish(cur));
    cur = undefined;
  };
  for (const { code, text } of lines) {
    if (code === 1007) {
      const t = /^\s*Table (\S+):\s*$/.exec(text);
      if (t) {
        flush();
        table = t[1];
        continue;
      }
      if (text.trim() === '') continue;
      if (text.startsWith('\t')) {
        cur?.via.push(text.trim());
        continue;
      }
      const m = ROUTE_LINE.exec(text);
      if (!m) throw new Error(`unexpected show route line: ${JSON.stringify(text)}`);
      flush();
      if (m[1] !== '') prefix = m[1];
      cur = {
        table,
        prefix,
        dest: m[2],
        protocol: m[3],
        from: m[5],
        best: m[6] === '*',
        preference: m[7] === undefined ? undefined : Number(m[7]),
        via: [],
        attributes: {},
      };
    } else if (code === 1008 || code === 1012) {
      if (!cur) continue;
      if (text.startsWith('\t\t') && cur.lastAttr !== undefined) {
        // A long set (communities) continues on lines indented twice.
        cur.attributes[cur.lastAttr] += ` ${text.trim()}`;
        continue;
      }
      const kv = /^\s*([^:]+?):\s?(.*)$/.exec(text);
      if (!kv) continue;
      if (kv[1] === 'Type') cur.type = kv[2].trim();
      else {
        cur.attributes[kv[1]] = kv[2].trim();
        cur.lastAttr = kv[1];
      }
    }
  }
  flush();
  return routes;
}

/** `show route [table T] count`: routes per table (`N of M routes for K networks in table T`). */
export function parseRouteCount(lines: readonly BirdReplyLine[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const { text } of lines) {
    const m = /^(\d+) of (\d+) routes for \d+ networks in table (\S+)/.exec(text.trim());
    if (m) out[m[3]] = Number(m[1]);
  }
  return out;
}

/**
 * Whether two `since` texts BIRD printed name the same instant. BIRD keeps a protocol's
 * since as a monotonic timestamp and converts it to wall-clock time each time it prints
 * it, so one instant can print 1 ms apart from one `show protocols` to the next (seen:
 * .264 then .265). A flap moves it by far more: a session is never re-established within
 * a millisecond. Texts are `HH:MM:SS.mmm` (timeformat protocol iso long ms), or the same
 * without milliseconds.
 */
export function sameBirdSince(a: string, b: string): boolean {
  const ms = (text: string): number => {
    const m = /(\d{2}):(\d{2}):(\d{2})(?:\.(\d{3}))?$/.exec(text);
    return m ? ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number(m[4] ?? 0) : Number.NaN;
  };
  if (a === b) return true;
  const d = Math.abs(ms(a) - ms(b));
  return d <= 1 || d >= 24 * 3_600_000 - 1;
}
