/**
 * What the topology commands print: a node's compiled configuration, the session graph
 * (table and Graphviz), explanations, check results and dry-run diffs. Pure: messages of
 * the contract in, text out.
 */
import {
  AddressFamily,
  SessionChangeType,
  ValueSource,
  WarningSeverity,
  type ExplainResponse,
  type ListPeeringsResponse,
  type NodeConfig,
  type NodeDiff,
  type PeerConfig,
  type Peering,
  type PreviewResponse,
  type TopologyCheckResponse,
  type TopologyWarning,
} from '@tabby/proto';
import { plural } from './command-kit.js';
import { tabwrite } from './tabwriter.js';

function sourceText(s: ValueSource, node: string): string {
  switch (s) {
    case ValueSource.VALUE_SOURCE_NODE:
      return `Node ${node}`;
    case ValueSource.VALUE_SOURCE_NODE_BGP_CONFIGURATION:
      return `BGPConfiguration node.${node}`;
    case ValueSource.VALUE_SOURCE_DEFAULT_BGP_CONFIGURATION:
      return 'BGPConfiguration default';
    case ValueSource.VALUE_SOURCE_BUILTIN_DEFAULT:
      return "Calico's default";
    case ValueSource.VALUE_SOURCE_NODE_NAME_HASH:
      return 'hash of the node name';
    default:
      return 'unknown';
  }
}

function familyText(f: AddressFamily | undefined): string {
  return f === AddressFamily.ADDRESS_FAMILY_IPV6_UNICAST ? 'IPv6' : 'IPv4';
}

/** The resource a session is in effect from, and how many others were collapsed into it. */
export function peerSource(p: PeerConfig): string {
  const used = p.sources.find((s) => s.used);
  const name = used ? used.resource || '(default mesh)' : '-';
  const collapsed = p.sources.filter((s) => !s.used).length;
  return collapsed > 0 ? `${name} +${collapsed}` : name;
}

/** passive, rr-client, keep-next-hop, next-hop-self, local-as N. */
export function peerFlags(p: PeerConfig, nodeAs: number): string {
  const flags: string[] = [];
  if (p.passive) flags.push('passive');
  if (p.routeReflectorClient) flags.push('rr-client');
  if (p.nextHopMode === 'Keep') flags.push('keep-next-hop');
  if (p.nextHopMode === 'Self') flags.push('next-hop-self');
  if (p.localAs !== nodeAs) flags.push(`local-as ${p.localAs}`);
  if (p.sourceAddress === '') flags.push('no-source-address');
  return flags.length > 0 ? flags.join(',') : '-';
}

/** `tabbyctl topology show NODE`. */
export function nodeConfigText(c: NodeConfig): string {
  if (!c.exists) return `Node ${c.node} does not exist.\n`;
  const lines: string[] = [];
  const addresses = [c.ipv4Address, c.ipv6Address].filter((a) => a !== '').join(', ') || 'none';
  lines.push(`Node ${c.node}: AS ${c.asNumber} (${sourceText(c.asNumberSource, c.node)}), addresses ${addresses}`);
  lines.push(`Router id ${c.routerId} (${c.routerIdSource === ValueSource.VALUE_SOURCE_NODE ? 'IPv4 address' : sourceText(c.routerIdSource, c.node)}), listen port ${c.listenPort} (${sourceText(c.listenPortSource, c.node)})${c.bindToNodeAddress ? ', bound to the node address' : ''}`);
  if (c.routeReflectorClusterId !== '') lines.push(`Route reflector, cluster ${c.routeReflectorClusterId}`);
  lines.push('');
  let out = `${lines.join('\n')}\n`;
  if (c.peers.length === 0) out += 'No BGP sessions.\n';
  else
    out += tabwrite([
      ['PEER ADDRESS', 'PEER', 'PEER TYPE', 'PORT', 'REMOTE AS', 'SESSION', 'FLAGS', 'SOURCE'],
      ...c.peers.map((p) => [p.address, p.peerNode || '-', p.typeLabel, String(p.port), String(p.remoteAs), p.ibgp ? 'iBGP' : 'eBGP', peerFlags(p, c.asNumber), peerSource(p)]),
    ]);
  out += `\nPrefixes: ${c.prefixes.length === 0 ? 'none' : c.prefixes.map((p) => (p.pool ? `${p.cidr} (${p.pool})` : p.cidr)).join(', ')}\n`;
  return out;
}

function peeringStatus(p: Peering): string {
  if (!p.viable) return `cannot come up: ${p.problem}`;
  const roles: string[] = [];
  if (p.a?.config?.routeReflectorClient) roles.push(`${p.b?.node || p.b?.address} is a client of ${p.a.node}`);
  if (p.b?.config?.routeReflectorClient) roles.push(`${p.a?.node} is a client of ${p.b.node}`);
  return roles.join('; ') || 'ok';
}

function peeringType(p: Peering): string {
  return (p.a?.config ?? p.b?.config)?.typeLabel ?? '-';
}

function asText(p: Peering): string {
  const a = p.a?.asNumber ?? 0;
  const b = p.b?.asNumber ?? 0;
  return a === b ? `iBGP ${a}` : `eBGP ${a}-${b}`;
}

/** `tabbyctl topology show`: one row per session of the graph. */
export function peeringsTable(res: ListPeeringsResponse): string {
  const n2n = res.peerings.filter((p) => p.nodeToNode).length;
  const header = `${plural(res.nodes.length, 'node')}, ${plural(res.peerings.length, 'session')} (${n2n} between nodes, ${res.peerings.length - n2n} to external peers)\n\n`;
  if (res.peerings.length === 0) return `${header}No BGP sessions.\n`;
  return (
    header +
    tabwrite([
      ['NODE', 'ADDRESS', 'PEER', 'PEER ADDRESS', 'FAMILY', 'PEER TYPE', 'SESSION', 'STATUS'],
      ...res.peerings.map((p) => [
        p.a?.node ?? '',
        p.a?.address ?? '',
        p.nodeToNode ? (p.b?.node ?? '') : '(external)',
        p.b?.address ?? '',
        familyText(p.family),
        peeringType(p),
        asText(p),
        peeringStatus(p),
      ]),
    ])
  );
}

function escape(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

/** A quoted DOT string; several lines are joined with DOT's `\n`. */
function dq(...lines: string[]): string {
  return `"${lines.map(escape).join('\\n')}"`;
}

/** `tabbyctl topology show -o dot`: the session graph for Graphviz (`dot -Tsvg`). */
export function peeringsDot(res: ListPeeringsResponse): string {
  const lines = ['graph tabby {', '  graph [overlap=false, splines=true];', '  node [shape=box, fontname="Helvetica"];', '  edge [fontname="Helvetica", fontsize=10];'];
  for (const n of res.nodes) {
    const label = dq(n.name, `AS ${n.asNumber}`, ...[n.ipv4Address, n.ipv6Address].filter((a) => a !== ''), ...(n.routeReflectorClusterId ? [`RR ${n.routeReflectorClusterId}`] : []));
    lines.push(`  ${dq(n.name)} [label=${label}${n.routeReflectorClusterId ? ', style=filled, fillcolor=lightblue' : ''}];`);
  }
  const externals = new Map<string, number>();
  for (const p of res.peerings) if (!p.nodeToNode && p.b) externals.set(p.b.address, p.b.asNumber);
  for (const [address, as] of externals) lines.push(`  ${dq(`ext:${address}`)} [shape=ellipse, label=${dq(address, `AS ${as}`)}];`);
  for (const p of res.peerings) {
    const a = p.a?.node ?? '';
    const b = p.nodeToNode ? (p.b?.node ?? '') : `ext:${p.b?.address ?? ''}`;
    const attrs = [`label=${dq(`${peeringType(p)}${p.family === AddressFamily.ADDRESS_FAMILY_IPV6_UNICAST ? ' v6' : ''}${asText(p).startsWith('eBGP') ? ' eBGP' : ''}`)}`];
    let [from, to] = [a, b];
    if (p.b?.config?.routeReflectorClient && !p.a?.config?.routeReflectorClient) [from, to] = [b, a];
    if (p.a?.config?.routeReflectorClient || p.b?.config?.routeReflectorClient) attrs.push('dir=forward', 'penwidth=2');
    if (!p.viable) attrs.push('style=dashed', 'color=red', `tooltip=${dq(p.problem)}`);
    lines.push(`  ${dq(from)} -- ${dq(to)} [${attrs.join(', ')}];`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/** `tabbyctl topology explain NODE PEER`. */
export function explanationText(node: string, peer: string, res: ExplainResponse): string {
  if (res.sessions.length === 0) return `${node} has no session with ${peer}:\n${res.notes.map((n) => `  ${n}\n`).join('')}`;
  return res.sessions.map((s) => `${s.reasons[0] ?? ''}\n${s.reasons.slice(1).map((r) => `  ${r}\n`).join('')}`).join('\n');
}

const SEVERITY_TEXT: Readonly<Record<number, string>> = {
  [WarningSeverity.WARNING_SEVERITY_ERROR]: 'error',
  [WarningSeverity.WARNING_SEVERITY_WARNING]: 'warning',
  [WarningSeverity.WARNING_SEVERITY_INFO]: 'info',
};

/** One warning per line: `error: routes-not-propagated: ...`. */
export function warningLines(ws: readonly TopologyWarning[], indent = ''): string {
  return ws.map((w) => `${indent}${SEVERITY_TEXT[w.severity] ?? 'warning'}: ${w.code}: ${w.message}\n`).join('');
}

/** True when any warning is an error (a route or a session would be lost). */
export function hasErrors(ws: readonly TopologyWarning[]): boolean {
  return ws.some((w) => w.severity === WarningSeverity.WARNING_SEVERITY_ERROR);
}

/** `tabbyctl topology check`. */
export function checkText(res: TopologyCheckResponse): string {
  const summary = `Check complete: ${plural(res.nodes, 'node')}, ${plural(res.sessions, 'session')}; found ${res.warnings.length === 0 ? 'no problems' : plural(res.warnings.length, 'problem')}.\n`;
  return `${warningLines(res.warnings)}${res.warnings.length > 0 ? '\n' : ''}${summary}`;
}

function sessionRow(sign: string, p: PeerConfig, extra: string): string[] {
  return [`${sign} ${p.name}`, `${p.address}${p.peerNode ? ` (${p.peerNode})` : ''}`, p.typeLabel, p.ibgp ? `iBGP ${p.localAs}` : `eBGP ${p.localAs}-${p.remoteAs}`, extra];
}

function nodeDiffText(d: NodeDiff): string {
  let out = `${d.node}:\n`;
  for (const f of d.fields) out += `  ${f}\n`;
  const rows = d.sessions.map((s) => {
    const p = (s.after ?? s.before) as PeerConfig;
    switch (s.type) {
      case SessionChangeType.SESSION_CHANGE_TYPE_ADDED:
        return sessionRow('+', p, peerSource(p));
      case SessionChangeType.SESSION_CHANGE_TYPE_REMOVED:
        return sessionRow('-', p, peerSource(p));
      default:
        return sessionRow('~', p, s.fields.join('; '));
    }
  });
  if (rows.length > 0)
    out += tabwrite(rows)
      .split('\n')
      .map((l) => (l === '' ? l : `  ${l.trimEnd()}`))
      .join('\n');
  if (d.prefixesAdded.length > 0) out += `  prefixes added: ${d.prefixesAdded.join(', ')}\n`;
  if (d.prefixesRemoved.length > 0) out += `  prefixes withdrawn: ${d.prefixesRemoved.join(', ')}\n`;
  return out;
}

/** What `--dry-run` prints: the sessions that would change per node, and the warnings. */
export function previewText(res: PreviewResponse, what: string): string {
  let out = `Dry run: nothing was written. ${what}`;
  out += res.nodes.length === 0 ? ' would change no node’s BGP configuration.\n' : ` would change ${plural(res.nodes.length, 'node')}:\n\n`;
  for (const d of res.nodes) out += `${nodeDiffText(d)}\n`;
  if (res.warnings.length > 0) out += `${res.nodes.length === 0 ? '\n' : ''}Warnings this change would introduce:\n${warningLines(res.warnings, '  ')}`;
  else out += `${res.nodes.length === 0 ? '\n' : ''}No new warnings.\n`;
  if (res.resolved.length > 0) out += `Warnings it would resolve:\n${warningLines(res.resolved, '  ')}`;
  if (res.ignored.length > 0) out += `Not BGP-related, not previewed: ${res.ignored.join(', ')}\n`;
  return out;
}
