/**
 * What tabby-ui knows of the cluster, kept live: the store followed (Nodes, BGPPeers,
 * BGPConfigurations, IPPools, NodeStatus), topology's peerings re-read when those change
 * (and every --refresh seconds), IPAM's use re-read when a block changes (WatchBlocks) or
 * a pool does. Each backend is marked unreachable when reading it fails and reachable when
 * it answers again; the followers retry by themselves. Listeners hear, coalesced over
 * ~100 ms, which views changed.
 */
import { BlockFollower, StoreFollower } from '@tabby/client';
import type { KindName } from '@tabby/api';
import type { IpamClient, ListPeeringsResponse, Node, NodeStatus, Resource, ResourceStoreClient, TopologyClient, UtilizationResponse } from '@tabby/proto';
import { callUnary, componentLogger, dialFailureCause, dialFailureHint, isGrpcError, type Logger } from '@tabby/runtime';
import type { BackendName, BackendState, ClusterView, IpamView, ViewEvent } from './view.js';
import { clusterContent, ipamView, type ClusterContent, type Migration } from './views.js';

export const UI_KINDS: readonly KindName[] = ['Node', 'BGPPeer', 'BGPConfiguration', 'IPPool', 'NodeStatus'];

/** Coalescing window of view events. */
const COALESCE_MS = 100;
/** How often the cluster view is re-judged with no event (agents go stale by the clock). */
const TICK_MS = 1_000;
const CALL_TIMEOUT_MS = 5_000;

export interface ModelOptions {
  readonly store: ResourceStoreClient;
  readonly topology: TopologyClient;
  readonly ipam: IpamClient;
  readonly addresses: Readonly<Record<BackendName, string>>;
  readonly logger: Logger;
  /** Seconds between safety-net re-reads of topology and IPAM. */
  readonly refreshS: number;
}

/** One line saying why a call failed: gRPC details and the service hint when there is one. */
export function errorLine(err: unknown): string {
  if (isGrpcError(err)) {
    const hint = dialFailureHint(err.details);
    const cause = dialFailureCause(err.details);
    return hint ? `${cause} (${hint})` : cause;
  }
  return err instanceof Error ? err.message : String(err);
}

export type ViewListener = (event: ViewEvent) => void;
export type BackendsListener = (backends: readonly BackendState[]) => void;

export class UiModel {
  private readonly log: Logger;
  private readonly follower: StoreFollower;
  private readonly blocks: BlockFollower;
  private readonly backendStates = new Map<BackendName, BackendState>();
  private readonly viewListeners = new Set<ViewListener>();
  private readonly backendListeners = new Set<BackendsListener>();
  private peerings: ListPeeringsResponse | undefined;
  private utilization: UtilizationResponse | undefined;
  private readonly migrations = new Map<string, Migration>();
  private versionValue = 0;
  private clusterJson = '';
  private clusterCache: ClusterContent = { nodes: [], peers: [], sessions: [], clusters: [] };
  private ipamJson = '';
  private pending = { cluster: false, ipam: false };
  private coalesceTimer: NodeJS.Timeout | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private tick: NodeJS.Timeout | undefined;
  private refresh: NodeJS.Timeout | undefined;
  private stopped = false;
  /** A store probe is in flight (ticks do not pile them up while the store is slow). */
  private probing = false;
  private readonly peeringsRead = new Rerun(() => this.fetchPeerings(), () => this.stopped);
  private readonly ipamRead = new Rerun(() => this.fetchIpam(), () => this.stopped);

  constructor(private readonly opts: ModelOptions) {
    this.log = opts.logger;
    const now = new Date().toISOString();
    for (const name of ['store', 'topology', 'ipam'] as const) {
      // Unknown until the first read: shown as not reachable yet, with why.
      this.backendStates.set(name, { name, address: opts.addresses[name], reachable: false, error: 'not read yet', since: now });
    }
    const retry = { initialMs: 200, maxMs: 2_000 };
    this.follower = new StoreFollower({ client: opts.store, kinds: UI_KINDS, logger: componentLogger(this.log, 'follower'), backoff: retry });
    this.blocks = new BlockFollower({ client: opts.ipam, logger: componentLogger(this.log, 'blocks'), backoff: retry });
  }

  /** Starts following; does not wait for any backend (the views fill as they answer). */
  start(): void {
    this.follower.onChange((events) => {
      const kinds = new Set(events.map((e) => e.kind));
      this.markChanged('cluster');
      if (kinds.has('Node') || kinds.has('BGPPeer') || kinds.has('BGPConfiguration') || kinds.has('IPPool')) {
        // Topology compiles after it hears of the change: read it soon, and again a little later.
        this.later(300, () => this.peeringsRead.run());
        this.later(1_500, () => this.peeringsRead.run());
      }
      if (kinds.has('IPPool')) this.later(300, () => this.ipamRead.run());
    });
    this.blocks.onChange(() => this.ipamRead.run());
    this.follower
      .start()
      .then(() => this.checkStore())
      .catch((err: unknown) => this.log.error({ err }, 'following the store failed'));
    this.blocks.start().catch((err: unknown) => this.log.error({ err }, 'following IPAM blocks failed'));
    this.tick = setInterval(() => void this.onTick(), TICK_MS);
    this.refresh = setInterval(() => {
      this.peeringsRead.run();
      this.ipamRead.run();
    }, this.opts.refreshS * 1000);
    this.peeringsRead.run();
    this.ipamRead.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.tick);
    clearInterval(this.refresh);
    clearTimeout(this.coalesceTimer);
    for (const t of this.timers) clearTimeout(t);
    await Promise.allSettled([this.follower.stop(), this.blocks.stop(), this.peeringsRead.settled(), this.ipamRead.settled()]);
  }

  get version(): number {
    return this.versionValue;
  }

  backends(): BackendState[] {
    return [...this.backendStates.values()];
  }

  onView(listener: ViewListener): () => void {
    this.viewListeners.add(listener);
    return () => this.viewListeners.delete(listener);
  }

  onBackends(listener: BackendsListener): () => void {
    this.backendListeners.add(listener);
    return () => this.backendListeners.delete(listener);
  }

  /** The graph now (recomputed, so agent freshness is judged by the clock of the call). */
  cluster(): ClusterView {
    // Judged now; a change found here is announced at once (the coalesced pass will find none).
    if (this.recomputeCluster()) this.notify({ version: this.versionValue, cluster: true, ipam: false });
    return { version: this.versionValue, generatedAt: new Date().toISOString(), backends: this.backends(), ...this.clusterCache };
  }

  /** Pools and blocks as last read; empty before IPAM first answered. */
  ipam(): IpamView {
    return this.utilization ? ipamView(this.versionValue, this.utilization, this.migrations) : { version: this.versionValue, pools: [] };
  }

  node(name: string): Node | undefined {
    const r = this.follower.get('Node', '', name);
    return r?.kind?.$case === 'node' ? r.kind.value : undefined;
  }

  status(name: string): NodeStatus | undefined {
    const r = this.follower.get('NodeStatus', '', name);
    return r?.kind?.$case === 'nodeStatus' ? r.kind.value : undefined;
  }

  /** True when the node is known: a Node resource, a NodeStatus or a node of topology's graph. */
  knowsNode(name: string): boolean {
    return this.node(name) !== undefined || this.status(name) !== undefined || (this.peerings?.nodes.some((n) => n.name === name) ?? false);
  }

  /** Marks a backend reachable or not (calls outside the model report here too: Preview). */
  setBackend(name: BackendName, reachable: boolean, error?: string): void {
    const was = this.backendStates.get(name);
    if (was && was.reachable === reachable && (reachable || was.error === error)) return;
    const state: BackendState = { name, address: this.opts.addresses[name], reachable, ...(reachable ? {} : { error: error ?? 'unreachable' }), since: new Date().toISOString() };
    this.backendStates.set(name, state);
    if (!was || was.reachable !== reachable) {
      if (reachable) this.log.info({ backend: name, address: state.address }, 'backend reachable');
      else this.log.warn({ backend: name, address: state.address, err: state.error }, 'backend unreachable');
    }
    const list = this.backends();
    for (const l of this.backendListeners) l(list);
    this.markChanged('cluster');
  }

  private later(ms: number, fn: () => void): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private async onTick(): Promise<void> {
    if (this.stopped || this.probing) return;
    this.probing = true;
    try {
      await this.checkStore();
    } finally {
      this.probing = false;
    }
    this.markChanged('cluster');
  }

  /**
   * The store is reachable while the follower is listed and watching; otherwise a List asks
   * it (the follower, retrying with backoff, catches up within its 2 s pause) or says why not.
   */
  private async checkStore(): Promise<void> {
    if (this.follower.synced) {
      this.setBackend('store', true);
      return;
    }
    try {
      await callUnary(this.opts.store.list.bind(this.opts.store), { kind: 'BGPConfiguration', namespace: '', labelSelector: '' }, { timeoutMs: 2_000 });
      this.setBackend('store', true);
    } catch (err) {
      this.setBackend('store', false, errorLine(err));
    }
  }

  private async fetchPeerings(): Promise<void> {
    try {
      this.peerings = await callUnary(this.opts.topology.listPeerings.bind(this.opts.topology), { node: '' }, { timeoutMs: CALL_TIMEOUT_MS });
      this.setBackend('topology', true);
      this.markChanged('cluster');
    } catch (err) {
      this.setBackend('topology', false, errorLine(err));
    }
  }

  private async fetchIpam(): Promise<void> {
    try {
      const res = await callUnary(this.opts.ipam.utilization.bind(this.opts.ipam), { includeBlocks: true }, { timeoutMs: CALL_TIMEOUT_MS });
      await this.readMigrations(res);
      this.utilization = res;
      this.setBackend('ipam', true);
      this.markChanged('ipam');
    } catch (err) {
      this.setBackend('ipam', false, errorLine(err));
    }
  }

  /** A disabled pool that still holds workloads is being drained: how many remain, and the most seen. */
  private async readMigrations(res: UtilizationResponse): Promise<void> {
    const draining = new Set<string>();
    for (const p of res.pools) {
      if (!p.disabled || p.inUse === '0') continue;
      const usage = await callUnary(this.opts.ipam.poolUsage.bind(this.opts.ipam), { name: p.name, cidr: '' }, { timeoutMs: CALL_TIMEOUT_MS });
      if (usage.workloadCount === 0) continue;
      draining.add(p.name);
      const before = this.migrations.get(p.name);
      const startedWith = Math.max(before?.startedWith ?? 0, usage.workloadCount);
      this.migrations.set(p.name, { remainingWorkloads: usage.workloadCount, startedWith });
    }
    for (const name of this.migrations.keys()) if (!draining.has(name)) this.migrations.delete(name);
  }

  private statuses(): Map<string, NodeStatus> {
    const m = new Map<string, NodeStatus>();
    for (const r of this.follower.list('NodeStatus')) {
      if (r.kind?.$case !== 'nodeStatus') continue;
      const ns = r.kind.value;
      m.set(ns.spec?.node || ns.metadata?.name || '', ns);
    }
    return m;
  }

  private nodes(): Node[] {
    return this.follower.list('Node').flatMap((r: Resource) => (r.kind?.$case === 'node' ? [r.kind.value] : []));
  }

  /** Recomputes the graph; bumps the version when it differs from the last one. Returns whether it changed. */
  private recomputeCluster(): boolean {
    const content = clusterContent({ nodes: this.nodes(), statuses: this.statuses(), peerings: this.peerings, now: new Date() });
    const json = JSON.stringify([content, this.backends().map((b) => [b.name, b.reachable, b.error])]);
    if (json === this.clusterJson) return false;
    this.clusterJson = json;
    this.clusterCache = content;
    this.versionValue++;
    return true;
  }

  private recomputeIpam(): boolean {
    if (!this.utilization) return false;
    const json = JSON.stringify(ipamView(0, this.utilization, this.migrations));
    if (json === this.ipamJson) return false;
    this.ipamJson = json;
    this.versionValue++;
    return true;
  }

  private markChanged(what: 'cluster' | 'ipam'): void {
    this.pending[what] = true;
    if (this.coalesceTimer || this.stopped) return;
    this.coalesceTimer = setTimeout(() => {
      this.coalesceTimer = undefined;
      const pending = this.pending;
      this.pending = { cluster: false, ipam: false };
      const cluster = pending.cluster && this.recomputeCluster();
      const ipam = pending.ipam && this.recomputeIpam();
      if (cluster || ipam) this.notify({ version: this.versionValue, cluster, ipam });
    }, COALESCE_MS);
  }

  private notify(event: ViewEvent): void {
    for (const l of this.viewListeners) l(event);
  }
}

/**
 * One read at a time: asked again while one runs, it runs once more after it (however often
 * it was asked meanwhile), so the last answer is never older than the last ask.
 */
class Rerun {
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly read: () => Promise<void>,
    private readonly stopped: () => boolean,
  ) {}

  run(): void {
    if (this.stopped()) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.read();
      } while (this.again && !this.stopped());
    })().finally(() => (this.running = undefined));
  }

  /** Resolves when no read is running. */
  settled(): Promise<void> {
    return this.running ?? Promise.resolve();
  }
}
