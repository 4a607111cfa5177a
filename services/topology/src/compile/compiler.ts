import { cidrsOverlap, type IPFamily, type KindName } from '@tabby/api';
import type { BGPConfiguration, BGPFilterSpec, BGPPeer, IPPool, Node, Resource, WorkloadEndpoint } from '@tabby/proto';
import { sameFilterSpec, sameNodeConfig } from './equal.js';
import {
  BGP_PORT,
  DEFAULT_AS_NUMBER,
  DEFAULT_CONFIG_NAME,
  DEFAULT_LOG_SEVERITY,
  EXCLUDE_SERVICES_LABEL,
  NODE_CONFIG_PREFIX,
  NO_SETTINGS,
  addressSortKey,
  blockModel,
  nodeModel,
  nodeSettingsOf,
  peerModel,
  poolModel,
  settingsOf,
  workloadModel,
  type BlockModel,
  type NodeModel,
  type NodeSettings,
  type PeerModel,
  type PoolModel,
  type Settings,
  type WorkloadModel,
} from './model.js';
import { addressCandidate, compileNodePeers, nodeCandidate, type Candidate, type CompileContext, type PeerState } from './node-peers.js';
import { hashToIPv4 } from './router-id.js';
import type { CompiledBlock, CompiledCommunities, CompiledFilter, CompiledNodeConfig, CompiledPeer, CompiledPool, CompiledService, CompiledWorkload, PeerSourceInfo, ValueOrigin } from './types.js';

/** The kinds the topology compiler reads. */
export const TOPOLOGY_KINDS: readonly KindName[] = ['BGPConfiguration', 'Node', 'BGPPeer', 'BGPFilter', 'IPPool', 'WorkloadEndpoint'];

const NO_COMMUNITIES: readonly CompiledCommunities[] = Object.freeze([]);
const NO_SERVICES: readonly CompiledService[] = Object.freeze([]);
const NO_NODE_FILTERS: readonly CompiledFilter[] = Object.freeze([]);
const NO_NAMES: ReadonlySet<string> = new Set();

/** What one {@link TopologyCompiler.commit} did. */
export interface CommitResult {
  /** Nodes whose configuration changed (created, deleted or different), sorted. */
  readonly changed: readonly string[];
  /** Nodes whose sessions were recomputed. */
  readonly recompiled: number;
}

interface MutablePeerState extends PeerState {
  readonly local: Set<string> | undefined;
  readonly remote: Set<string>;
  /** Sorted copies of local and remote, dropped when they change. */
  sortedLocal: string[] | undefined;
  sortedRemote: string[] | undefined;
}

/** A block as IPAM describes it. */
export interface BlockInput {
  readonly cidr: string;
  readonly node: string;
  readonly pool: string;
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sorted(set: Iterable<string>): string[] {
  return [...set].sort(byName);
}

/**
 * Compiles every node's BGP configuration from resources and IPAM blocks. Pure: no I/O,
 * no clock. Feed it changes (`apply`, `delete`, `setBlock`, `deleteBlock`), then `commit`:
 * only the nodes a change can affect are recompiled, and only those whose configuration
 * differs (deep compare) are reported as changed.
 */
export class TopologyCompiler {
  private readonly raw = new Map<string, Resource>();
  private readonly nodes = new Map<string, NodeModel>();
  private sortedNodeNames: string[] | undefined;
  private readonly addressIndex = new Map<string, Set<string>>();
  private readonly peers = new Map<string, MutablePeerState>();
  private sortedPeers: MutablePeerState[] | undefined;
  private settingsValue: Settings = NO_SETTINGS;
  private readonly nodeListenPorts = new Map<string, number>();
  private readonly nodeSettings = new Map<string, NodeSettings>();
  private readonly filterSpecs = new Map<string, BGPFilterSpec>();
  /** BGPFilter name → nodes whose sessions name it (as of their last compile). */
  private readonly filterUsers = new Map<string, Set<string>>();
  /** Node → the BGPFilter names its sessions named at its last compile. */
  private readonly nodeFilterNames = new Map<string, ReadonlySet<string>>();
  private readonly pools = new Map<string, PoolModel>();
  private readonly blocks = new Map<string, BlockModel>();
  private readonly blocksByNode = new Map<string, Set<string>>();
  private readonly workloads = new Map<string, WorkloadModel>();
  private readonly workloadsByNode = new Map<string, Set<string>>();
  private poolList: readonly CompiledPool[] | undefined;
  private readonly configs = new Map<string, CompiledNodeConfig>();
  private readonly dirty = new Set<string>();
  private dirtyAll = true;
  private revisionValue = 0;
  private readonly prefixDirty = new Set<string>();
  private prefixDirtyAll = false;

  /** Counts the changes (inputs and commits): equal revisions of one compiler mean equal state. */
  get revision(): number {
    return this.revisionValue;
  }

  /** Settings of the default BGPConfiguration (Calico's defaults when there is none). */
  get settings(): Settings {
    return this.settingsValue;
  }

  /** Creates or replaces a resource. Kinds other than {@link TOPOLOGY_KINDS} are ignored. */
  apply(resource: Resource): void {
    this.revisionValue++;
    const k = resource.kind;
    if (!k) return;
    switch (k.$case) {
      case 'node':
        this.raw.set(`Node/${k.value.metadata?.name ?? ''}`, resource);
        this.putNode(k.value.metadata?.name ?? '', k.value);
        return;
      case 'bgpPeer':
        this.raw.set(`BGPPeer/${k.value.metadata?.name ?? ''}`, resource);
        this.putPeer(k.value.metadata?.name ?? '', k.value);
        return;
      case 'bgpConfiguration':
        this.raw.set(`BGPConfiguration/${k.value.metadata?.name ?? ''}`, resource);
        this.putConfig(k.value.metadata?.name ?? '', k.value);
        return;
      case 'bgpFilter':
        this.raw.set(`BGPFilter/${k.value.metadata?.name ?? ''}`, resource);
        this.putFilter(k.value.metadata?.name ?? '', k.value.spec ?? { exportV4: [], importV4: [], exportV6: [], importV6: [] });
        return;
      case 'ipPool':
        this.raw.set(`IPPool/${k.value.metadata?.name ?? ''}`, resource);
        this.putPool(k.value.metadata?.name ?? '', k.value);
        return;
      case 'workloadEndpoint': {
        const key = `${k.value.metadata?.namespace ?? ''}/${k.value.metadata?.name ?? ''}`;
        this.raw.set(`WorkloadEndpoint/${key}`, resource);
        this.putWorkload(key, k.value);
        return;
      }
      default:
        return;
    }
  }

  /**
   * Deletes a resource by kind and name (`namespace/name` for a WorkloadEndpoint);
   * unknown ones are ignored.
   */
  delete(kind: KindName, name: string): void {
    if (!this.raw.delete(`${kind}/${name}`)) return;
    this.revisionValue++;
    switch (kind) {
      case 'Node':
        this.putNode(name, undefined);
        return;
      case 'BGPPeer':
        this.putPeer(name, undefined);
        return;
      case 'BGPConfiguration':
        this.putConfig(name, undefined);
        return;
      case 'BGPFilter':
        this.putFilter(name, undefined);
        return;
      case 'IPPool':
        this.putPool(name, undefined);
        return;
      case 'WorkloadEndpoint':
        this.putWorkload(name, undefined);
        return;
      default:
        return;
    }
  }

  /** True when a resource of that kind and name is known. */
  has(kind: KindName, name: string): boolean {
    return this.raw.has(`${kind}/${name}`);
  }

  /** Creates or replaces an IPAM block (keyed by CIDR). */
  setBlock(block: BlockInput): void {
    this.revisionValue++;
    const model = blockModel(block);
    const old = this.blocks.get(model.cidr);
    if (old) this.unindexBlock(old);
    this.blocks.set(model.cidr, model);
    if (model.node !== '') {
      let set = this.blocksByNode.get(model.node);
      if (!set) this.blocksByNode.set(model.node, (set = new Set()));
      set.add(model.cidr);
      this.prefixDirty.add(model.node);
    }
  }

  deleteBlock(cidr: string): void {
    this.revisionValue++;
    const model = blockModel({ cidr, node: '', pool: '' });
    const old = this.blocks.get(model.cidr);
    if (!old) return;
    this.unindexBlock(old);
    this.blocks.delete(model.cidr);
  }

  /** Recompiles what changed since the last commit. */
  commit(): CommitResult {
    const targets = new Set<string>();
    let recompile: ReadonlySet<string> = this.dirty;
    if (this.dirtyAll) {
      for (const n of this.nodes.keys()) targets.add(n);
      for (const n of this.configs.keys()) targets.add(n);
      recompile = targets;
    } else {
      for (const n of this.dirty) targets.add(n);
    }
    if (this.prefixDirtyAll) {
      // Pools are in every node's configuration (export and kernel filters).
      for (const n of this.configs.keys()) targets.add(n);
      for (const n of this.nodes.keys()) targets.add(n);
    } else {
      for (const n of this.prefixDirty) targets.add(n);
    }
    // Nothing to compile leaves the state as it was (and analyses cached for it valid).
    if (targets.size > 0) this.revisionValue++;
    const round = this.round();
    const changed: string[] = [];
    let recompiled = 0;
    for (const name of targets) {
      const model = this.nodes.get(name);
      const old = this.configs.get(name);
      if (!model) {
        this.indexFilterUsers(name, NO_NAMES);
        if (old) {
          this.configs.delete(name);
          changed.push(name);
        }
        continue;
      }
      let next: CompiledNodeConfig;
      if (!old || recompile.has(name)) {
        next = this.compileNode(model, round);
        recompiled++;
      } else {
        next = { ...old, ...this.routingOf(name) };
      }
      if (old && sameNodeConfig(old, next)) continue;
      this.configs.set(name, next);
      changed.push(name);
    }
    this.dirty.clear();
    this.dirtyAll = false;
    this.prefixDirty.clear();
    this.prefixDirtyAll = false;
    return { changed: changed.sort(byName), recompiled };
  }

  /** The compiled configuration of a node (as of the last commit). */
  config(name: string): CompiledNodeConfig | undefined {
    return this.configs.get(name);
  }

  /** Every compiled configuration (as of the last commit). */
  allConfigs(): ReadonlyMap<string, CompiledNodeConfig> {
    return this.configs;
  }

  /** Names of the nodes, sorted. */
  nodeNames(): readonly string[] {
    this.sortedNodeNames ??= sorted(this.nodes.keys());
    return this.sortedNodeNames;
  }

  node(name: string): NodeModel | undefined {
    return this.nodes.get(name);
  }

  /** BGPPeers in name order, with the nodes their selectors match. */
  peerStates(): readonly PeerState[] {
    this.sortedPeers ??= [...this.peers.values()].sort((a, b) => byName(a.model.name, b.model.name));
    return this.sortedPeers;
  }

  /** The node's AS: its own, else the default BGPConfiguration's, else 64512. */
  nodeAs(name: string): number {
    return this.nodes.get(name)?.asNumber ?? this.settingsValue.asNumber ?? DEFAULT_AS_NUMBER;
  }

  /** The AS of a node without one of its own. */
  defaultAs(): number {
    return this.settingsValue.asNumber ?? DEFAULT_AS_NUMBER;
  }

  /** The listen port configured for a node (node.<name>, else default), undefined for 179. */
  configuredListenPort(name: string): number | undefined {
    return this.nodeListenPorts.get(name) ?? this.settingsValue.listenPort;
  }

  /** Nodes that have this address (IPv4 or IPv6 canonical text). */
  nodesAt(address: string): readonly string[] {
    const s = this.addressIndex.get(address);
    return s ? sorted(s) : [];
  }

  /** Whether a peerIP BGPPeer's address, AS and port identify the node (reverse peering, port lookup). */
  ipMatches(peer: PeerModel, node: NodeModel): boolean {
    const a = peer.peerAddress;
    if (!a || (node.ipv4 !== a.ip.text && node.ipv6 !== a.ip.text)) return false;
    if (this.nodeAs(node.name) !== (peer.asNumber === 0 ? this.defaultAs() : peer.asNumber)) return false;
    return a.port === undefined || (this.configuredListenPort(node.name) ?? BGP_PORT) === a.port;
  }

  /** Every resource the compiler holds (for Preview). */
  resources(): Resource[] {
    return [...this.raw.values()];
  }

  /** Every block the compiler holds. */
  blockList(): BlockModel[] {
    return [...this.blocks.values()];
  }

  /** A new compiler with the same inputs and nothing compiled yet. */
  fork(): TopologyCompiler {
    const f = new TopologyCompiler();
    // Configurations first, so that peers and nodes see the final settings.
    const order: Record<string, number> = { bgpConfiguration: 0, bgpFilter: 1, ipPool: 2, node: 3, bgpPeer: 4, workloadEndpoint: 5 };
    const all = this.resources().sort((a, b) => (order[a.kind?.$case ?? ''] ?? 9) - (order[b.kind?.$case ?? ''] ?? 9));
    for (const r of all) f.apply(r);
    for (const b of this.blocks.values()) f.setBlock(b);
    return f;
  }

  /**
   * A copy that shares what never changes in place (resources, models, compiled
   * configurations) and copies the indexes, with the same pending changes: applying a change
   * to it and committing recompiles only what the change affects, as it would here. O(nodes +
   * index entries), not a compile: Preview of one BGPPeer on a 1,000-node mesh recompiles its
   * nodes, not a million sessions.
   */
  clone(): TopologyCompiler {
    const c = new TopologyCompiler();
    const copy = <K, V>(from: ReadonlyMap<K, V>, to: Map<K, V>): void => {
      for (const [k, v] of from) to.set(k, v);
    };
    const deep = <K,>(from: ReadonlyMap<K, ReadonlySet<string>>, to: Map<K, Set<string>>): void => {
      for (const [k, v] of from) to.set(k, new Set(v));
    };
    copy(this.raw, c.raw);
    copy(this.nodes, c.nodes);
    c.sortedNodeNames = this.sortedNodeNames;
    deep(this.addressIndex, c.addressIndex);
    for (const [name, s] of this.peers)
      c.peers.set(name, { model: s.model, local: s.local && new Set(s.local), remote: new Set(s.remote), sortedLocal: s.sortedLocal, sortedRemote: s.sortedRemote });
    c.settingsValue = this.settingsValue;
    copy(this.nodeListenPorts, c.nodeListenPorts);
    copy(this.nodeSettings, c.nodeSettings);
    copy(this.filterSpecs, c.filterSpecs);
    deep(this.filterUsers, c.filterUsers);
    copy(this.nodeFilterNames, c.nodeFilterNames);
    copy(this.pools, c.pools);
    copy(this.blocks, c.blocks);
    deep(this.blocksByNode, c.blocksByNode);
    copy(this.workloads, c.workloads);
    deep(this.workloadsByNode, c.workloadsByNode);
    c.poolList = this.poolList;
    copy(this.configs, c.configs);
    for (const n of this.dirty) c.dirty.add(n);
    c.dirtyAll = this.dirtyAll;
    for (const n of this.prefixDirty) c.prefixDirty.add(n);
    c.prefixDirtyAll = this.prefixDirtyAll;
    return c;
  }

  // ---------------------------------------------------------------- inputs

  private putNode(name: string, node: Node | undefined): void {
    const old = this.nodes.get(name);
    const next = node ? nodeModel(node) : undefined;
    this.unindexAddresses(old);
    if (next) this.nodes.set(name, next);
    else this.nodes.delete(name);
    if (!old || !next) this.sortedNodeNames = undefined;
    this.indexAddresses(next);
    this.nodeChanged(name, old, next, !old || !next || !sameBgpIdentity(old, next));
  }

  private putPeer(name: string, peer: BGPPeer | undefined): void {
    const old = this.peers.get(name);
    let next: MutablePeerState | undefined;
    if (peer) {
      const model = peerModel(peer);
      const local = model.global ? undefined : new Set<string>();
      const remote = new Set<string>();
      if (local && model.node !== '') local.add(model.node);
      for (const n of this.nodes.values()) {
        if (local && model.nodeSelector?.matches(n.labels)) local.add(n.name);
        if (model.peerSelector?.matches(n.labels)) remote.add(n.name);
      }
      next = { model, local, remote, sortedLocal: undefined, sortedRemote: undefined };
      this.peers.set(name, next);
    } else {
      this.peers.delete(name);
    }
    this.sortedPeers = undefined;
    for (const s of [old, next]) {
      if (!s) continue;
      this.markLocalSide(s);
      this.markReverseSide(s);
    }
  }

  private putConfig(name: string, config: BGPConfiguration | undefined): void {
    if (name === DEFAULT_CONFIG_NAME) {
      this.settingsValue = settingsOf(config);
      this.dirtyAll = true;
      return;
    }
    if (!name.startsWith(NODE_CONFIG_PREFIX)) return;
    // Calico honours only listenPort, logSeverityScreen and prefixAdvertisements from
    // node.<name> (docs/calico-compat.md §1.1).
    const node = name.slice(NODE_CONFIG_PREFIX.length);
    const own = nodeSettingsOf(config);
    if (own) this.nodeSettings.set(node, own);
    else this.nodeSettings.delete(node);
    // Logging and communities concern this node alone.
    this.dirty.add(node);
    const before = this.nodeListenPorts.get(node);
    const port = own?.listenPort;
    if (port !== undefined) this.nodeListenPorts.set(node, port);
    else this.nodeListenPorts.delete(node);
    if (before === this.nodeListenPorts.get(node)) return;
    const model = this.nodes.get(node);
    this.nodeChanged(node, model, model, true);
  }

  /** A BGPFilter changes the nodes whose sessions name it, and only those. */
  private putFilter(name: string, spec: BGPFilterSpec | undefined): void {
    const old = this.filterSpecs.get(name);
    if (spec) this.filterSpecs.set(name, spec);
    else this.filterSpecs.delete(name);
    if (old !== undefined && spec !== undefined && sameFilterSpec(old, spec)) return;
    for (const n of this.filterUsers.get(name) ?? []) this.dirty.add(n);
  }

  /** Records which BGPFilters a node's sessions name. */
  private indexFilterUsers(node: string, names: ReadonlySet<string>): void {
    const before = this.nodeFilterNames.get(node) ?? NO_NAMES;
    if (before === names) return;
    for (const f of before) {
      if (names.has(f)) continue;
      const users = this.filterUsers.get(f);
      users?.delete(node);
      if (users?.size === 0) this.filterUsers.delete(f);
    }
    for (const f of names) {
      if (before.has(f)) continue;
      let users = this.filterUsers.get(f);
      if (!users) this.filterUsers.set(f, (users = new Set()));
      users.add(node);
    }
    if (names.size === 0) this.nodeFilterNames.delete(node);
    else this.nodeFilterNames.set(node, names);
  }

  /** A BGPPeer's candidates, with the filters it names that do not exist. */
  private withMissingFilters(m: PeerModel, candidates: Candidate[]): Candidate[] {
    if (m.filters.length === 0) return candidates;
    const missing = m.filters.filter((f) => !this.filterSpecs.has(f));
    if (missing.length === 0) return candidates;
    return candidates.map((c) => ({ ...c, missingFilters: missing }));
  }

  private putPool(name: string, pool: IPPool | undefined): void {
    if (pool) this.pools.set(name, poolModel(pool));
    else this.pools.delete(name);
    this.poolList = undefined;
    this.prefixDirtyAll = true;
  }

  private putWorkload(key: string, wep: WorkloadEndpoint | undefined): void {
    const old = this.workloads.get(key);
    if (old) {
      const set = this.workloadsByNode.get(old.node);
      set?.delete(key);
      if (set?.size === 0) this.workloadsByNode.delete(old.node);
      this.prefixDirty.add(old.node);
    }
    if (!wep) {
      this.workloads.delete(key);
      return;
    }
    const model = workloadModel(wep);
    this.workloads.set(key, model);
    let set = this.workloadsByNode.get(model.node);
    if (!set) this.workloadsByNode.set(model.node, (set = new Set()));
    set.add(key);
    this.prefixDirty.add(model.node);
  }

  private unindexBlock(block: BlockModel): void {
    if (block.node === '') return;
    const set = this.blocksByNode.get(block.node);
    set?.delete(block.cidr);
    if (set?.size === 0) this.blocksByNode.delete(block.node);
    this.prefixDirty.add(block.node);
  }

  private indexAddresses(n: NodeModel | undefined): void {
    if (!n) return;
    for (const a of [n.ipv4, n.ipv6]) {
      if (a === '') continue;
      let set = this.addressIndex.get(a);
      if (!set) this.addressIndex.set(a, (set = new Set()));
      set.add(n.name);
    }
  }

  private unindexAddresses(n: NodeModel | undefined): void {
    if (!n) return;
    for (const a of [n.ipv4, n.ipv6]) {
      const set = this.addressIndex.get(a);
      set?.delete(n.name);
      if (set?.size === 0) this.addressIndex.delete(a);
    }
  }

  // ---------------------------------------------------------------- what a change affects

  /**
   * Marks what a node change can affect: the node itself; every node when the mesh is on
   * and the node's BGP identity changed; and, per BGPPeer, the other side of every peering
   * the node entered, left, or took part in with a changed identity.
   */
  private nodeChanged(name: string, old: NodeModel | undefined, next: NodeModel | undefined, identityChanged: boolean): void {
    this.dirty.add(name);
    if (identityChanged && this.settingsValue.meshEnabled) this.dirtyAll = true;
    for (const s of this.peers.values()) {
      const m = s.model;
      const wasLocal = s.local === undefined ? old !== undefined : s.local.has(name);
      if (s.local !== undefined && m.nodeSelector) {
        if (next && m.nodeSelector.matches(next.labels)) s.local.add(name);
        else if (m.node !== name) s.local.delete(name);
      }
      if (s.local !== undefined && s.local.has(name) !== wasLocal) s.sortedLocal = undefined;
      const isLocal = s.local === undefined ? next !== undefined : s.local.has(name);
      const wasRemote = s.remote.has(name);
      if (m.peerSelector) {
        if (next && m.peerSelector.matches(next.labels)) s.remote.add(name);
        else s.remote.delete(name);
      }
      const isRemote = s.remote.has(name);
      if (wasRemote !== isRemote) s.sortedRemote = undefined;
      if ((wasLocal || isLocal) && (wasLocal !== isLocal || identityChanged)) this.markReverseSide(s);
      if ((wasRemote || isRemote) && (wasRemote !== isRemote || identityChanged)) this.markLocalSide(s);
      const ip = m.peerAddress?.ip.text;
      if (ip !== undefined && identityChanged && (old?.ipv4 === ip || old?.ipv6 === ip || next?.ipv4 === ip || next?.ipv6 === ip)) this.markLocalSide(s);
    }
  }

  /** Nodes that get a BGPPeer's forward peerings. */
  private markLocalSide(s: PeerState): void {
    if (s.local === undefined) {
      this.dirtyAll = true;
      return;
    }
    for (const n of s.local) this.dirty.add(n);
  }

  /** Nodes that get a BGPPeer's reverse peerings. */
  private markReverseSide(s: PeerState): void {
    for (const n of s.remote) this.dirty.add(n);
    const ip = s.model.peerAddress?.ip.text;
    if (ip !== undefined) for (const n of this.addressIndex.get(ip) ?? []) this.dirty.add(n);
  }

  // ---------------------------------------------------------------- compiling

  private round(): CompileContext {
    const forwardCache = new Map<PeerState, Candidate[]>();
    const reverseCache = new Map<PeerState, Candidate[]>();
    const meshCache: (Candidate[] | undefined)[] = [];
    const settings = this.settingsValue;
    const meshResource = settings.hasDefaultConfig ? `BGPConfiguration(${DEFAULT_CONFIG_NAME})` : '';
    const listenPort = (n: string): number => this.configuredListenPort(n) ?? 0;
    const expand = (names: readonly string[], families: readonly IPFamily[], peer: PeerModel, kind: 'global' | 'node', rule: PeerSourceInfo['rule']): Candidate[] => {
      const out: Candidate[] = [];
      for (const name of names) {
        const n = this.nodes.get(name);
        if (!n) continue;
        for (const f of families) {
          const c = nodeCandidate(n, f, this.nodeAs(name), listenPort(name), peer, kind, rule, settings);
          if (c) out.push(c);
        }
      }
      // Name order decides which of two nodes at one address wins; address order makes the
      // final sort of each node's sessions cheap.
      return out.sort((a, b) => (a.addressKey < b.addressKey ? -1 : a.addressKey > b.addressKey ? 1 : 0));
    };
    return {
      settings,
      peers: this.peerStates(),
      meshResource,
      meshSources: [{ resource: meshResource, rule: 'mesh', used: true }],
      nodeAs: (n) => this.nodeAs(n),
      forward: (p) => {
        let c = forwardCache.get(p);
        if (c) return c;
        const m = p.model;
        if (m.peerSelector) {
          c = expand(this.sortedSide(p, 'remote'), [4, 6], m, m.global ? 'global' : 'node', m.global ? 'global-peer-selector' : 'node-peer-selector');
        } else {
          const at = this.nodesAt(m.peerAddress?.ip.text ?? '')
            .map((n) => this.nodes.get(n))
            .filter((n): n is NodeModel => n !== undefined);
          const matching = at.filter((n) => this.ipMatches({ ...m, peerAddress: m.peerAddress ? { ip: m.peerAddress.ip } : undefined }, n));
          let port = m.peerAddress?.port ?? 0;
          if (port === 0 && matching.length > 0) port = listenPort(matching[0].name);
          const one = addressCandidate(m, port, matching[0] ?? at[0], at.length > 0, settings);
          c = one ? [one] : [];
        }
        c = this.withMissingFilters(m, c);
        forwardCache.set(p, c);
        return c;
      },
      reverse: (p) => {
        let c = reverseCache.get(p);
        if (c) return c;
        const m = p.model;
        const families: readonly IPFamily[] = m.peerSelector ? [4, 6] : [m.peerAddress?.ip.family ?? 4];
        c = expand(p.local ? this.sortedSide(p, 'local') : this.nodeNames(), families, m, 'node', m.peerSelector ? 'reverse-peer-selector' : 'reverse-peer-ip');
        c = this.withMissingFilters(m, c);
        reverseCache.set(p, c);
        return c;
      },
      reverseApplies: (p, n) => (p.model.peerSelector ? p.remote.has(n.name) : this.ipMatches(p.model, n)),
      meshCandidates: (family) => {
        let c = meshCache[family];
        if (c) return c;
        c = [];
        for (const n of this.nodes.values()) {
          if (n.clusterId !== '') continue;
          const cand = nodeCandidate(n, family, this.nodeAs(n.name), listenPort(n.name), undefined, 'mesh', 'mesh', settings);
          if (cand) c.push(cand);
        }
        c.sort((a, b) => (a.addressKey < b.addressKey ? -1 : a.addressKey > b.addressKey ? 1 : byName(a.peerNode, b.peerNode)));
        meshCache[family] = c;
        return c;
      },
    };
  }

  /** A BGPPeer's local or remote nodes, sorted (cached until they change). */
  private sortedSide(p: PeerState, side: 'local' | 'remote'): readonly string[] {
    const s = this.peers.get(p.model.name);
    if (!s) return [];
    if (side === 'local') return (s.sortedLocal ??= sorted(s.local ?? []));
    return (s.sortedRemote ??= sorted(s.remote));
  }

  private compileNode(n: NodeModel, round: CompileContext): CompiledNodeConfig {
    const s = this.settingsValue;
    let asNumber: number;
    let asNumberOrigin: ValueOrigin;
    if (n.asNumber !== undefined) [asNumber, asNumberOrigin] = [n.asNumber, 'node'];
    else if (s.asNumber !== undefined) [asNumber, asNumberOrigin] = [s.asNumber, 'default-bgp-configuration'];
    else [asNumber, asNumberOrigin] = [DEFAULT_AS_NUMBER, 'builtin-default'];
    let listenPort: number;
    let listenPortOrigin: ValueOrigin;
    const own = this.nodeListenPorts.get(n.name);
    if (own !== undefined) [listenPort, listenPortOrigin] = [own, 'node-bgp-configuration'];
    else if (s.listenPort !== undefined) [listenPort, listenPortOrigin] = [s.listenPort, 'default-bgp-configuration'];
    else [listenPort, listenPortOrigin] = [BGP_PORT, 'builtin-default'];
    const peers = compileNodePeers(n, round);
    const ownSettings = this.nodeSettings.get(n.name);
    return {
      node: n.name,
      asNumber,
      asNumberOrigin,
      routerId: n.ipv4 !== '' ? n.ipv4 : hashToIPv4(n.name),
      routerIdOrigin: n.ipv4 !== '' ? 'node' : 'node-name-hash',
      listenPort,
      listenPortOrigin,
      bindToNodeAddress: s.bindNodeIP,
      ipv4: n.ipv4,
      ipv6: n.ipv6,
      ipv4Network: n.ipv4Network,
      ipv6Network: n.ipv6Network,
      clusterId: n.clusterId,
      peers,
      ...this.routingOf(n.name),
      communities: ownSettings?.communities ?? s.communities ?? NO_COMMUNITIES,
      services: n.labels[EXCLUDE_SERVICES_LABEL] === 'true' ? NO_SERVICES : s.services,
      filters: this.filtersOf(n.name, peers),
      logSeverityScreen: ownSettings?.logSeverityScreen || s.logSeverityScreen || DEFAULT_LOG_SEVERITY,
    };
  }

  /** The existing BGPFilters the sessions name, by name; indexes the names for live updates. */
  private filtersOf(node: string, peers: readonly CompiledPeer[]): readonly CompiledFilter[] {
    let names: Set<string> | undefined;
    for (const p of peers) {
      if (p.filters.length === 0) continue;
      names ??= new Set();
      for (const f of p.filters) names.add(f);
    }
    this.indexFilterUsers(node, names ?? NO_NAMES);
    if (!names) return NO_NODE_FILTERS;
    const out: CompiledFilter[] = [];
    for (const name of [...names].sort(byName)) {
      const spec = this.filterSpecs.get(name);
      if (spec) out.push({ name, spec });
    }
    return out;
  }

  /** The parts of a node's configuration that blocks, workloads and pools make. */
  private routingOf(node: string): Pick<CompiledNodeConfig, 'prefixes' | 'blocks' | 'workloads' | 'pools'> {
    const blocks = this.blocksOf(node);
    return { prefixes: blocks.filter((b) => b.exported).map(({ cidr, pool, family, sortKey }) => ({ cidr, pool, family, sortKey })), blocks, workloads: this.workloadsOf(node), pools: this.poolsList() };
  }

  private workloadsOf(node: string): CompiledWorkload[] {
    const keys = this.workloadsByNode.get(node);
    if (!keys) return [];
    const out: CompiledWorkload[] = [];
    for (const key of [...keys].sort(byName)) {
      const w = this.workloads.get(key);
      if (w) out.push({ name: w.key, interfaceName: w.interfaceName, addresses: w.addresses });
    }
    return out;
  }

  private poolsList(): readonly CompiledPool[] {
    this.poolList ??= [...this.pools.values()]
      .filter((p) => p.cidr !== undefined)
      .sort((a, b) => byName(a.name, b.name))
      .map((p) => ({
        name: p.name,
        cidr: p.cidr?.canonical ?? '',
        family: p.cidr?.family ?? 4,
        disableBGPExport: p.disableBGPExport,
        ipipMode: p.ipipMode,
        vxlanMode: p.vxlanMode,
        disabled: p.disabled,
      }));
    return this.poolList;
  }

  /**
   * The node's affine blocks; `exported` false for those inside a pool with
   * disableBGPExport (Calico rejects anything inside such a pool before it exports,
   * docs/calico-compat.md §2.8): those are blackholed but not originated.
   */
  private blocksOf(node: string): CompiledBlock[] {
    const cidrs = this.blocksByNode.get(node);
    if (!cidrs) return [];
    const out: CompiledBlock[] = [];
    for (const cidr of cidrs) {
      const b = this.blocks.get(cidr);
      if (!b?.parsed) continue;
      const parsed = b.parsed;
      let pool = b.pool;
      let exported = true;
      for (const p of this.pools.values()) {
        if (!p.cidr || !cidrsOverlap(p.cidr, parsed) || parsed.prefix < p.cidr.prefix) continue;
        if (pool === '') pool = p.name;
        if (p.disableBGPExport) exported = false;
      }
      out.push({ cidr: b.cidr, pool, family: parsed.family, exported, sortKey: `${addressSortKey(parsed.family, parsed.network)}/${parsed.prefix}` });
    }
    return out.sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
  }
}

/** The parts of a node other nodes' sessions depend on. */
function sameBgpIdentity(a: NodeModel, b: NodeModel): boolean {
  return a.ipv4 === b.ipv4 && a.ipv6 === b.ipv6 && a.asNumber === b.asNumber && a.clusterId === b.clusterId;
}

