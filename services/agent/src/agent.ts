import { status as grpcStatus } from '@grpc/grpc-js';
import { parseCIDR, parseIP, wrap, type ParsedCIDR } from '@tabby/api';
import { peerKey, type ExportFilter, type Family, type ListenAddress, type PeerStatus as SpeakerPeerStatus, type RouteEntry } from '@tabby/bgp';
import { Backoff, sleep } from '@tabby/client';
import type { Dataplane } from '@tabby/dataplane';
import {
  NodeStatus,
  ObjectMeta,
  type BGPPeerStatus,
  type Node,
  type NodeConfig,
  type ResourceStoreClient,
  type Route,
  type WatchNodeConfigRequest,
  type WatchNodeConfigResponse,
} from '@tabby/proto';
import { ServiceError, callUnary, dialFailureHint, isGrpcError, type EventBus, type Logger } from '@tabby/runtime';
import type { AgentMetrics } from './agent-metrics.js';
import { desiredPeers, type DesiredPeer } from './peers.js';
import { RouteManager } from './route-manager.js';
import { PoolIndex, exportAllowed } from './routing.js';
import type { SecretsDir } from './secrets.js';
import { realSpeaker, type SpeakerApi, type SpeakerFactory } from './speaker-api.js';
import { AGENT_VERSION } from './version.js';

/** `--bgp-listen`: follow BGPConfiguration bindMode, or always only the node's addresses. */
export type BgpListenMode = 'config' | 'node-address';

export interface NodeAgentOptions {
  readonly node: string;
  readonly bgpAddress: string;
  readonly bgpIpv6Address?: string;
  /** 0: the compiled listen port. */
  readonly bgpPort: number;
  /**
   * config (default): bindMode None listens on every address (`0.0.0.0`, and `::` with an
   * IPv6 address), NodeIP on --bgp-address and --bgp-ipv6-address; node-address:
   * always the latter.
   */
  readonly bgpListen?: BgpListenMode;
  readonly nextHopIPv4?: string;
  readonly nextHopIPv6?: string;
  /** Registered on the Node when non-zero. */
  readonly asNumber: number;
  readonly holdTimeS: number;
  readonly allow?: readonly ParsedCIDR[];
  readonly store: AgentStore;
  readonly topology: AgentTopology;
  readonly bus?: EventBus;
  readonly logger: Logger;
  readonly metrics: AgentMetrics;
  readonly statusIntervalMs: number;
  /** The routing table (`--dataplane linux`); undefined for `none`: BGP only. */
  readonly dataplane?: Dataplane;
  /** Table scan period (default 2 s, BIRD's `scan time 2`). */
  readonly scanIntervalMs?: number;
  /** Longest wait for BGP to converge after a restart before stale routes go (default 120 s). */
  readonly convergenceTimeoutMs?: number;
  /** How long a route to a workload interface the agent does not know stays (default 10 s, felix's; 0 = never). */
  readonly routeCleanupGraceMs?: number;
  /** Makes the BGP speaker (tests give a fake). */
  readonly speakerFactory?: SpeakerFactory;
  /** Where BGP passwords are read (`--secrets-dir`); without it a peer with a password stays down. */
  readonly secrets?: SecretsDir;
  /** How often secrets are read again, so a changed password re-keys its sessions (default 5 s). */
  readonly secretsRefreshMs?: number;
}

/** The store calls the agent makes (a ResourceStoreClient; tests give a fake). */
export type AgentStore = Pick<ResourceStoreClient, 'get' | 'create' | 'update' | 'apply'>;

/** The stream of a node's configurations (what TopologyClient.watchNodeConfig returns). */
export interface NodeConfigStream {
  on(event: 'data', listener: (m: WatchNodeConfigResponse) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  cancel(): void;
}

/** The topology call the agent makes (a TopologyClient; tests give a fake). */
export interface AgentTopology {
  watchNodeConfig(request: WatchNodeConfigRequest): NodeConfigStream;
}

const ORIGIN = ['IGP', 'EGP', 'INCOMPLETE'];
const BGP_LOG_LEVELS: Record<string, string> = { trace: 'trace', debug: 'debug', info: 'info', warning: 'warn', error: 'error', fatal: 'fatal' };

function communityText(c: number): string {
  return `${Math.floor(c / 65536)}:${c % 65536}`;
}

/** The state column of `calicoctl node status`: BIRD's protocol state. */
function birdState(s: SpeakerPeerStatus | undefined): string {
  if (!s) return 'down';
  return s.state === 'Established' ? 'up' : 'start';
}

/**
 * One node's agent: registers the Node, follows the node's compiled configuration from
 * tabby-topology, and reconciles a BGP speaker with it — new peers added, removed peers
 * sent CEASE, changed peers reset, a peer whose only change is its route-reflector role
 * changed in place, unchanged sessions untouched — originates the node's blocks, and
 * reports a NodeStatus upstream. With the store, topology or NATS unreachable it keeps its
 * last configuration, sessions and routes, and resyncs when they return.
 */
export class NodeAgent {
  private speaker: SpeakerApi | undefined;
  private speakerIdentity = '';
  private config: NodeConfig | undefined;
  private desired = new Map<string, DesiredPeer>();
  private readonly routing: RouteManager;
  private restarting = false;
  private pools = new PoolIndex([]);
  /** On a route reflector: the serviceLoadBalancerIPs ranges, whose routes it passes on. */
  private reflectedServices: ParsedCIDR[] = [];
  private exportInputs = '';
  private stopped = false;
  private watchCall: { cancel(): void } | undefined;
  private applying: Promise<void> = Promise.resolve();
  private statusTimer: NodeJS.Timeout | undefined;
  private secretsTimer: NodeJS.Timeout | undefined;
  private statusScheduled: NodeJS.Timeout | undefined;
  private readonly loops: Promise<void>[] = [];
  private readonly bootTime = new Date().toISOString();
  private reconfiguredAt = '';
  /** The gRPC HOST:PORT reported in the NodeStatus (AgentStatus.address). */
  private address = '';
  topologyConnected = false;
  storeConnected = false;
  registered = false;

  /** The speaker's logger: its level follows logSeverityScreen. */
  private readonly bgpLog: Logger;

  constructor(private readonly opts: NodeAgentOptions) {
    this.bgpLog = opts.logger.child({ component: 'bgp' });
    this.bgpLog.level = opts.logger.level;
    const own = new Set([opts.bgpAddress, opts.bgpIpv6Address, opts.nextHopIPv4, opts.nextHopIPv6].filter((a): a is string => Boolean(a)));
    this.routing = new RouteManager({
      dataplane: opts.dataplane,
      logger: opts.logger,
      scanIntervalMs: opts.scanIntervalMs ?? 2000,
      convergenceTimeoutMs: opts.convergenceTimeoutMs ?? 120_000,
      routeCleanupGraceMs: opts.routeCleanupGraceMs,
      ownAddresses: own,
      onChange: () => this.scheduleStatus(),
    });
    this.routing.onConverged(() => {
      this.restarting = false;
      this.speaker?.restartComplete();
    });
  }

  /** The routing side (tests and the service read it). */
  get routeManager(): RouteManager {
    return this.routing;
  }

  /**
   * Calico's export filter on top of RFC 4271/4456 rules: see {@link exportAllowed}. It reads
   * the current peers and pools, so re-applying it after they change re-evaluates every prefix.
   */
  private readonly exportFilter: ExportFilter = (_family, prefix, path, toPeer) => {
    const from = path.source.kind === 'peer' ? this.desired.get(path.source.id) : undefined;
    const to = this.desired.get(toPeer);
    return exportAllowed(prefix, path, from?.external ?? false, to?.external ?? true, this.pools, this.reflectedServices);
  };

  get generation(): number {
    return Number(this.config?.generation ?? 0);
  }

  /**
   * Starts registering the Node and following the configuration, in the background
   * (retrying until reachable). `address` is where the agent's gRPC service is reached,
   * reported in the NodeStatus so tabbyctl finds the agent from the node name.
   */
  async start(address = ''): Promise<void> {
    this.address = address;
    // Read the routing table first: Tabby routes there mean a restart, announced to peers
    // as a graceful restart with forwarding preserved.
    const { restarting } = await this.routing.start();
    this.restarting = restarting;
    this.loops.push(this.registerLoop(), this.watchLoop());
    this.statusTimer = setInterval(() => void this.reportStatus(), this.opts.statusIntervalMs);
    this.statusTimer.unref();
    this.secretsTimer = setInterval(() => this.refreshSecrets(), this.opts.secretsRefreshMs ?? 5000);
    this.secretsTimer.unref();
  }

  /**
   * Reads the password secrets again: a peer whose password changed is re-keyed (only its
   * session restarts), one whose secret became unreadable goes down with the reason, one whose
   * secret appeared comes up. Nothing else is touched.
   */
  private refreshSecrets(): void {
    const config = this.config;
    if (!config?.exists || this.stopped || !config.peers.some((p) => p.password)) return;
    this.applying = this.applying
      .then(() => {
        if (this.stopped || this.config !== config) return;
        const peers = this.desiredPeers(config);
        const changed = peers.some((p) => {
          const old = this.desired.get(p.key);
          return p.passwordSecret !== undefined && (old?.config.password !== p.config.password || old?.blocked !== p.blocked);
        });
        if (!changed) return;
        this.opts.logger.info({ peers: peers.filter((p) => p.passwordSecret).map((p) => p.key) }, 'a password secret changed: re-keying the sessions that use it');
        this.reconcilePeers(peers);
        this.scheduleStatus();
      })
      .catch((err: unknown) => this.opts.logger.error({ err: errText(err) }, 'cannot re-read the password secrets'));
  }

  private desiredPeers(config: NodeConfig): DesiredPeer[] {
    return desiredPeers(
      config,
      { ipv4Address: this.opts.bgpAddress, ipv6Address: this.opts.bgpIpv6Address, nextHopIPv4: this.opts.nextHopIPv4, nextHopIPv6: this.opts.nextHopIPv6, holdTimeS: this.opts.holdTimeS },
      this.opts.allow,
      this.opts.secrets,
    );
  }

  /** Closes every session with CEASE and reports the agent NotReady. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.watchCall?.cancel();
    clearInterval(this.statusTimer);
    clearInterval(this.secretsTimer);
    clearTimeout(this.statusScheduled);
    await this.applying.catch(() => undefined);
    await this.routing.stop();
    await this.speaker?.stop();
    await this.reportStatus('NotReady');
    await Promise.allSettled(this.loops);
  }

  // ---- registration ----

  private async registerLoop(): Promise<void> {
    const backoff = new Backoff();
    while (!this.stopped && !this.registered) {
      try {
        await this.register();
        this.registered = true;
        this.storeConnected = true;
      } catch (err) {
        this.storeConnected = false;
        const pause = backoff.next();
        if (backoff.failures === 1 || backoff.failures % 20 === 0) this.opts.logger.warn({ err: errText(err), hint: dialHint(err), attempts: backoff.failures }, 'cannot register the Node in the store; retrying');
        await sleep(pause);
      }
    }
  }

  /** Creates the Node, or updates its BGP addresses (and AS when given); leaves the rest alone. */
  private async register(): Promise<void> {
    const { store, node } = this.opts;
    const v4 = `${this.opts.bgpAddress}/32`;
    const v6 = this.opts.bgpIpv6Address ? `${this.opts.bgpIpv6Address}/128` : '';
    let existing: Node | undefined;
    try {
      const r = await callUnary(store.get.bind(store), { kind: 'Node', namespace: '', name: node }, { timeoutMs: 10_000 });
      if (r.resource?.kind?.$case === 'node') existing = r.resource.kind.value;
    } catch (err) {
      if (!(isGrpcError(err) && err.code === grpcStatus.NOT_FOUND)) throw err;
    }
    const sameIp = (a: string, b: string): boolean => a.split('/')[0] === b.split('/')[0];
    if (!existing) {
      const created: Node = {
        metadata: ObjectMeta.fromPartial({ name: node }),
        spec: {
          bgp: { asNumber: this.opts.asNumber || undefined, ipv4Address: v4, ipv6Address: v6, ipv4IPIPTunnelAddr: '', routeReflectorClusterID: '' },
          ipv4VXLANTunnelAddr: '',
          vxlanTunnelMACAddr: '',
          ipv6VXLANTunnelAddr: '',
          vxlanTunnelMACAddrV6: '',
          orchRefs: [],
          addresses: [],
          interfaces: [],
        },
      };
      await callUnary(store.create.bind(store), { resource: wrap('Node', created) }, { timeoutMs: 10_000 });
      this.opts.logger.info({ node, ipv4Address: v4, ipv6Address: v6 || undefined }, 'Node registered');
      return;
    }
    const bgp = existing.spec?.bgp ?? { asNumber: undefined, ipv4Address: '', ipv6Address: '', ipv4IPIPTunnelAddr: '', routeReflectorClusterID: '' };
    const want = {
      ...bgp,
      ipv4Address: sameIp(bgp.ipv4Address, v4) ? bgp.ipv4Address : v4,
      ipv6Address: v6 === '' || sameIp(bgp.ipv6Address, v6) ? bgp.ipv6Address : v6,
      asNumber: this.opts.asNumber ? this.opts.asNumber : bgp.asNumber,
    };
    if (want.ipv4Address === bgp.ipv4Address && want.ipv6Address === bgp.ipv6Address && want.asNumber === bgp.asNumber) {
      this.opts.logger.info({ node }, 'Node already registered');
      return;
    }
    const updated: Node = { ...existing, spec: { ...(existing.spec as NonNullable<Node['spec']>), bgp: want } };
    await callUnary(store.update.bind(store), { resource: wrap('Node', updated) }, { timeoutMs: 10_000 });
    this.opts.logger.info({ node, ipv4Address: want.ipv4Address, ipv6Address: want.ipv6Address || undefined }, 'Node updated');
  }

  // ---- configuration ----

  private async watchLoop(): Promise<void> {
    const backoff = new Backoff();
    // Failed attempts since the stream last delivered (logged on the first and every 20th).
    let failures = 0;
    while (!this.stopped) {
      await new Promise<void>((resolve) => {
        const call = this.opts.topology.watchNodeConfig({ node: this.opts.node });
        this.watchCall = call;
        // The first message of a stream is the current configuration, whatever its generation
        // (the topology service may have restarted); later ones only move forward.
        let first = true;
        call.on('data', (m: WatchNodeConfigResponse) => {
          if (!this.topologyConnected) this.opts.logger.info({ topology: 'connected' }, 'following the node configuration');
          this.topologyConnected = true;
          backoff.reset();
          failures = 0;
          if (m.config) this.enqueue(m.config, first);
          first = false;
        });
        const done = (err?: unknown): void => {
          if (this.topologyConnected && !this.stopped) this.opts.logger.warn({ err: err ? errText(err) : 'stream ended', hint: dialHint(err) }, 'lost the topology service; keeping the last configuration');
          else if (!this.stopped && err !== undefined) {
            failures++;
            // Never connected (wrong address, TLS refused): say why, not on every retry.
            if (failures === 1 || failures % 20 === 0) this.opts.logger.warn({ err: errText(err), hint: dialHint(err), attempts: failures }, 'cannot follow the node configuration from the topology service; retrying');
          }
          this.topologyConnected = false;
          resolve();
        };
        call.on('error', done);
        call.on('end', () => done());
      });
      if (this.stopped) return;
      await sleep(backoff.next());
    }
  }

  private enqueue(config: NodeConfig, current: boolean): void {
    this.applying = this.applying
      .then(() => this.apply(config, current))
      .catch((err: unknown) => this.opts.logger.error({ err: errText(err) }, 'cannot apply the node configuration'));
  }

  /** Reconciles the speaker with a configuration. */
  private async apply(config: NodeConfig, current: boolean): Promise<void> {
    if (this.stopped) return;
    if (!current && this.config && config.generation < this.config.generation) return;
    const log = this.opts.logger;
    this.config = config;
    this.opts.metrics.configGeneration.set(Number(config.generation));
    if (!config.exists) {
      if (this.registered) log.warn({ node: this.opts.node }, 'the Node does not exist (any more): no BGP sessions');
      else log.info({ node: this.opts.node }, 'waiting for the Node to be registered');
      this.reconcilePeers([]);
      // A Node that existed and is gone takes its routes with it; before the first
      // registration nothing is known yet, so nothing changes.
      if (this.registered) this.routing.setInputs({ blocks: [], workloads: [], pools: [] });
      this.scheduleStatus();
      return;
    }
    const port = this.opts.bgpPort || config.listenPort || 179;
    const identity = `${config.asNumber}|${config.routerId}|${port}`;
    if (!this.speaker || identity !== this.speakerIdentity) {
      if (this.speaker) {
        log.info({ from: this.speakerIdentity, to: identity }, 'AS, router id or port changed: restarting the speaker (every session re-establishes)');
        await this.speaker.stop();
      }
      const listen = this.listenAddresses(config, port);
      const restarting = this.restarting;
      const speaker = (this.opts.speakerFactory ?? realSpeaker)({
        asn: config.asNumber,
        routerId: config.routerId,
        listen,
        clusterId: config.routeReflectorClusterId || undefined,
        logger: this.bgpLog,
        exportFilter: this.exportFilter,
        // The kernel keeps forwarding with the routes of the last run (persist): peers keep
        // ours while we come back (RFC 4724, F bit) and we keep theirs until End-of-RIB.
        gracefulRestart: restarting ? { restarting: true, forwardingPreserved: true } : undefined,
      });
      speaker.onPeerStatus(() => this.scheduleStatus());
      await speaker.start();
      this.speaker = speaker;
      this.speakerIdentity = identity;
      this.desired = new Map();
      this.exportInputs = '';
      this.routing.attach(speaker);
      log.info({ asn: config.asNumber, routerId: config.routerId, listen: listen.map((l) => l.address), port, gracefulRestart: restarting }, 'BGP speaker listening');
    } else {
      await this.followBindMode(config, port);
    }
    this.setBgpLogLevel(config.logSeverityScreen);
    const speaker = this.speaker;
    const peers = this.desiredPeers(config);
    const pools = config.pools.map((p) => ({ name: p.name, cidr: p.cidr, disableBGPExport: p.disableBGPExport, vxlanMode: p.vxlanMode, ipipMode: p.ipipMode }));
    this.pools = new PoolIndex(pools);
    this.reflectedServices = config.routeReflectorClusterId
      ? config.services.filter((svc) => svc.kind === 'LoadBalancer').flatMap((svc) => parseCIDR(svc.cidr) ?? [])
      : [];
    // Originations first: a session that comes up at once gets them before its End-of-RIB.
    this.routing.setInputs({
      blocks: config.blocks.map((b) => ({ cidr: b.cidr, exported: b.exported })),
      workloads: config.workloads.map((w) => ({ name: w.name, interfaceName: w.interfaceName, addresses: w.addresses })),
      pools,
      statics: peers.flatMap((p) => (p.reachableBy ? [{ prefix: `${p.config.address}/${p.family === 'ipv6' ? 128 : 32}`, via: p.reachableBy }] : [])),
      services: config.services.map((svc) => ({ cidr: svc.cidr })),
      communities: config.communities.map((c) => ({ cidr: c.cidr, standard: c.standard, large: c.large })),
    });
    const clusterId = config.routeReflectorClusterId || undefined;
    // Becoming a reflector: set the cluster id before marking clients; stopping: after.
    if (clusterId) speaker.setClusterId(clusterId);
    this.reconcilePeers(peers);
    if (!clusterId) speaker.setClusterId(undefined);
    this.routing.checkConvergence();
    const exportInputs = JSON.stringify([config.pools, peers.map((p) => [p.key, p.external]), this.reflectedServices.map((c) => c.canonical)]);
    if (exportInputs !== this.exportInputs) {
      this.exportInputs = exportInputs;
      speaker.setExportFilter(this.exportFilter);
    }
    this.reconfiguredAt = new Date().toISOString();
    log.info({ generation: config.generation, peers: peers.length, prefixes: config.prefixes.length }, 'configuration applied');
    this.scheduleStatus();
  }

  /** Where the speaker should listen: bindMode (or --bgp-listen node-address) decides. */
  private listenAddresses(config: NodeConfig, port: number): ListenAddress[] {
    if (config.bindToNodeAddress || this.opts.bgpListen === 'node-address') {
      const listen = [{ address: this.opts.bgpAddress, port }];
      if (this.opts.bgpIpv6Address) listen.push({ address: this.opts.bgpIpv6Address, port });
      return listen;
    }
    // bindMode None: every address, as BIRD listens by default. `::` accepts IPv4 too.
    const all = [{ address: '0.0.0.0', port }];
    if (this.opts.bgpIpv6Address) all.push({ address: '::', port });
    return all;
  }

  /** A change of bindMode moves the listening sockets; sessions stay up. */
  private async followBindMode(config: NodeConfig, port: number): Promise<void> {
    const speaker = this.speaker;
    if (!speaker) return;
    const listen = this.listenAddresses(config, port);
    const key = (ls: readonly ListenAddress[]): string => ls.map((l) => `${l.address}|${l.port}`).join(',');
    if (key(listen) === key(speaker.listenAddresses())) return;
    try {
      await speaker.setListen(listen);
      this.opts.logger.info({ bindMode: config.bindToNodeAddress ? 'NodeIP' : 'None', listen: listen.map((l) => l.address), port }, 'BGP listen addresses follow bindMode');
    } catch (err) {
      this.opts.logger.error({ err: errText(err), bindMode: config.bindToNodeAddress ? 'NodeIP' : 'None' }, 'cannot follow bindMode: still listening where before');
    }
  }

  /**
   * BGPConfiguration logSeverityScreen, at run time: the BGP speaker's log level (Trace, Debug,
   * Info, Warning, Error, Fatal → pino's trace … fatal), as Calico sets BIRD's `debug`.
   */
  private setBgpLogLevel(severity: string): void {
    const level = BGP_LOG_LEVELS[severity.toLowerCase()] ?? 'info';
    if (this.bgpLog.level === level) return;
    this.opts.logger.info({ logSeverityScreen: severity || 'Info', level }, 'BGP log level set');
    this.bgpLog.level = level;
  }

  private reconcilePeers(peers: readonly DesiredPeer[]): void {
    const speaker = this.speaker;
    const log = this.opts.logger;
    const next = new Map(peers.map((p) => [p.key, p]));
    for (const [key, old] of this.desired) {
      if (next.has(key)) continue;
      if (!old.blocked) speaker?.removePeer(key);
      log.info({ peer: key, type: old.typeLabel }, 'peer removed (CEASE sent)');
    }
    for (const p of peers) {
      const old = this.desired.get(p.key);
      if (p.blocked) {
        if (old && !old.blocked) speaker?.removePeer(p.key);
        if (old?.blocked !== p.blocked) log.warn({ peer: p.key, why: p.blocked }, 'peer not run');
        continue;
      }
      if (!speaker) continue;
      if (!old || old.blocked) {
        speaker.addPeer(p.config);
        log.info({ peer: p.key, type: p.typeLabel, remoteAs: p.config.remoteAs, rrClient: p.config.rrClient ?? false }, 'peer added');
        continue;
      }
      const r = speaker.updatePeer(p.config);
      if (r !== 'unchanged') log.info({ peer: p.key, change: r }, r === 'reset' ? 'peer changed: session reset' : 'peer role changed in place');
    }
    this.desired = next;
  }

  // ---- status ----

  private scheduleStatus(): void {
    if (this.statusScheduled || this.stopped) return;
    this.statusScheduled = setTimeout(() => {
      this.statusScheduled = undefined;
      void this.reportStatus();
    }, 200);
  }

  /** The NodeStatus as it stands now. */
  nodeStatus(agentState = 'Ready'): NodeStatus {
    const v4: BGPPeerStatus[] = [];
    const v6: BGPPeerStatus[] = [];
    const m = this.opts.metrics;
    for (const g of [m.sessions, m.prefixesReceived, m.prefixesAdvertised, m.updatesIn, m.updatesOut, m.flaps, m.established, m.lastError]) g.reset();
    const byState = new Map<string, number>();
    for (const p of [...this.desired.values()].sort((a, b) => (a.key < b.key ? -1 : 1))) {
      const s = p.blocked ? undefined : this.speaker?.peer(p.key);
      const fam: Family = p.family === 'ipv6' ? 'ipv6-unicast' : 'ipv4-unicast';
      const state = s?.state ?? 'Idle';
      const row: BGPPeerStatus = {
        peerIP: p.config.address,
        type: p.typeLabel,
        state: birdState(s),
        since: new Date(s?.since ?? Date.now()).toISOString(),
        info: p.blocked ? `Idle ${p.blocked}` : `${state}${s?.lastError ? ` ${s.lastError}` : ''}`,
        lastError: p.blocked ?? s?.lastError ?? '',
        prefixesReceived: s?.counters[fam].received ?? 0,
        prefixesAdvertised: s?.counters[fam].advertised ?? 0,
        port: p.config.port ?? 179,
      };
      (p.family === 'ipv6' ? v6 : v4).push(row);
      byState.set(state, (byState.get(state) ?? 0) + 1);
      const labels = { peer: p.key, type: p.typeLabel };
      m.prefixesReceived.set(labels, row.prefixesReceived);
      m.prefixesAdvertised.set(labels, row.prefixesAdvertised);
      m.updatesIn.set(labels, s?.updatesIn ?? 0);
      m.updatesOut.set(labels, s?.updatesOut ?? 0);
      m.flaps.set(labels, s?.flaps ?? 0);
      m.established.set(labels, state === 'Established' ? 1 : 0);
      m.lastError.set({ ...labels, error: row.lastError || 'none' }, 1);
    }
    for (const [state, n] of byState) m.sessions.set({ state }, n);
    const routes = this.routing.status();
    if (routes) {
      m.routes.set({ kind: 'blackhole' }, routes.blackholes);
      m.routes.set({ kind: 'workload' }, routes.workloads);
      m.routes.set({ kind: 'remote' }, routes.remote);
      m.routeFailures.set(routes.failures.length);
    }
    const up = (rows: BGPPeerStatus[]): number => rows.filter((r) => r.state === 'up').length;
    return {
      metadata: ObjectMeta.fromPartial({ name: this.opts.node }),
      spec: { node: this.opts.node, updatePeriodSeconds: Math.round(this.opts.statusIntervalMs / 1000) },
      status: {
        lastUpdated: new Date().toISOString(),
        agent: { state: agentState, version: AGENT_VERSION, routerID: this.config?.routerId ?? '', lastBootTime: this.bootTime, lastReconfigurationTime: this.reconfiguredAt, address: this.address },
        bgp: {
          numberEstablishedV4: up(v4),
          numberNotEstablishedV4: v4.length - up(v4),
          numberEstablishedV6: up(v6),
          numberNotEstablishedV6: v6.length - up(v6),
          peersV4: v4,
          peersV6: v6,
        },
        routes,
      },
    };
  }

  /** Writes the NodeStatus to the store and publishes it on NATS. */
  async reportStatus(agentState = 'Ready'): Promise<void> {
    const status = this.nodeStatus(agentState);
    this.opts.bus?.publish(`tabby.v1.agents.${this.opts.node}.status`, NodeStatus.encode(status).finish());
    const store = this.opts.store;
    try {
      await callUnary(store.apply.bind(store), { resource: wrap('NodeStatus', status) }, { timeoutMs: 5000 });
      if (!this.storeConnected) this.opts.logger.info({}, 'store reachable: status reported');
      this.storeConnected = true;
    } catch (err) {
      if (this.storeConnected) this.opts.logger.warn({ err: errText(err) }, 'cannot report status to the store; keeping on');
      this.storeConnected = false;
    }
  }

  // ---- operator calls ----

  routes(family: string, prefix: string): Route[] {
    const speaker = this.speaker;
    if (!speaker) return [];
    const fams: Family[] = family === 'ipv4' ? ['ipv4-unicast'] : family === 'ipv6' ? ['ipv6-unicast'] : ['ipv4-unicast', 'ipv6-unicast'];
    const out: Route[] = [];
    for (const f of fams) {
      for (const r of speaker.routes(f)) {
        if (prefix && r.prefix !== prefix) continue;
        out.push(toRoute(r, this.routing.originatedPrefixes().has(r.prefix)));
      }
    }
    return out;
  }

  resetPeer(text: string): boolean {
    const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
    const address = m ? m[1] : text;
    const ip = parseIP(address ?? '');
    if (!ip) throw new ServiceError('invalid-argument', `"${text}" is not a peer address (IP, IP:port or [IPv6]:port)`);
    const key = m ? peerKey(ip.text, Number(m[2])) : [...this.desired.keys()].find((k) => this.desired.get(k)?.config.address === ip.text) ?? ip.text;
    if (!this.desired.has(key)) throw new ServiceError('not-found', `node ${this.opts.node} has no BGP peer ${text}`);
    return this.speaker?.resetPeer(key) ?? false;
  }

  /** The node name, for logs and the service. */
  get node(): string {
    return this.opts.node;
  }
}

function toRoute(r: RouteEntry, local: boolean): Route {
  return {
    prefix: r.prefix,
    family: r.family === 'ipv6-unicast' ? 'ipv6' : 'ipv4',
    reason: r.reason,
    local,
    paths: r.paths.map((p) => ({
      fromPeer: p.source.kind === 'local' ? '' : p.source.address,
      nextHop: p.attrs.nextHop ?? '',
      asPath: (p.attrs.asPath ?? []).flatMap((s) => [...s.asns]),
      origin: ORIGIN[p.attrs.origin ?? 0] ?? 'IGP',
      localPref: p.attrs.localPref ?? 100,
      med: p.attrs.med,
      originatorId: p.attrs.originatorId ?? '',
      clusterList: [...(p.attrs.clusterList ?? [])],
      communities: (p.attrs.communities ?? []).map(communityText),
      best: p === r.best,
    })),
  };
}

function errText(err: unknown): string {
  if (isGrpcError(err)) return err.details;
  return err instanceof Error ? err.message : String(err);
}

/** What to do about a call the store or topology could not take (TLS, address), as ipam and topology log it. */
function dialHint(err: unknown): string | undefined {
  return isGrpcError(err) && err.code === grpcStatus.UNAVAILABLE ? dialFailureHint(err.details) : undefined;
}

