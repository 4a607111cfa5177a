import { parseCIDR, cidrsOverlap, type ParsedCIDR } from '@tabby/api';
import type { Family, LargeCommunity, LocalRouteAttributes, PeerStatus } from '@tabby/bgp';
import type { Dataplane, ReconcileReport, RouteFailure } from '@tabby/dataplane';
import type { RoutingStatus } from '@tabby/proto';
import type { Logger } from '@tabby/runtime';
import { planRoutes, type RoutingBlock, type RoutingPlan, type RoutingPool, type RoutingService, type RoutingWorkload, type StaticRoute } from './routing.js';
import { DEFAULT_ROUTE_CLEANUP_GRACE_MS, RouteCleanupGrace, type GraceRound } from './route-grace.js';
import type { SpeakerApi } from './speaker-api.js';

export interface RouteManagerOptions {
  /** The routing table; undefined with `--dataplane none` (originations only). */
  readonly dataplane?: Dataplane;
  readonly logger: Logger;
  /** Period of the table scan that repairs routes someone else changed (BIRD's `scan time`). */
  readonly scanIntervalMs: number;
  /**
   * After a restart with routes already in the table: the longest wait for BGP to converge
   * (every peer Established and its End-of-RIB received) before stale routes are removed.
   */
  readonly convergenceTimeoutMs: number;
  /** This node's own addresses (learned paths pointing at them are not programmed). */
  readonly ownAddresses: ReadonlySet<string>;
  /** Called when something a status report shows has changed. */
  readonly onChange?: () => void;
  /** Milliseconds to gather changes before acting on them. */
  readonly debounceMs?: number;
  /**
   * How long a route to a workload interface (`cali…`) the agent does not know is left in the
   * table, from the first reconcile that sees it (Calico's route cleanup grace period; default
   * 10 s, 0 = never): tabby-cni adds the route before the agent learns the workload.
   */
  readonly routeCleanupGraceMs?: number;
  /** The clock of the grace period (tests). */
  readonly now?: () => number;
}

export interface RoutingInputs {
  readonly blocks: readonly RoutingBlock[];
  readonly workloads: readonly RoutingWorkload[];
  readonly pools: readonly RoutingPool[];
  readonly services?: readonly RoutingService[];
  readonly statics?: readonly StaticRoute[];
  /** Communities for the routes the node announces inside each CIDR (prefixAdvertisements). */
  readonly communities?: readonly PrefixCommunities[];
}

/** BGPConfiguration prefixAdvertisements, resolved: `aa:nn` and `aa:nn:mm` values. */
export interface PrefixCommunities {
  readonly cidr: string;
  readonly standard: readonly string[];
  readonly large: readonly string[];
}

interface ParsedCommunities {
  readonly cidr: ParsedCIDR;
  readonly standard: readonly number[];
  readonly large: readonly LargeCommunity[];
}

function parseCommunities(list: readonly PrefixCommunities[]): ParsedCommunities[] {
  const out: ParsedCommunities[] = [];
  for (const pc of list) {
    const cidr = parseCIDR(pc.cidr);
    if (!cidr) continue;
    const standard = pc.standard.map((v) => v.split(':').map(Number)).filter((p) => p.length === 2 && p.every((n) => Number.isInteger(n) && n >= 0 && n <= 0xffff)).map(([a, b]) => (a ?? 0) * 65536 + (b ?? 0));
    const large = pc.large.map((v) => v.split(':').map(Number)).filter((p) => p.length === 3 && p.every((n) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff)).map(([a, b, c]) => [a ?? 0, b ?? 0, c ?? 0] as const);
    out.push({ cidr, standard, large });
  }
  return out;
}

/**
 * The attributes of a route the node originates: the communities of every prefixAdvertisement
 * whose CIDR contains it (BIRD's `if net ~ cidr then bgp_community.add(…)`), and the interface
 * of a workload's /32 (for BGPFilter `interface` rules).
 */
function originAttributes(prefix: string, communities: readonly ParsedCommunities[], dev: string | undefined): LocalRouteAttributes {
  const c = parseCIDR(prefix);
  const std = new Set<number>();
  const large = new Map<string, LargeCommunity>();
  if (c) {
    for (const pc of communities) {
      if (pc.cidr.family !== c.family || pc.cidr.prefix > c.prefix || !cidrsOverlap(pc.cidr, c)) continue;
      for (const v of pc.standard) std.add(v);
      for (const v of pc.large) large.set(v.join(':'), v);
    }
  }
  return {
    ...(std.size > 0 ? { communities: [...std].sort((a, b) => a - b) } : {}),
    ...(large.size > 0 ? { largeCommunities: [...large.values()] } : {}),
    ...(dev ? { interface: dev } : {}),
  };
}

const familyOf = (prefix: string): Family => (prefix.includes(':') ? 'ipv6-unicast' : 'ipv4-unicast');

/**
 * Keeps the node's kernel table and its originated prefixes equal to {@link planRoutes} of
 * the current inputs: on every configuration or Loc-RIB change (debounced) and on a periodic
 * scan. Routes stay in the table when the agent stops or crashes (BIRD's `persist`); after a
 * start that finds Tabby routes in the table, nothing is removed until BGP has converged
 * (graceful restart), so forwarding never stops while the agent restarts. A route to a
 * workload interface the agent does not know yet (tabby-cni's, made before the agent learns
 * the workload) is left alone for the route cleanup grace period ({@link RouteCleanupGrace}).
 */
export class RouteManager {
  private speaker: SpeakerApi | undefined;
  private unsubscribe: (() => void)[] = [];
  private inputs: RoutingInputs | undefined;
  private lastLinks: ReadonlySet<string> | undefined;
  private originated = new Map<string, string>();
  private plan: RoutingPlan | undefined;
  private report: ReconcileReport | undefined;
  private reportedAt = '';
  private failures = new Map<string, string>();
  private waitingLogged = new Set<string>();
  private restartingValue = false;
  private convergedValue = true;
  private convergenceTimer: NodeJS.Timeout | undefined;
  private scanTimer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly convergedListeners = new Set<() => void>();
  private readonly grace: RouteCleanupGrace;

  constructor(private readonly opts: RouteManagerOptions) {
    this.grace = new RouteCleanupGrace(opts.routeCleanupGraceMs ?? DEFAULT_ROUTE_CLEANUP_GRACE_MS, opts.now);
  }

  /**
   * Reads the table. Tabby routes already there mean the agent restarted: the speaker should
   * announce a graceful restart with forwarding preserved, and nothing is pruned until
   * convergence. Throws when the table cannot be read at all.
   */
  async start(): Promise<{ restarting: boolean }> {
    const dp = this.opts.dataplane;
    if (dp) {
      const existing = await dp.list();
      this.lastLinks = await dp.links();
      this.restartingValue = existing.length > 0;
      this.convergedValue = !this.restartingValue;
      if (this.restartingValue) {
        this.opts.logger.info(
          { routes: existing.length, waitMs: this.opts.convergenceTimeoutMs },
          'Tabby routes found in the table: restarting gracefully, keeping them until BGP has converged',
        );
        this.convergenceTimer = setTimeout(() => this.markConverged('convergence timeout'), this.opts.convergenceTimeoutMs);
        this.convergenceTimer.unref();
      }
      this.scanTimer = setInterval(() => this.schedule(0), this.opts.scanIntervalMs);
      this.scanTimer.unref();
    }
    return { restarting: this.restartingValue };
  }

  /** True while stale routes are kept after a restart. */
  get converging(): boolean {
    return !this.convergedValue;
  }

  /** Called when BGP has converged after a restart (never when {@link start} found no routes). */
  onConverged(listener: () => void): void {
    this.convergedListeners.add(listener);
  }

  /** Follows a (new) speaker: its best-path changes and peer states. */
  attach(speaker: SpeakerApi | undefined): void {
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    this.speaker = speaker;
    this.originated = new Map();
    if (speaker) {
      this.unsubscribe.push(
        speaker.onBestChange(() => this.schedule()),
        speaker.onPeerStatus(() => this.checkConvergence()),
      );
    }
    this.schedule();
  }

  /**
   * New blocks, workloads or pools from the node's configuration. Originations change at
   * once (with the interfaces last seen), before the agent adds any peer: a session that
   * comes up right after a restart gets the node's routes before its End-of-RIB, so the
   * peer never withdraws them (RFC 4724 §4.1). The kernel follows shortly.
   */
  setInputs(inputs: RoutingInputs): void {
    this.inputs = inputs;
    const speaker = this.speaker;
    if (speaker) this.originate(speaker, this.computePlan(inputs, speaker, this.lastLinks));
    this.schedule();
  }

  private computePlan(inputs: RoutingInputs, speaker: SpeakerApi | undefined, links: ReadonlySet<string> | undefined): RoutingPlan {
    const rib = speaker ? [...speaker.routes('ipv4-unicast'), ...speaker.routes('ipv6-unicast')] : [];
    return planRoutes({ ...inputs, rib, links: this.opts.dataplane ? (links ?? new Set()) : undefined, ownAddresses: this.opts.ownAddresses });
  }

  /**
   * Converged when the node's configuration is known and every peer the speaker has is
   * Established, with an End-of-RIB received for each of its families from every peer that
   * advertised graceful restart (RFC 4724 §4.1: one that did not may never send one). A peer
   * that does not come back is waited for until the convergence timeout. The agent calls it
   * once it has given the speaker the configuration's peers; peer state changes call it too.
   */
  checkConvergence(): void {
    if (this.convergedValue || !this.inputs || !this.speaker) return;
    const peers = this.speaker.peers();
    const done = (p: PeerStatus): boolean => p.state === 'Established' && (!p.peerGracefulRestart || p.families.every((f) => p.endOfRibReceived.includes(f)));
    if (peers.every(done)) this.markConverged(`End-of-RIB from ${peers.length} peer(s)`);
  }

  private markConverged(why: string): void {
    if (this.convergedValue || this.stopped) return;
    this.convergedValue = true;
    clearTimeout(this.convergenceTimer);
    this.opts.logger.info({ why }, 'BGP converged after the restart: stale routes are removed from now on');
    for (const l of this.convergedListeners) l();
    this.schedule(0);
  }

  /** Runs a reconcile soon; several requests in a row make one. */
  schedule(delayMs = this.opts.debounceMs ?? 50): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.debounce && delayMs > 0) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      this.running = this.run().finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.schedule();
        }
      });
    }, delayMs);
  }

  /** Waits for the current and any requested reconcile to finish (tests, stop). */
  async settle(): Promise<void> {
    for (;;) {
      if (this.debounce) await new Promise((r) => setTimeout(r, 5));
      else if (this.running) await this.running;
      else return;
    }
  }

  private async run(): Promise<void> {
    const inputs = this.inputs;
    // Before the first configuration there is nothing to compare with: change nothing.
    if (!inputs) return;
    const speaker = this.speaker;
    const dp = this.opts.dataplane;
    if (dp) this.lastLinks = (await dp.links().catch(() => undefined)) ?? this.lastLinks;
    const plan = this.computePlan(inputs, speaker, this.lastLinks);
    this.plan = plan;
    if (speaker) this.originate(speaker, plan);
    for (const w of plan.waitingForInterface) {
      if (this.waitingLogged.has(w)) continue;
      this.opts.logger.info({ workload: w }, 'workload route waits for its interface');
    }
    this.waitingLogged = new Set(plan.waitingForInterface);
    if (!dp) {
      this.opts.onChange?.();
      return;
    }
    let report: ReconcileReport;
    // Routes to workload interfaces the agent has not learned (yet) stay for the grace period.
    const spare = this.grace.begin(plan.kernel, this.lastLinks ?? new Set());
    try {
      report = await dp.reconcile(plan.kernel, { prune: this.convergedValue, spare });
    } catch (err) {
      this.opts.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'cannot read the routing table; retrying at the next scan');
      return;
    }
    this.noteGrace(this.grace.end());
    this.report = report;
    this.reportedAt = new Date().toISOString();
    this.noteFailures(report.failed);
    if (report.added + report.changed + report.removed > 0)
      this.opts.logger.info(
        {
          added: report.added,
          changed: report.changed,
          removed: report.removed,
          unchanged: report.unchanged,
          failed: report.failed.length,
          ms: report.ms,
          pruned: this.convergedValue,
          spared: this.grace.pending().size,
        },
        'routing table updated',
      );
    this.opts.onChange?.();
  }

  private noteGrace(round: GraceRound): void {
    const log = this.opts.logger;
    const graceS = this.grace.graceMs / 1000;
    for (const route of round.spared) log.info({ route, graceS }, 'a route to a workload interface the agent does not know (yet): left in place for the grace period');
    for (const route of round.adopted) log.debug({ route }, 'route to a workload learned since: adopted as it is');
    for (const route of round.expired) log.info({ route, graceS }, 'a route to a workload interface still unknown after the grace period: removed');
    for (const route of round.interfaceGone) log.info({ route }, 'a route to a workload interface that is gone: removed');
  }

  /** Routes to workload interfaces the agent does not know, left in place now, and for how long (ms). */
  sparedRoutes(): ReadonlyMap<string, number> {
    return this.grace.pending();
  }

  private noteFailures(failures: readonly RouteFailure[]): void {
    const next = new Map(failures.map((f) => [f.prefix, f.error]));
    for (const [prefix, error] of next) {
      if (this.failures.get(prefix) !== error) this.opts.logger.warn({ prefix, error }, 'the kernel refused a route; keeping the others and retrying at every scan');
    }
    for (const prefix of this.failures.keys()) if (!next.has(prefix)) this.opts.logger.info({ prefix }, 'route programmed after earlier failures');
    this.failures = next;
  }

  private originate(speaker: SpeakerApi, plan: RoutingPlan): void {
    const communities = parseCommunities(this.inputs?.communities ?? []);
    const devs = new Map<string, string>();
    for (const r of plan.kernel) if (r.type === 'unicast' && r.nextHops.length === 1 && r.nextHops[0]?.dev && !r.nextHops[0].via) devs.set(r.prefix, r.nextHops[0].dev);
    const next = new Map<string, string>();
    const attrsOf = new Map<string, LocalRouteAttributes>();
    for (const p of plan.originate) {
      const attrs = originAttributes(p, communities, devs.get(p));
      attrsOf.set(p, attrs);
      next.set(p, JSON.stringify(attrs));
    }
    for (const p of this.originated.keys()) if (!next.has(p)) speaker.withdraw(familyOf(p), p);
    // New prefixes, and prefixes whose communities changed (re-announced in place).
    for (const [p, key] of next) if (this.originated.get(p) !== key) speaker.announce(familyOf(p), p, attrsOf.get(p));
    this.originated = next;
  }

  /** Prefixes originated now. */
  originatedPrefixes(): ReadonlySet<string> {
    return new Set(this.originated.keys());
  }

  /** The last plan (tests, status). */
  lastPlan(): RoutingPlan | undefined {
    return this.plan;
  }

  /** The routes section of the NodeStatus; undefined without a data plane. */
  status(): RoutingStatus | undefined {
    const dp = this.opts.dataplane;
    if (!dp) return undefined;
    const plan = this.plan;
    const r = this.report;
    return {
      dataplane: dp.description,
      programmed: r && plan ? plan.kernel.length - this.failures.size : 0,
      blackholes: plan?.counts.blackholes ?? 0,
      workloads: plan?.counts.workloads ?? 0,
      remote: plan?.counts.remote ?? 0,
      lastReconcileTime: this.reportedAt,
      failures: [...this.failures].map(([prefix, error]) => ({ prefix, error })),
      waitingForInterface: [...(plan?.waitingForInterface ?? [])],
      converging: !this.convergedValue,
      borrowed: [...(plan?.borrowed ?? [])],
    };
  }

  /** Stops scanning. The routes stay in the table (BIRD's `persist`). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.debounce);
    this.debounce = undefined;
    clearInterval(this.scanTimer);
    clearTimeout(this.convergenceTimer);
    for (const u of this.unsubscribe) u();
    await this.running;
    await this.opts.dataplane?.close();
  }
}
