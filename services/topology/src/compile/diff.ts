/** What changes between two sets of compiled node configurations (Preview). */
import { sameFilterSpec, samePeer } from './equal.js';
import { PEER_TYPE_LABELS, type CompiledNodeConfig, type CompiledPeer } from './types.js';

export interface SessionDiff {
  readonly type: 'added' | 'removed' | 'modified';
  readonly before: CompiledPeer | undefined;
  readonly after: CompiledPeer | undefined;
  /** For `modified`: `field: before -> after`. */
  readonly fields: readonly string[];
}

export interface NodeConfigDiff {
  readonly node: string;
  /** Node-level changes: `exists: false -> true`, `asNumber: 64512 -> 63400`, ... */
  readonly fields: readonly string[];
  readonly sessions: readonly SessionDiff[];
  readonly prefixesAdded: readonly string[];
  readonly prefixesRemoved: readonly string[];
}

function show(v: string | number | boolean | readonly string[]): string {
  if (v === '') return '""';
  if (typeof v === 'object') return `[${v.join(', ')}]`;
  return String(v);
}

function peerFields(a: CompiledPeer, b: CompiledPeer): string[] {
  const out: string[] = [];
  const cmp = (name: string, x: string | number | boolean | readonly string[], y: string | number | boolean | readonly string[]): void => {
    if (show(x) !== show(y)) out.push(`${name}: ${show(x)} -> ${show(y)}`);
  };
  cmp('type', PEER_TYPE_LABELS[a.kind], PEER_TYPE_LABELS[b.kind]);
  cmp('remoteAs', a.remoteAs, b.remoteAs);
  cmp('localAs', a.localAs, b.localAs);
  cmp('ibgp', a.ibgp, b.ibgp);
  cmp('passive', a.passive, b.passive);
  cmp('routeReflectorClient', a.rrClient, b.rrClient);
  cmp('clusterId', a.clusterId, b.clusterId);
  cmp('peerNode', a.peerNode, b.peerNode);
  cmp('sourceAddress', a.sourceAddress, b.sourceAddress);
  cmp('nextHopMode', a.nextHopMode, b.nextHopMode);
  cmp('keepOriginalNextHop', a.keepOriginalNextHop, b.keepOriginalNextHop);
  cmp('password', a.password ? `${a.password.name}/${a.password.key}` : '', b.password ? `${b.password.name}/${b.password.key}` : '');
  cmp('gracefulRestartTimeSeconds', a.restartTimeS, b.restartTimeS);
  cmp('ttlSecurity', a.ttlSecurity, b.ttlSecurity);
  cmp('numAllowedLocalASNumbers', a.numAllowedLocalAS, b.numAllowedLocalAS);
  cmp('reachableBy', a.reachableBy, b.reachableBy);
  cmp('filters', a.filters, b.filters);
  cmp('missingFilters', a.missingFilters, b.missingFilters);
  cmp('keepaliveTimeSeconds', a.keepaliveS, b.keepaliveS);
  cmp('name', a.name, b.name);
  const src = (p: CompiledPeer): string[] => p.sources.map((s) => `${s.resource || 'mesh'}${s.used ? '' : ' (collapsed)'}`);
  cmp('sources', src(a), src(b));
  return out;
}

function nodeFields(a: CompiledNodeConfig | undefined, b: CompiledNodeConfig | undefined): string[] {
  const out: string[] = [];
  if (!a || !b) {
    out.push(`exists: ${Boolean(a)} -> ${Boolean(b)}`);
    return out;
  }
  const cmp = (name: string, x: string | number | boolean | readonly string[], y: string | number | boolean | readonly string[]): void => {
    if (show(x) !== show(y)) out.push(`${name}: ${show(x)} -> ${show(y)}`);
  };
  cmp('asNumber', a.asNumber, b.asNumber);
  cmp('routerId', a.routerId, b.routerId);
  cmp('listenPort', a.listenPort, b.listenPort);
  cmp('bindToNodeAddress', a.bindToNodeAddress, b.bindToNodeAddress);
  cmp('ipv4Address', a.ipv4, b.ipv4);
  cmp('ipv6Address', a.ipv6, b.ipv6);
  cmp('routeReflectorClusterId', a.clusterId, b.clusterId);
  cmp('logSeverityScreen', a.logSeverityScreen, b.logSeverityScreen);
  cmp(
    'communities',
    a.communities.map((c) => `${c.cidr} ${[...c.standard, ...c.large].join(' ')}`),
    b.communities.map((c) => `${c.cidr} ${[...c.standard, ...c.large].join(' ')}`),
  );
  cmp(
    'services',
    a.services.map((s) => `${s.kind} ${s.cidr}`),
    b.services.map((s) => `${s.kind} ${s.cidr}`),
  );
  cmp(
    'filters',
    a.filters.map((f) => f.name),
    b.filters.map((f) => f.name),
  );
  const rulesBefore = new Map(a.filters.map((f) => [f.name, f.spec]));
  for (const f of b.filters) {
    const was = rulesBefore.get(f.name);
    if (was && !sameFilterSpec(was, f.spec)) out.push(`filter ${f.name}: rules changed`);
  }
  return out;
}

/**
 * The session changes between two sorted session lists (by address key, then mostly by
 * port), unsorted: a merge over the address keys, with a map only within one address (a few
 * ports at most). A recompiled mesh node has a thousand sessions; keying them all costs more
 * than the compile.
 */
function sessionDiffs(was: readonly CompiledPeer[], now: readonly CompiledPeer[]): SessionDiff[] {
  const out: SessionDiff[] = [];
  /** Where the run of sessions to the address at `from` ends. */
  const runEnd = (list: readonly CompiledPeer[], from: number): number => {
    let to = from + 1;
    while (to < list.length && list[to].addressKey === list[from].addressKey) to++;
    return to;
  };
  // Keyed as a whole list would be: one session per port, the last one listed.
  const byPort = (list: readonly CompiledPeer[], from: number, to: number): Map<number, CompiledPeer> => new Map(list.slice(from, to).map((p) => [p.port, p]));
  let i = 0;
  let j = 0;
  while (i < was.length || j < now.length) {
    const ka = i < was.length ? was[i].addressKey : undefined;
    const kb = j < now.length ? now[j].addressKey : undefined;
    const i2 = ka !== undefined && (kb === undefined || ka <= kb) ? runEnd(was, i) : i;
    const j2 = kb !== undefined && (ka === undefined || kb <= ka) ? runEnd(now, j) : j;
    if (i2 - i === 1 && j2 - j === 1 && was[i].port === now[j].port) {
      // The common case: one session to the address on each side.
      if (!samePeer(was[i], now[j])) out.push({ type: 'modified', before: was[i], after: now[j], fields: peerFields(was[i], now[j]) });
    } else {
      const before = byPort(was, i, i2);
      const after = byPort(now, j, j2);
      for (const [port, p] of before) {
        const n = after.get(port);
        if (!n) out.push({ type: 'removed', before: p, after: undefined, fields: [] });
        else if (!samePeer(p, n)) out.push({ type: 'modified', before: p, after: n, fields: peerFields(p, n) });
      }
      for (const [port, p] of after) if (!before.has(port)) out.push({ type: 'added', before: undefined, after: p, fields: [] });
    }
    i = i2;
    j = j2;
  }
  return out;
}

/** The per-node differences from `before` to `after`, sorted by node; unchanged nodes are left out. */
export function diffConfigs(before: ReadonlyMap<string, CompiledNodeConfig>, after: ReadonlyMap<string, CompiledNodeConfig>): NodeConfigDiff[] {
  const names = [...new Set([...before.keys(), ...after.keys()])].sort();
  const out: NodeConfigDiff[] = [];
  for (const name of names) {
    const a = before.get(name);
    const b = after.get(name);
    // Configurations are immutable: one a commit did not touch is the same object.
    if (a === b) continue;
    const sessions = sessionDiffs(a?.peers ?? [], b?.peers ?? []);
    sessions.sort((x, y) => {
      const px = (x.after ?? x.before) as CompiledPeer;
      const py = (y.after ?? y.before) as CompiledPeer;
      return px.addressKey < py.addressKey ? -1 : px.addressKey > py.addressKey ? 1 : px.port - py.port;
    });
    const pa = new Set((a?.prefixes ?? []).map((p) => p.cidr));
    const pb = new Set((b?.prefixes ?? []).map((p) => p.cidr));
    const diff: NodeConfigDiff = {
      node: name,
      fields: nodeFields(a, b),
      sessions,
      prefixesAdded: [...pb].filter((p) => !pa.has(p)),
      prefixesRemoved: [...pa].filter((p) => !pb.has(p)),
    };
    if (diff.fields.length + diff.sessions.length + diff.prefixesAdded.length + diff.prefixesRemoved.length > 0) out.push(diff);
  }
  return out;
}
