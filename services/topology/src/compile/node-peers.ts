/**
 * The sessions of one node, by Calico's rules (docs/calico-compat.md §2; confd `updatePeersV1` and the
 * BIRD templates):
 *
 * 1. global BGPPeers (no node, no nodeSelector), first writer wins per address and port;
 * 2. node-specific BGPPeers whose node/nodeSelector names this node, dropped when a global
 *    peering to the same address and port exists, else first writer wins;
 * 3. automatic reverse peerings (unless reversePeering: Manual) on the nodes a BGPPeer's
 *    remote side selects, back to the nodes of its local side;
 * 4. the full mesh when enabled, except on and towards route reflectors.
 *
 * BGPPeers are taken in name order, so "first writer" is deterministic (Calico iterates a
 * Go map: unspecified). A peering to the node's own address is skipped ("Skipping
 * ourselves"), and a node only gets sessions of the families it has an address in.
 * Where Calico would render a mesh session and a BGPPeer session to the same neighbour
 * (two BIRD protocols fighting over one address, §2.9), Tabby keeps one session: the
 * BGPPeer's, with the mesh listed as a collapsed source.
 */
import type { IPFamily } from '@tabby/api';
import { BGP_PORT, addressSortKey, protocolId, type NodeModel, type PeerModel, type SecretRef, type Settings } from './model.js';
import { sessionKey, type CompiledPeer, type PeerKind, type PeerRuleName, type PeerSourceInfo } from './types.js';

/** A BGPPeer with the nodes its selectors currently match. */
export interface PeerState {
  readonly model: PeerModel;
  /** Nodes that get the forward peering (node or nodeSelector); undefined for a global peer. */
  readonly local: ReadonlySet<string> | undefined;
  /** Nodes its peerSelector matches (empty for a peerIP peer). */
  readonly remote: ReadonlySet<string>;
}

/**
 * A peering before it is rendered for a particular node. Everything that does not depend
 * on the node is computed once here and shared by every node that gets the peering.
 */
export interface Candidate {
  readonly family: IPFamily;
  readonly address: string;
  readonly addressKey: string;
  readonly configuredPort: number;
  readonly port: number;
  readonly remoteAs: number;
  /** The cluster id Calico attaches to the peering (never for peerIP peerings). */
  readonly rrClusterId: string;
  readonly peerNode: string;
  readonly peerClusterId: string;
  /** The address is some node's (Calico's `calico_node`, which makes global peerings one-directional). */
  readonly calicoNode: boolean;
  readonly peer: PeerModel | undefined;
  readonly kind: PeerKind;
  readonly rule: PeerRuleName;
  /** Session identity within a node: address and port. */
  readonly key: string;
  /** Calico's BIRD protocol name. */
  readonly name: string;
  /** A forward peering of a BGPPeer (not a reverse one, not the mesh). */
  readonly forward: boolean;
  readonly password: SecretRef | undefined;
  readonly restartTimeS: number;
  readonly ttlSecurity: number;
  readonly numAllowedLocalAS: number;
  readonly reachableBy: string;
  readonly filters: readonly string[];
  /** Names in `filters` with no BGPFilter (set by the compiler, which knows the filters). */
  readonly missingFilters: readonly string[];
  readonly keepaliveS: number;
}

/** What compiling one node needs to know about the rest of the cluster. */
export interface CompileContext {
  readonly settings: Settings;
  /** BGPPeers in name order. */
  readonly peers: readonly PeerState[];
  /** Resource name the mesh comes from, for sources, and the shared sources of a mesh session. */
  readonly meshResource: string;
  readonly meshSources: readonly PeerSourceInfo[];
  nodeAs(name: string): number;
  forward(peer: PeerState): readonly Candidate[];
  reverse(peer: PeerState): readonly Candidate[];
  /** Whether the node is on the remote side of a BGPPeer (gets its reverse peerings). */
  reverseApplies(peer: PeerState, node: NodeModel): boolean;
  /** Mesh candidates towards every node that takes part in the mesh, in address order. */
  meshCandidates(family: IPFamily): readonly Candidate[];
}

const PREFIX: Readonly<Record<PeerKind, string>> = { mesh: 'Mesh', global: 'Global', node: 'Node' };
const FORWARD_RULES: ReadonlySet<PeerRuleName> = new Set(['global-peer-ip', 'global-peer-selector', 'node-peer-ip', 'node-peer-selector']);
const PEER_IP_RULES: ReadonlySet<PeerRuleName> = new Set(['global-peer-ip', 'node-peer-ip']);
const NO_FILTERS: readonly string[] = Object.freeze([]);

interface CandidateCore {
  readonly family: IPFamily;
  readonly address: string;
  /** The address as protocol names write it. */
  readonly id: string;
  readonly addressKey: string;
  readonly configuredPort: number;
  readonly remoteAs: number;
  readonly rrClusterId: string;
  readonly peerNode: string;
  readonly peerClusterId: string;
  readonly calicoNode: boolean;
  readonly peer: PeerModel | undefined;
  readonly kind: PeerKind;
  readonly rule: PeerRuleName;
}

/** Completes a candidate with what every node shares (docs/calico-compat.md §2.6, §2.7). */
function complete(c: CandidateCore, settings: Settings): Candidate {
  const p = c.peer;
  const mesh = c.kind === 'mesh';
  const base = `${PREFIX[c.kind]}_${c.id}`;
  // Every field listed in one order, so that all candidates share one shape.
  return {
    family: c.family,
    address: c.address,
    addressKey: c.addressKey,
    configuredPort: c.configuredPort,
    remoteAs: c.remoteAs,
    rrClusterId: c.rrClusterId,
    peerNode: c.peerNode,
    peerClusterId: c.peerClusterId,
    calicoNode: c.calicoNode,
    peer: c.peer,
    kind: c.kind,
    rule: c.rule,
    port: c.configuredPort === 0 ? BGP_PORT : c.configuredPort,
    key: sessionKey(c.address, c.configuredPort),
    name: !mesh && c.configuredPort !== 0 ? `${base}_port_${c.configuredPort}` : base,
    forward: FORWARD_RULES.has(c.rule),
    password: mesh ? settings.meshPassword : p?.password,
    restartTimeS: mesh ? settings.meshRestartTimeS : (p?.restartTimeS ?? 0),
    ttlSecurity: p?.ttlSecurity ?? 0,
    numAllowedLocalAS: p !== undefined && PEER_IP_RULES.has(c.rule) ? p.numAllowedLocalAS : 0,
    reachableBy: p?.reachableBy ?? '',
    filters: p?.filters ?? NO_FILTERS,
    missingFilters: NO_FILTERS,
    keepaliveS: p?.keepaliveS ?? 0,
  };
}

/** A candidate for a node's address of one family (peerSelector expansion, reverse, mesh). */
export function nodeCandidate(
  target: NodeModel,
  family: IPFamily,
  remoteAs: number,
  configuredPort: number,
  peer: PeerModel | undefined,
  kind: PeerKind,
  rule: PeerRuleName,
  settings: Settings,
): Candidate | undefined {
  const address = family === 4 ? target.ipv4 : target.ipv6;
  if (address === '') return undefined;
  return complete(
    {
      family,
      address,
      id: family === 4 ? target.ipv4Id : target.ipv6Id,
      addressKey: family === 4 ? target.ipv4Key : target.ipv6Key,
      configuredPort,
      remoteAs,
      rrClusterId: target.clusterId,
      peerNode: target.name,
      peerClusterId: target.clusterId,
      calicoNode: kind === 'mesh',
      peer,
      kind,
      rule,
    },
    settings,
  );
}

/** A candidate for a BGPPeer's peerIP. `node` is the node at that address, if any. */
export function addressCandidate(peer: PeerModel, configuredPort: number, node: NodeModel | undefined, calicoNode: boolean, settings: Settings): Candidate | undefined {
  const a = peer.peerAddress;
  if (!a) return undefined;
  return complete(
    {
      family: a.ip.family,
      address: a.ip.text,
      id: protocolId(a.ip.text),
      addressKey: addressSortKey(a.ip.family, a.ip.value),
      configuredPort,
      remoteAs: peer.asNumber,
      rrClusterId: '',
      peerNode: node?.name ?? '',
      peerClusterId: node?.clusterId ?? '',
      calicoNode,
      peer,
      kind: peer.global ? 'global' : 'node',
      rule: peer.global ? 'global-peer-ip' : 'node-peer-ip',
    },
    settings,
  );
}

interface Entry {
  readonly candidate: Candidate;
  readonly sources: PeerSourceInfo[];
}

const IBGP = 1;
const PASSIVE = 2;
const RR_CLIENT = 4;
const KEEP_NEXT_HOP = 8;
const NEXT_HOP_SELF = 16;
const NEXT_HOP_KEEP = 32;

/**
 * A session as one node runs it: the shared candidate plus the few values that depend on
 * the node. Small on purpose: a 1,000-node mesh holds a million of them.
 */
class RenderedPeer implements CompiledPeer {
  constructor(
    private readonly c: Candidate,
    readonly localAs: number,
    readonly sourceAddress: string,
    private readonly bits: number,
    readonly clusterId: string,
    readonly sources: readonly PeerSourceInfo[],
  ) {}

  get family(): IPFamily {
    return this.c.family;
  }
  get address(): string {
    return this.c.address;
  }
  get addressKey(): string {
    return this.c.addressKey;
  }
  get port(): number {
    return this.c.port;
  }
  get configuredPort(): number {
    return this.c.configuredPort;
  }
  get remoteAs(): number {
    return this.c.remoteAs;
  }
  get kind(): PeerKind {
    return this.c.kind;
  }
  get ibgp(): boolean {
    return (this.bits & IBGP) !== 0;
  }
  get passive(): boolean {
    return (this.bits & PASSIVE) !== 0;
  }
  get rrClient(): boolean {
    return (this.bits & RR_CLIENT) !== 0;
  }
  get keepOriginalNextHop(): boolean {
    return (this.bits & KEEP_NEXT_HOP) !== 0;
  }
  get nextHopMode(): 'Auto' | 'Self' | 'Keep' {
    return (this.bits & NEXT_HOP_SELF) !== 0 ? 'Self' : (this.bits & NEXT_HOP_KEEP) !== 0 ? 'Keep' : 'Auto';
  }
  get peerNode(): string {
    return this.c.peerNode;
  }
  get peerClusterId(): string {
    return this.c.peerClusterId;
  }
  get password(): SecretRef | undefined {
    return this.c.password;
  }
  get restartTimeS(): number {
    return this.c.restartTimeS;
  }
  get ttlSecurity(): number {
    return this.c.ttlSecurity;
  }
  get numAllowedLocalAS(): number {
    return this.c.numAllowedLocalAS;
  }
  get reachableBy(): string {
    return this.c.reachableBy;
  }
  get filters(): readonly string[] {
    return this.c.filters;
  }
  get missingFilters(): readonly string[] {
    return this.c.missingFilters;
  }
  get keepaliveS(): number {
    return this.c.keepaliveS;
  }
  get name(): string {
    return this.c.name;
  }
}

/** Renders a candidate for `node` (docs/calico-compat.md §2.1, §2.5, §2.6, bird.cfg.template). */
function render(node: NodeModel, nodeAs: number, own: string, c: Candidate, sources: readonly PeerSourceInfo[]): CompiledPeer {
  const p = c.peer;
  const localAs = c.forward && p?.localAsNumber !== undefined ? p.localAsNumber : nodeAs;
  const ibgp = c.remoteAs === localAs;
  // Calico compares the addresses as strings: the node whose address sorts first dials.
  const passive = c.kind === 'mesh' ? c.address > own : c.kind === 'global' && c.calicoNode && c.address > own;
  const rrClient = node.clusterId !== '' && ibgp && c.rrClusterId !== node.clusterId;
  const keep = p !== undefined && PEER_IP_RULES.has(c.rule) && p.keepOriginalNextHop && !ibgp;
  let bits = (ibgp ? IBGP : 0) | (passive ? PASSIVE : 0) | (rrClient ? RR_CLIENT : 0) | (keep ? KEEP_NEXT_HOP | NEXT_HOP_KEEP : 0);
  if (p && c.forward && p.nextHopMode === 'Self') bits = (bits & ~NEXT_HOP_KEEP) | NEXT_HOP_SELF;
  else if (p && c.forward && p.nextHopMode === 'Keep') bits |= NEXT_HOP_KEEP;
  const sourceAddress = c.kind === 'mesh' || p?.useNodeIP !== false ? own : '';
  return new RenderedPeer(c, localAs, sourceAddress, bits, rrClient ? node.clusterId : '', sources);
}

function byAddressThenPort(a: CompiledPeer, b: CompiledPeer): number {
  if (a.addressKey !== b.addressKey) return a.addressKey < b.addressKey ? -1 : 1;
  return a.port - b.port;
}

/** The sessions of `node`, sorted by family, address and port. */
export function compileNodePeers(node: NodeModel, ctx: CompileContext): CompiledPeer[] {
  // Keyed by address and port, in emission order: the first writer wins, later ones are
  // kept as collapsed sources. Global peerings are emitted first, so a node-specific
  // peering to the same address and port never replaces one.
  const entries = new Map<string, Entry>();
  const add = (c: Candidate, resource: string): void => {
    const existing = entries.get(c.key);
    if (!existing) {
      entries.set(c.key, { candidate: c, sources: [{ resource, rule: c.rule, used: true }] });
      return;
    }
    if (!existing.sources.some((s) => s.resource === resource && s.rule === c.rule)) existing.sources.push({ resource, rule: c.rule, used: false });
  };
  for (const p of ctx.peers) {
    if (p.local !== undefined || p.model.unusable) continue;
    for (const c of ctx.forward(p)) add(c, p.model.id);
  }
  for (const p of ctx.peers) {
    if (p.local === undefined || p.model.unusable || !p.local.has(node.name)) continue;
    for (const c of ctx.forward(p)) add(c, p.model.id);
  }
  for (const p of ctx.peers) {
    if (!p.model.reverse || p.model.unusable || !ctx.reverseApplies(p, node)) continue;
    for (const c of ctx.reverse(p)) add(c, p.model.id);
  }
  const explicit = entries.size;
  const out: CompiledPeer[] = [];
  const nodeAs = ctx.nodeAs(node.name);
  const settings = ctx.settings;
  for (const e of entries.values()) {
    const own = e.candidate.family === 4 ? node.ipv4 : node.ipv6;
    if (own === '' || e.candidate.address === own) continue;
    out.push(render(node, nodeAs, own, e.candidate, e.sources));
  }
  if (settings.meshEnabled && node.clusterId === '') {
    for (const family of [4, 6] as const) {
      const own = family === 4 ? node.ipv4 : node.ipv6;
      if (own === '') continue;
      for (const c of ctx.meshCandidates(family)) {
        if (c.address === own) continue;
        const e = explicit > 0 ? entries.get(c.key) : undefined;
        if (e) {
          e.sources.push({ resource: ctx.meshResource, rule: 'mesh', used: false });
          continue;
        }
        out.push(render(node, nodeAs, own, c, ctx.meshSources));
      }
    }
  }
  if (explicit > 0) out.sort(byAddressThenPort);
  return out;
}
