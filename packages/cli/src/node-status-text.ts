/**
 * What `tabbyctl node status` prints for one NodeStatus: calicoctl's layout (a process
 * line, then `IPv4 BGP status` and `IPv6 BGP status`, each a bordered table of
 * PEER ADDRESS, PEER TYPE, STATE, SINCE, INFO or `No IPv4 peers found.`, then an empty
 * line). Pure: the resource and the clock in, text out.
 */
import type { BGPPeerStatus, NodeStatus } from '@tabby/proto';
import { birdSince, humanAge, parseTime } from './bird-time.js';
import { borderTable } from './border-table.js';

export const PEER_HEADER = ['PEER ADDRESS', 'PEER TYPE', 'STATE', 'SINCE', 'INFO'] as const;

/** The agent's reporting period when a status does not name one (the agent's default). */
export const DEFAULT_UPDATE_PERIOD_SECONDS = 30;
/** A report older than this many periods is stale. */
export const STALE_PERIODS = 3;

/** How fresh a status is, and whether its agent can be taken to be running. */
export interface StatusHealth {
  /** The first line, without its newline. */
  readonly line: string;
  /** True when the agent reported Ready within three reporting periods. */
  readonly running: boolean;
}

/**
 * The process line. calicoctl prints `Calico process is running.` after looking for the
 * process on the machine it runs on. tabbyctl reads a report the node's agent wrote, from
 * any machine, so the line names the node and the agent, and says when the report is too
 * old to vouch for a running agent; it keeps calicoctl's ` is running.` ending when the
 * agent is, so checks written for calicoctl's line (`grep 'is running'`) still work.
 */
export function statusHealth(ns: NodeStatus, now: Date): StatusHealth {
  const node = ns.spec?.node || ns.metadata?.name || '(unnamed)';
  const who = `Tabby agent on ${node}`;
  const r = agentReport(ns, now);
  switch (r.kind) {
    case 'unreported':
      return { line: `${who} has not said when it reported: status may be stale.`, running: false };
    case 'stale':
      return { line: `${who} last reported ${humanAge(r.ageMs)} ago (it reports every ${r.periodSeconds}s): status is stale.`, running: false };
    case 'not-ready':
      return { line: `${who} is not running: it reported ${r.state} ${humanAge(r.ageMs)} ago.`, running: false };
    case 'running':
      return { line: `${who} is running.`, running: true };
  }
}

/** What a NodeStatus says of its agent, judged at `now` (see {@link agentReport}). */
export type AgentReport =
  | { readonly kind: 'unreported' }
  | { readonly kind: 'stale'; readonly ageMs: number; readonly periodSeconds: number }
  | { readonly kind: 'not-ready'; readonly state: string; readonly ageMs: number }
  | { readonly kind: 'running' };

/**
 * Whether a NodeStatus vouches for a running agent: it names no report time (`unreported`),
 * its report is older than three reporting periods (`stale`), the agent reported a state
 * other than Ready (`not-ready`), or it is `running`.
 */
export function agentReport(ns: NodeStatus, now: Date): AgentReport {
  const reported = parseTime(ns.status?.lastUpdated ?? '');
  if (reported === undefined) return { kind: 'unreported' };
  const periodSeconds = ns.spec?.updatePeriodSeconds || DEFAULT_UPDATE_PERIOD_SECONDS;
  const ageMs = now.getTime() - reported.getTime();
  if (ageMs > STALE_PERIODS * periodSeconds * 1000) return { kind: 'stale', ageMs, periodSeconds };
  const state = ns.status?.agent?.state ?? '';
  if (state !== '' && state !== 'Ready') return { kind: 'not-ready', state, ageMs };
  return { kind: 'running' };
}

/**
 * The PEER ADDRESS cell: the address, with `:port` (`[addr]:port` for IPv6) when the peer
 * listens elsewhere than 179, so two peers on one address stay apart. (calicoctl shows
 * the address only; its protocol names carry the port as `_port_<p>`.)
 */
export function peerAddress(p: BGPPeerStatus): string {
  if (p.port === 0 || p.port === 179) return p.peerIP;
  return p.peerIP.includes(':') ? `[${p.peerIP}]:${p.port}` : `${p.peerIP}:${p.port}`;
}

function familySection(version: '4' | '6', peers: readonly BGPPeerStatus[], now: Date): string {
  let out = `\nIPv${version} BGP status\n`;
  if (peers.length === 0) return `${out}No IPv${version} peers found.\n`;
  out += borderTable(
    PEER_HEADER,
    peers.map((p) => [peerAddress(p), p.type, p.state, birdSince(p.since, now), p.info]),
  );
  return out;
}

/**
 * Tabby's addition after calicoctl's tables, only when the agent programs a routing table
 * (`--dataplane linux`): what it keeps there and what the kernel refused.
 */
function routesSection(ns: NodeStatus): string {
  const r = ns.status?.routes;
  if (!r) return '';
  let out = `\nRoutes (${r.dataplane})\n`;
  out += `${r.programmed} programmed: ${r.blackholes} blackhole, ${r.workloads} workload, ${r.remote} remote${r.converging ? ' (graceful restart: keeping stale routes until BGP converges)' : ''}\n`;
  if (r.borrowed.length > 0) out += `Borrowed addresses announced: ${r.borrowed.join(', ')}\n`;
  for (const w of r.waitingForInterface) out += `Waiting for its interface: ${w}\n`;
  for (const f of r.failures) out += `Refused by the kernel (retrying): ${f.prefix}: ${f.error}\n`;
  return out;
}

/** The whole `node status` text for one node, and whether its agent is running. */
export function nodeStatusText(ns: NodeStatus, now: Date): { text: string; running: boolean } {
  const health = statusHealth(ns, now);
  const bgp = ns.status?.bgp;
  const text = `${health.line}\n${familySection('4', bgp?.peersV4 ?? [], now)}${familySection('6', bgp?.peersV6 ?? [], now)}${routesSection(ns)}\n`;
  return { text, running: health.running };
}
