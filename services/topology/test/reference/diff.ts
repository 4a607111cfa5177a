// The analysis before issue 17 point 4 (commit 3110940), unchanged but for import paths: the
// oracle of analysis-equivalence.test.ts, which holds the faster implementation to its results.
/** What changes between two sets of compiled node configurations (Preview). */
import { sameFilterSpec, samePeer } from '../../src/compile/equal.js';
import { PEER_TYPE_LABELS, type CompiledNodeConfig, type CompiledPeer } from '../../src/compile/types.js';

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

function key(p: CompiledPeer): string {
  return `${p.address}|${p.port}`;
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

/** The per-node differences from `before` to `after`, sorted by node; unchanged nodes are left out. */
export function diffConfigs(before: ReadonlyMap<string, CompiledNodeConfig>, after: ReadonlyMap<string, CompiledNodeConfig>): NodeConfigDiff[] {
  const names = [...new Set([...before.keys(), ...after.keys()])].sort();
  const out: NodeConfigDiff[] = [];
  for (const name of names) {
    const a = before.get(name);
    const b = after.get(name);
    const sessions: SessionDiff[] = [];
    const was = new Map((a?.peers ?? []).map((p) => [key(p), p]));
    const now = new Map((b?.peers ?? []).map((p) => [key(p), p]));
    for (const [k, p] of was) {
      const n = now.get(k);
      if (!n) sessions.push({ type: 'removed', before: p, after: undefined, fields: [] });
      else if (!samePeer(p, n)) sessions.push({ type: 'modified', before: p, after: n, fields: peerFields(p, n) });
    }
    for (const [k, p] of now) if (!was.has(k)) sessions.push({ type: 'added', before: undefined, after: p, fields: [] });
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
