import { status } from '@grpc/grpc-js';
import { cidrContains, metaOf, parseCIDR, parseIP } from '@tabby/api';
import type { ResourceStoreClient } from '@tabby/proto';
import { callUnary, isGrpcError, type Logger } from '@tabby/runtime';
import type { Allocation } from './engine.js';
import type { GcAddressReason, GcBlockReason, GcMetrics } from './gc-metrics.js';
import type { ClusterView, PoolInfo } from './pools.js';
import { GC_OWNER_SUFFIX, type IntentRecord, type IpamStorage } from './storage.js';

const STORE_TIMEOUT_MS = 30_000;
/** Blocks per transaction when releasing empty blocks (an etcd transaction holds at most 128 operations). */
const BLOCK_CHUNK = 32;
/** Handles claimed or released at once (SQLite commits them in groups; etcd runs them as separate transactions). */
const CONCURRENCY = 32;

/** Runs `fn` over `items`, at most `limit` at a time; rejects with the first failure once all have settled. */
async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const failures: unknown[] = [];
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next++];
        await fn(item).catch((err: unknown) => failures.push(err));
      }
    }),
  );
  if (failures.length > 0) throw failures[0];
}

/** Calico's tunnel address handles: `ipip-tunnel-addr-<node>`, `vxlan-tunnel-addr-<node>`, `wireguard-tunnel-addr-<node>` (and the v6 ones). */
const TUNNEL_HANDLE = /^(?:ipip|vxlan|vxlan-v6|wireguard|wireguard-v6)-tunnel-addr-(.+)$/;

/** The node a tunnel address handle belongs to, or undefined when `handle` is not a tunnel address's. */
export function tunnelNodeOf(handle: string): string | undefined {
  return TUNNEL_HANDLE.exec(handle)?.[1];
}

export interface GarbageCollectorOptions {
  readonly storage: IpamStorage;
  readonly view: ClusterView;
  readonly store: ResourceStoreClient;
  readonly logger: Logger;
  readonly metrics: GcMetrics;
  /** This process's instance id (`Workloads.instanceId`); claims are made as `<id>:gc`. */
  readonly instanceId: string;
  /** How long an allocation's WorkloadEndpoint must have been seen gone before it is released. */
  readonly leakGraceMs: number;
  /** Time between passes (each spread by ±10 % so replicas drift apart). */
  readonly intervalMs: number;
  readonly now?: () => number;
  /** True while the collector must not write (the datastore is locked for a migration): passes are skipped. */
  readonly paused?: () => boolean;
}

/** What one pass released. */
export interface GcPassResult {
  readonly addresses: number;
  readonly blocks: number;
  /** Allocations whose endpoint is gone, still within the grace period. */
  readonly leakCandidates: number;
}

/** A WorkloadEndpoint as the collector needs it. */
interface EndpointRef {
  readonly namespace: string;
  readonly name: string;
  readonly workload: string;
  readonly containerId: string;
  readonly node: string;
  readonly resourceVersion: string;
}

interface Endpoints {
  readonly byAddress: Map<string, EndpointRef[]>;
  readonly byWorkload: Map<string, EndpointRef[]>;
}

/** How the endpoints use a handle's addresses: `live` (an endpoint on an existing node), `stale` (only endpoints on deleted nodes) or `none`. */
type Use = { readonly kind: 'live' } | { readonly kind: 'stale'; readonly endpoints: EndpointRef[] } | { readonly kind: 'none' };

interface Plan {
  readonly handle: string;
  readonly allocations: Allocation[];
  readonly reason: GcAddressReason;
  /** The key of the allocations judged: a release goes ahead only if they are still exactly these. */
  readonly key: string;
}

const workloadKey = (namespace: string, workload: string): string => `${namespace}/${workload}`;

function keyOf(allocations: readonly Allocation[]): string {
  return allocations
    .map((a) => `${a.address}@${a.createdAt}`)
    .sort()
    .join(',');
}

/**
 * Garbage collection of IPAM, as Calico's kube-controllers do it, run inside tabby-ipam:
 * - a deleted Node: its workloads' addresses (unless an endpoint on an existing node uses them;
 *   endpoints left on the deleted node are deleted with them, as Kubernetes' pod GC does), its
 *   tunnel addresses (`ipip-tunnel-addr-<node>`, …) and its block affinities (empty blocks go,
 *   the others stay without affinity, Calico §5.4) are released;
 * - a workload's allocation whose WorkloadEndpoint has been gone for the grace period is released;
 * - empty blocks of disabled or deleted pools are released.
 * Never released: an address a WorkloadEndpoint on an existing node holds, the tunnel address of an
 * existing node, a handle with a workload change in flight (an intent), an allocation without a
 * workload identity on an existing node (GC cannot tell what uses it).
 *
 * Several replicas may collect at once (there is no leader): a workload handle is first claimed
 * through the intent journal in one compare-and-swap transaction (a claim exists only if no intent
 * did, and workload adds of that handle conflict while it stands), then the endpoints are listed
 * again, then the handle is released only if the claim is still this collector's. Every other
 * release re-checks in its own transaction (address still the handle's, block still empty, block
 * still affine), so a second replica finds nothing left and counts nothing.
 */
export class GarbageCollector {
  private readonly owner: string;
  private readonly now: () => number;
  /** Allocations (by {@link keyOf} and handle) whose endpoint is gone → when that was first seen. */
  private readonly firstSeenLeaked = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private due = 0;
  private running: Promise<GcPassResult> | undefined;
  private rerun = false;
  private noNodes = false;
  private warnedNoNodes = false;
  private stopped = false;

  constructor(private readonly opts: GarbageCollectorOptions) {
    this.owner = `${opts.instanceId}${GC_OWNER_SUFFIX}`;
    this.now = opts.now ?? Date.now;
  }

  /** Runs passes every `intervalMs` (the first one right away). */
  start(): void {
    this.schedule(0);
  }

  /** Runs a pass soon (a Node was deleted), coalescing triggers that come close together. */
  trigger(delayMs = 500): void {
    this.schedule(delayMs);
  }

  /** Stops the timer and waits for a pass under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined); // its failure was logged and counted
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    const due = Date.now() + delayMs;
    if (this.timer && this.due <= due) return; // an earlier pass is already due
    clearTimeout(this.timer);
    this.due = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.runOnce()
        .catch(() => undefined) // logged and counted by timedPass
        .finally(() => this.schedule(this.opts.intervalMs * (0.9 + Math.random() * 0.2)));
    }, delayMs);
    this.timer.unref();
  }

  /**
   * One pass; a call while one is under way returns it and makes another follow it (what changed
   * meanwhile is seen). Rejects when the pass failed; what it released by then stays released.
   */
  runOnce(): Promise<GcPassResult> {
    if (this.running) {
      this.rerun = true;
      return this.running;
    }
    this.running = this.timedPass().finally(() => {
      this.running = undefined;
      if (this.rerun) {
        this.rerun = false;
        this.schedule(0);
      }
    });
    return this.running;
  }

  private async timedPass(): Promise<GcPassResult> {
    const started = performance.now();
    try {
      const r = await this.pass();
      this.opts.metrics.passes.inc({ outcome: 'ok' });
      const seconds = (performance.now() - started) / 1000;
      const level = r.addresses + r.blocks > 0 ? 'info' : 'debug';
      this.opts.logger[level]({ ...r, seconds: Number(seconds.toFixed(3)) }, 'gc pass done');
      return r;
    } catch (err) {
      this.opts.metrics.passes.inc({ outcome: 'failed' });
      this.opts.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'gc pass failed; nothing more released until the next pass');
      throw err;
    } finally {
      this.opts.metrics.passSeconds.observe((performance.now() - started) / 1000);
    }
  }

  private async pass(): Promise<GcPassResult> {
    const { storage, view } = this.opts;
    if (this.opts.paused?.()) {
      this.opts.logger.debug('gc pass skipped: the datastore is locked for a migration');
      return { addresses: 0, blocks: 0, leakCandidates: this.firstSeenLeaked.size };
    }
    // Claims a failed pass of this process left behind (its dropIntent failed) would block their handles.
    for (const i of storage.intents()) if (i.owner === this.owner) await storage.dropIntent(i.handle, this.owner);

    const endpoints = await this.listEndpoints();
    const nodes = new Set(view.nodeNames());
    // A store without a single Node is more likely the wrong store (or one being imported) than a
    // cluster whose every node was deleted: no address is collected then (only empty blocks).
    this.noNodes = nodes.size === 0;
    if (this.noNodes && !this.warnedNoNodes) this.opts.logger.warn('gc: the store has no Node at all (the wrong --store?); no address or node block is collected until it has one');
    this.warnedNoNodes = this.noNodes;
    const busy = new Set(storage.intents().map((i) => i.handle));
    const byHandle = new Map<string, Allocation[]>();
    for (const a of storage.allocations()) {
      const list = byHandle.get(a.handle);
      if (list) list.push(a);
      else byHandle.set(a.handle, [a]);
    }

    const now = this.now();
    const candidates = new Set<string>();
    const workloadPlans: Plan[] = [];
    const otherPlans: Plan[] = [];
    for (const [handle, allocations] of this.noNodes ? [] : byHandle) {
      if (busy.has(handle)) continue; // a workload change in flight (or interrupted: recovery's)
      const key = keyOf(allocations);
      const tunnelNode = tunnelNodeOf(handle);
      if (tunnelNode !== undefined) {
        if (!nodes.has(tunnelNode) && this.use(allocations, endpoints, nodes).kind !== 'live') otherPlans.push({ handle, allocations, reason: 'tunnel-node-deleted', key });
        continue;
      }
      const use = this.use(allocations, endpoints, nodes);
      if (use.kind === 'live') continue;
      const identified = identityOf(allocations[0]) !== undefined;
      if (nodeGone(allocations, nodes)) {
        (identified ? workloadPlans : otherPlans).push({ handle, allocations, reason: 'node-deleted', key });
        continue;
      }
      // An existing node's: only a workload's allocation can be told leaked, and only with no endpoint at all.
      if (!identified || use.kind !== 'none') continue;
      const leakKey = `${handle} ${key}`;
      candidates.add(leakKey);
      const first = this.firstSeenLeaked.get(leakKey) ?? now;
      this.firstSeenLeaked.set(leakKey, first);
      if (now - first >= this.opts.leakGraceMs) workloadPlans.push({ handle, allocations, reason: 'leaked', key });
    }
    for (const k of this.firstSeenLeaked.keys()) if (!candidates.has(k)) this.firstSeenLeaked.delete(k);

    let addresses = await this.releaseWorkloads(workloadPlans);
    addresses += await this.releaseOthers(otherPlans);
    for (const p of workloadPlans) this.firstSeenLeaked.delete(`${p.handle} ${p.key}`);
    const blocks = (this.noNodes ? 0 : await this.releaseDeadNodeBlocks()) + (await this.releasePoolBlocks());
    const waiting = [...this.firstSeenLeaked.keys()].length;
    this.opts.metrics.leakCandidates.set(waiting);
    return { addresses, blocks, leakCandidates: waiting };
  }

  // ---- in use ----

  /** How the endpoints use these allocations (by address, or as the same workload and container). */
  private use(allocations: readonly Allocation[], endpoints: Endpoints, nodes: ReadonlySet<string>): Use {
    const users: EndpointRef[] = [];
    for (const a of allocations) {
      users.push(...(endpoints.byAddress.get(a.address) ?? []));
      const id = identityOf(a);
      if (!id) continue;
      for (const e of endpoints.byWorkload.get(workloadKey(id.namespace, id.workload)) ?? []) {
        // A new container of the pod with its own handle does not keep the old container's addresses.
        if (e.containerId === '' || id.containerId === '' || e.containerId === id.containerId) users.push(e);
      }
    }
    if (users.length === 0) return { kind: 'none' };
    // An endpoint without a node, or on an existing one, is live.
    if (users.some((e) => e.node === '' || nodes.has(e.node))) return { kind: 'live' };
    return { kind: 'stale', endpoints: [...new Map(users.map((e) => [`${e.namespace}/${e.name}`, e])).values()] };
  }

  private async listEndpoints(): Promise<Endpoints> {
    const store = this.opts.store;
    let list;
    try {
      list = await callUnary(store.list.bind(store), { kind: 'WorkloadEndpoint', namespace: '', labelSelector: '' }, { timeoutMs: STORE_TIMEOUT_MS });
    } catch (err) {
      throw new Error(`cannot list WorkloadEndpoints from the store: ${isGrpcError(err) ? err.details : String(err)}`, { cause: err });
    }
    const byAddress = new Map<string, EndpointRef[]>();
    const byWorkload = new Map<string, EndpointRef[]>();
    const add = (m: Map<string, EndpointRef[]>, k: string, e: EndpointRef): void => {
      const l = m.get(k);
      if (l) l.push(e);
      else m.set(k, [e]);
    };
    for (const r of list.items) {
      if (r.kind?.$case !== 'workloadEndpoint') continue;
      const spec = r.kind.value.spec;
      const meta = metaOf(r);
      const e: EndpointRef = {
        namespace: meta.namespace,
        name: meta.name,
        workload: spec?.pod || spec?.workload || '',
        containerId: spec?.containerID ?? '',
        node: spec?.node ?? '',
        resourceVersion: meta.resourceVersion,
      };
      if (e.workload) add(byWorkload, workloadKey(e.namespace, e.workload), e);
      for (const net of spec?.ipNetworks ?? []) {
        const ip = parseIP(net.replace(/\/\d+$/, ''));
        if (ip) add(byAddress, ip.text, e);
      }
    }
    return { byAddress, byWorkload };
  }

  // ---- releases ----

  /** Workload handles: claim each, list the endpoints again, release those still unused while the claim stands. */
  private async releaseWorkloads(plans: readonly Plan[]): Promise<number> {
    const { storage } = this.opts;
    const claimed: Plan[] = [];
    await forEachLimit(plans, CONCURRENCY, async (p) => {
      const a = p.allocations[0];
      const id = identityOf(a);
      const claim: IntentRecord = {
        handle: p.handle,
        op: 'delete',
        namespace: id?.namespace ?? '',
        name: id?.workload ?? '',
        node: a.node,
        owner: this.owner,
        createdAt: this.now(),
        containerId: id?.containerId ?? '',
        endpoint: a.attributes.endpoint ?? '',
      };
      if (await storage.claimHandle(claim)) claimed.push(p);
    });
    if (claimed.length === 0) return 0;
    let released = 0;
    try {
      // The re-check: endpoints written before a claim are in this list; none can be added with the handle's addresses after it.
      const endpoints = await this.listEndpoints();
      const nodes = new Set(this.opts.view.nodeNames());
      await forEachLimit(claimed, CONCURRENCY, async (p) => {
        const current = storage.allocationsOfHandle(p.handle);
        const use = this.use(current, endpoints, nodes);
        const still = keyOf(current) === p.key && use.kind !== 'live' && (p.reason === 'leaked' ? use.kind === 'none' && !nodeGone(current, nodes) : nodeGone(current, nodes));
        if (!still) {
          this.opts.logger.info({ handle: p.handle, reason: p.reason }, 'gc: handle in use again at the re-check; kept');
          await storage.dropIntent(p.handle, this.owner);
          return;
        }
        if (use.kind === 'stale' && !(await this.deleteStaleEndpoints(use.endpoints))) {
          await storage.dropIntent(p.handle, this.owner);
          return;
        }
        const addresses = await storage.releaseByHandle(p.handle, { owner: this.owner, onlyIfOwner: true });
        for (const address of addresses) this.logRelease(address, p, current);
        released += addresses.length;
        this.opts.metrics.released.inc({ reason: p.reason }, addresses.length);
      });
    } finally {
      // A claim left by a failure above is dropped (and the next pass drops any this misses).
      for (const p of claimed) {
        if (storage.intents().some((i) => i.handle === p.handle && i.owner === this.owner)) {
          await storage.dropIntent(p.handle, this.owner).catch((err: unknown) => this.opts.logger.warn({ err, handle: p.handle }, 'gc: cannot drop a claim; the next pass will'));
        }
      }
    }
    return released;
  }

  /**
   * Deletes the endpoints a deleted node left behind (as Kubernetes' pod GC deletes the pods of a
   * deleted node), each only if unchanged since listed. False when one was rewritten meanwhile.
   */
  private async deleteStaleEndpoints(endpoints: readonly EndpointRef[]): Promise<boolean> {
    const store = this.opts.store;
    for (const e of endpoints) {
      try {
        await callUnary(
          store.delete.bind(store),
          { kind: 'WorkloadEndpoint', namespace: e.namespace, name: e.name, resourceVersion: e.resourceVersion, force: false },
          { timeoutMs: STORE_TIMEOUT_MS },
        );
        this.opts.logger.info({ endpoint: `${e.namespace}/${e.name}`, node: e.node, reason: 'node-deleted' }, 'gc deleted a WorkloadEndpoint of a deleted node');
      } catch (err) {
        if (isGrpcError(err) && err.code === status.NOT_FOUND) continue;
        if (isGrpcError(err) && err.code === status.FAILED_PRECONDITION) return false;
        throw err;
      }
    }
    return true;
  }

  /** Tunnel addresses and other allocations of deleted nodes: the node is checked again right before each release. */
  private async releaseOthers(plans: readonly Plan[]): Promise<number> {
    let released = 0;
    for (const p of plans) {
      const nodes = new Set(this.opts.view.nodeNames());
      const tunnelNode = tunnelNodeOf(p.handle);
      if (tunnelNode !== undefined ? nodes.has(tunnelNode) : !nodeGone(p.allocations, nodes)) continue;
      // Released only while still this handle's (the transaction checks it).
      const r = await this.opts.storage.releaseIPs(
        p.allocations.map((a) => a.address),
        p.handle,
      );
      for (const address of r.released) this.logRelease(address, p, p.allocations);
      released += r.released.length;
      this.opts.metrics.released.inc({ reason: p.reason }, r.released.length);
    }
    return released;
  }

  private logRelease(address: string, p: Plan, allocations: readonly Allocation[]): void {
    const a = allocations.find((x) => x.address === address);
    const id = a ? identityOf(a) : undefined;
    this.opts.logger.info(
      { address, handle: p.handle, node: a?.node ?? '', reason: p.reason, ...(id ? { workload: workloadKey(id.namespace, id.workload) } : {}) },
      'gc released an address',
    );
  }

  /** Block affinities of nodes that no longer exist (empty blocks go, the others lose their affinity). */
  private async releaseDeadNodeBlocks(): Promise<number> {
    const { storage, view } = this.opts;
    const nodes = new Set(view.nodeNames());
    const before = new Map(storage.blocks().map((b) => [b.cidr, b]));
    const dead = new Set<string>();
    for (const b of before.values()) if (b.node !== null && !nodes.has(b.node)) dead.add(b.node);
    let n = 0;
    for (const node of dead) {
      if (view.nodeLabels(node) !== undefined) continue; // re-created meanwhile
      const cidrs = await storage.releaseNodeAffinities(node);
      for (const cidr of cidrs) {
        const b = before.get(cidr);
        this.logBlock(cidr, node, 'node-deleted', b?.inUse ?? 0);
      }
      n += cidrs.length;
      this.opts.metrics.blocksReleased.inc({ reason: 'node-deleted' }, cidrs.length);
    }
    return n;
  }

  /** Empty blocks of disabled or deleted pools. */
  private async releasePoolBlocks(): Promise<number> {
    const pools = this.opts.view.pools();
    const wanted = new Map<string, { reason: GcBlockReason; node: string | null }>();
    for (const b of this.opts.storage.blocks()) {
      if (b.inUse !== 0) continue;
      const reason = poolReason(b.cidr, pools);
      if (reason) wanted.set(b.cidr, { reason, node: b.node });
    }
    const cidrs = [...wanted.keys()];
    let n = 0;
    for (let i = 0; i < cidrs.length; i += BLOCK_CHUNK) {
      // The pools again, right before: a pool enabled meanwhile keeps its blocks.
      const now = this.opts.view.pools();
      const chunk = cidrs.slice(i, i + BLOCK_CHUNK).filter((c) => poolReason(c, now) !== undefined);
      if (chunk.length === 0) continue;
      for (const cidr of await this.opts.storage.releaseEmptyBlocks(chunk)) {
        const w = wanted.get(cidr);
        if (!w) continue;
        this.logBlock(cidr, w.node, w.reason, 0);
        this.opts.metrics.blocksReleased.inc({ reason: w.reason });
        n++;
      }
    }
    return n;
  }

  private logBlock(block: string, node: string | null, reason: GcBlockReason, inUse: number): void {
    this.opts.logger.info({ block, node, reason, action: inUse === 0 ? 'deleted' : 'affinity-removed', inUse }, 'gc released a block');
  }
}

/** The workload an allocation was made for (its `namespace` and `pod` attributes), if any. */
function identityOf(a: Allocation): { namespace: string; workload: string; containerId: string } | undefined {
  const { namespace, pod } = a.attributes;
  if (!namespace || !pod) return undefined;
  return { namespace, workload: pod, containerId: a.attributes.containerID ?? '' };
}

/** True when every node the allocations name is gone (false when none names a node). */
function nodeGone(allocations: readonly Allocation[], nodes: ReadonlySet<string>): boolean {
  const named = allocations.map((a) => a.node).filter((n) => n !== '');
  return named.length > 0 && named.every((n) => !nodes.has(n));
}

/** Why a block's pool lets its empty blocks go: `pool-deleted` (no pool holds it), `pool-disabled`, or undefined. */
function poolReason(blockCidr: string, pools: readonly PoolInfo[]): GcBlockReason | undefined {
  const c = parseCIDR(blockCidr);
  if (!c) return undefined;
  const pool = pools.find((p) => cidrContains(p.cidr, c.address) && p.cidr.prefix <= c.prefix);
  if (!pool) return 'pool-deleted';
  return pool.disabled ? 'pool-disabled' : undefined;
}
