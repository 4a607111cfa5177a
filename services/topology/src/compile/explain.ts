/**
 * Explain: why a node has (or has not) a session with a peer, in sentences that name the
 * resources, fields and rules involved.
 */
import { parsePeerAddress, type IPFamily } from '@tabby/api';
import type { TopologyCompiler } from './compiler.js';
import { BadPeerError, UnknownNodeError } from './errors.js';
import type { PeerModel } from './model.js';
import { PEER_TYPE_LABELS, type CompiledNodeConfig, type CompiledPeer, type PeerSourceInfo, type ValueOrigin } from './types.js';

export interface ExplainedPeer {
  readonly peer: CompiledPeer;
  readonly reasons: readonly string[];
}

export interface Explanation {
  readonly sessions: readonly ExplainedPeer[];
  /** Why there is no session, when there is none. */
  readonly notes: readonly string[];
}

function familyName(f: IPFamily): string {
  return f === 4 ? 'IPv4' : 'IPv6';
}

function q(text: string): string {
  return JSON.stringify(text);
}

function asOrigin(origin: ValueOrigin, node: string): string {
  switch (origin) {
    case 'node':
      return `spec.bgp.asNumber of Node(${node})`;
    case 'default-bgp-configuration':
      return 'asNumber of BGPConfiguration(default)';
    default:
      return `Calico's default, as neither Node(${node}) nor the default BGPConfiguration sets one`;
  }
}

function listenOrigin(origin: ValueOrigin, node: string): string {
  switch (origin) {
    case 'node-bgp-configuration':
      return `listenPort of BGPConfiguration(node.${node})`;
    case 'default-bgp-configuration':
      return 'listenPort of BGPConfiguration(default)';
    default:
      return 'the BGP default';
  }
}

class Explainer {
  constructor(
    private readonly c: TopologyCompiler,
    private readonly x: CompiledNodeConfig,
  ) {}

  private peerModel(resource: string): PeerModel | undefined {
    return this.c.peerStates().find((s) => s.model.id === resource)?.model;
  }

  private localSide(m: PeerModel, node: string): string {
    if (m.global) return `is global (neither node nor nodeSelector), so every node gets it`;
    if (m.node !== '') return `names node ${m.node}`;
    return `has nodeSelector ${q(m.nodeSelectorText)}, which ${node} matches`;
  }

  private remoteSide(m: PeerModel, peer: string): string {
    return m.peerSelector ? `peerSelector ${q(m.peerSelectorText)}, which ${peer} matches` : `peerIP ${m.peerIPText}${m.asNumber ? ` (asNumber ${m.asNumber})` : ''}`;
  }

  private mesh(p: CompiledPeer): string {
    const s = this.c.settings;
    const why = s.meshExplicit
      ? 'BGPConfiguration(default) sets nodeToNodeMeshEnabled: true'
      : s.hasDefaultConfig
        ? 'BGPConfiguration(default) leaves nodeToNodeMeshEnabled unset, which means enabled'
        : 'there is no default BGPConfiguration, so the mesh is on (Calico’s default)';
    return `node-to-node mesh: ${why}, and neither ${this.x.node} nor ${p.peerNode} is a route reflector`;
  }

  private source(p: CompiledPeer, s: PeerSourceInfo): string {
    const X = this.x.node;
    const Y = p.peerNode || p.address;
    if (s.rule === 'mesh') return this.mesh(p);
    const m = this.peerModel(s.resource);
    if (!m) return `${s.resource} (${s.rule})`;
    switch (s.rule) {
      case 'global-peer-ip':
      case 'global-peer-selector':
      case 'node-peer-ip':
      case 'node-peer-selector':
        return `${m.id} ${this.localSide(m, X)}, with ${this.remoteSide(m, Y)}`;
      case 'reverse-peer-selector':
        return `reverse peering of ${m.id}: ${X} matches its peerSelector ${q(m.peerSelectorText)} and ${Y} ${
          m.global ? 'is a node (the BGPPeer is global)' : m.node !== '' ? 'is its node' : `matches its nodeSelector ${q(m.nodeSelectorText)}`
        }; Calico adds the reverse so that both ends configure the session (reversePeering: Auto)`;
      case 'reverse-peer-ip':
        return `reverse peering of ${m.id}: its peerIP ${m.peerIPText} and asNumber ${m.asNumber || this.c.defaultAs()} are ${X}'s, and ${Y} ${
          m.global ? 'is a node (the BGPPeer is global)' : m.node !== '' ? 'is its node' : `matches its nodeSelector ${q(m.nodeSelectorText)}`
        }; Calico adds the reverse so that both ends configure the session (reversePeering: Auto)`;
      default:
        return `${m.id}`;
    }
  }

  private collapsed(p: CompiledPeer, s: PeerSourceInfo): string {
    const why =
      s.rule === 'mesh'
        ? 'the BGPPeer session replaces the mesh session to the same neighbour (Calico would run both and they would fight)'
        : 'one session per address and port: global BGPPeers come first, then node-specific ones, then reverse peerings, each in name order, and the first wins';
    return `also ${this.source(p, s)} — collapsed into this session: ${why}`;
  }

  explain(p: CompiledPeer): string[] {
    const X = this.x.node;
    const Y = p.peerNode || p.address;
    const own = p.family === 4 ? this.x.ipv4 : this.x.ipv6;
    const used = p.sources.find((s) => s.used);
    const reasons: string[] = [];
    reasons.push(`${PEER_TYPE_LABELS[p.kind]} session ${p.name}: ${X} (${own}) → ${p.peerNode ? `${p.peerNode} (${p.address})` : p.address} port ${p.port}, ${familyName(p.family)}`);
    for (const s of p.sources) reasons.push(s.used ? `produced by ${this.source(p, s)}` : this.collapsed(p, s));
    // AS numbers.
    const m = used && used.rule !== 'mesh' ? this.peerModel(used.resource) : undefined;
    const localWhy = p.localAs !== this.x.asNumber && m?.localAsNumber === p.localAs ? `localASNumber of ${m.id}` : asOrigin(this.x.asNumberOrigin, X);
    let remoteWhy: string;
    if (used && (used.rule === 'global-peer-ip' || used.rule === 'node-peer-ip')) remoteWhy = p.remoteAs === 0 ? `${used.resource} sets no asNumber` : `asNumber of ${used.resource}`;
    else {
      const y = this.c.config(p.peerNode);
      remoteWhy = y ? `${p.peerNode}'s AS: ${asOrigin(y.asNumberOrigin, p.peerNode)}` : 'the peer node’s AS';
    }
    reasons.push(`local AS ${p.localAs} (${localWhy}), remote AS ${p.remoteAs} (${remoteWhy}): ${p.ibgp ? 'iBGP' : 'eBGP'}`);
    // Port.
    let portWhy: string;
    if (p.configuredPort === 0) portWhy = 'the BGP default';
    else if (m?.peerAddress?.port === p.configuredPort && (used?.rule === 'global-peer-ip' || used?.rule === 'node-peer-ip')) portWhy = `given in the peerIP of ${m.id}`;
    else {
      const y = this.c.config(p.peerNode);
      portWhy = y ? `${p.peerNode} listens there: ${listenOrigin(y.listenPortOrigin, p.peerNode)}` : 'the peer node’s listen port';
    }
    reasons.push(`port ${p.port} (${portWhy})`);
    // Who connects.
    if (p.kind === 'mesh' || (p.kind === 'global' && p.peerNode !== '' && (p.passive || p.address < own)))
      reasons.push(
        p.passive
          ? `${X} waits for ${Y} to connect: Calico makes ${p.kind === 'mesh' ? 'mesh' : 'global node-to-node'} sessions one-directional, and ${p.address} sorts after ${own} as text`
          : `${X} connects to ${Y}: ${own} sorts after ${p.address} as text, so ${Y} waits`,
      );
    else if (p.peerNode !== '') reasons.push(`${X} connects (node-specific sessions are active on both ends; BGP's collision detection keeps one connection)`);
    else reasons.push(`${X} connects to ${p.address}`);
    // Route reflection.
    if (this.x.clusterId !== '') {
      if (p.rrClient)
        reasons.push(
          `${Y} is a route-reflector client of ${X}: ${X} is a route reflector (cluster ${this.x.clusterId}), the session is iBGP and the peer is not in cluster ${this.x.clusterId}${
            used && (used.rule === 'global-peer-ip' || used.rule === 'node-peer-ip') && p.peerClusterId !== ''
              ? ' (a peerIP peering never carries the peer’s cluster id, so Calico makes even a reflector there a client)'
              : ''
          }`,
        );
      else if (!p.ibgp) reasons.push(`not a route-reflector client: the session is eBGP`);
      else reasons.push(`not a route-reflector client: ${Y} is a reflector of the same cluster ${this.x.clusterId}, and reflectors of one cluster peer as plain iBGP`);
    } else if (p.peerClusterId !== '' && p.ibgp) {
      reasons.push(`${Y} is a route reflector (cluster ${p.peerClusterId}) and treats ${X} as its client`);
    }
    // Next hop.
    if (p.keepOriginalNextHop) reasons.push(`next hop kept: keepOriginalNextHop on an eBGP session`);
    else if (m?.keepOriginalNextHop && p.ibgp) reasons.push(`keepOriginalNextHop of ${m.id} is ignored: Calico applies it to eBGP sessions only`);
    if (p.sourceAddress === '' && m) reasons.push(`no source address: ${m.id} sets sourceAddress: None`);
    return reasons;
  }

  whyNot(family: IPFamily | undefined, target: CompiledNodeConfig | undefined, address: string | undefined): string[] {
    const X = this.x.node;
    const notes: string[] = [];
    const s = this.c.settings;
    const families: IPFamily[] = family ? [family] : [4, 6];
    if (target?.node === X || (address !== undefined && (address === this.x.ipv4 || address === this.x.ipv6))) return [`${X} never peers with itself`];
    for (const f of families) {
      const own = f === 4 ? this.x.ipv4 : this.x.ipv6;
      if (own === '' && (family !== undefined || (target && (f === 4 ? target.ipv4 : target.ipv6) !== '')))
        notes.push(`${X} has no ${familyName(f)} address (spec.bgp.${f === 4 ? 'ipv4Address' : 'ipv6Address'}), so it has no ${familyName(f)} sessions`);
    }
    if (target) {
      const Y = target.node;
      if (target.ipv4 === '' && target.ipv6 === '') notes.push(`${Y} has no BGP address, so no session can reach it`);
      if (!s.meshEnabled) notes.push('the node-to-node mesh is disabled (BGPConfiguration(default) nodeToNodeMeshEnabled: false)');
      else if (this.x.clusterId !== '') notes.push(`${X} is a route reflector (cluster ${this.x.clusterId}): route reflectors take no part in the mesh`);
      else if (target.clusterId !== '') notes.push(`${Y} is a route reflector (cluster ${target.clusterId}): the mesh skips route reflectors`);
      for (const st of this.c.peerStates()) {
        const m = st.model;
        const appliesToX = st.local === undefined || st.local.has(X);
        if (!appliesToX || m.unusable) continue;
        if (m.peerSelector && !st.remote.has(Y)) notes.push(`${m.id} applies to ${X} but its peerSelector ${q(m.peerSelectorText)} does not match ${Y}`);
      }
    } else if (address !== undefined) {
      const matching = this.c.peerStates().filter((st) => st.model.peerAddress?.ip.text === address);
      if (matching.length === 0) notes.push(`no BGPPeer has peerIP ${address}`);
      for (const st of matching) {
        const m = st.model;
        if (st.local !== undefined && !st.local.has(X))
          notes.push(m.node !== '' ? `${m.id} peers ${address} for node ${m.node} only` : `${m.id} peers ${address} for the nodes matching ${q(m.nodeSelectorText)}, which ${X} does not`);
      }
    }
    if (notes.length === 0) notes.push(`no rule gives ${X} a session to ${target?.node ?? address}`);
    return notes.slice(0, 8);
  }
}

/**
 * Explains the sessions of `node` with `peer` (an address, `address:port`,
 * `[ipv6]:port`, or a node name), or why there is none.
 * @throws {UnknownNodeError} when the node does not exist.
 * @throws {BadPeerError} when the peer is neither an address nor a node.
 */
export function explain(c: TopologyCompiler, node: string, peer: string): Explanation {
  const x = c.config(node);
  if (!x) throw new UnknownNodeError(node);
  const e = new Explainer(c, x);
  const addr = parsePeerAddress(peer);
  let matches: CompiledPeer[];
  let target: CompiledNodeConfig | undefined;
  if (addr) {
    matches = x.peers.filter((p) => p.address === addr.ip.text && (addr.port === undefined || p.port === addr.port));
    const at = c.nodesAt(addr.ip.text);
    target = at.length > 0 ? c.config(at[0]) : undefined;
  } else {
    target = c.config(peer);
    if (!target) throw new BadPeerError(peer);
    matches = x.peers.filter((p) => p.peerNode === peer || (p.address !== '' && (p.address === target?.ipv4 || p.address === target?.ipv6)));
  }
  if (matches.length > 0) return { sessions: matches.map((p) => ({ peer: p, reasons: e.explain(p) })), notes: [] };
  return { sessions: [], notes: e.whyNot(addr?.ip.family, target, addr && !target ? addr.ip.text : undefined) };
}
