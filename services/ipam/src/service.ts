import { cidrSize, parseCIDR } from '@tabby/api';
import type { Block, IpamServer, PoolUtilization, ReadFreshness, ResourceStoreClient } from '@tabby/proto';
import { ServiceError, callUnary, type AsyncServiceImplementation } from '@tabby/runtime';
import type { BlockLog } from './block-watch.js';
import { runCheck } from './check.js';
import { releaseLeaked } from './release-report.js';
import type { BlockChange, BlockRow } from './engine.js';
import type { IpamMetrics } from './ipam-metrics.js';
import type { ClusterView } from './pools.js';
import type { IpamStorage } from './storage.js';
import type { Workloads } from './workloads.js';

export interface IpamServiceDeps {
  readonly storage: IpamStorage;
  readonly view: ClusterView;
  readonly store: ResourceStoreClient;
  readonly workloads: Workloads;
  readonly metrics: IpamMetrics;
  readonly leakGraceMs: number;
  /** What WatchBlocks streams. */
  readonly blockLog: BlockLog;
  /** Resolves once the store has been listed; calls wait for it. */
  readonly ready?: Promise<void>;
  /**
   * Waits (boundedly) for the pool finalizer writes that the given block changes made
   * necessary: those of the pools whose first block they claimed or last block they released.
   * Calls that change blocks answer only after it, so a caller that got an address knows its
   * pool cannot be deleted without --force, and one that released a pool's last address can
   * delete the pool right away (whenever the store answers in time).
   */
  readonly finalizersWritten?: (changes: readonly BlockChange[]) => Promise<void>;
  /** The storage without the migration lock's guard (ReleaseLeaked runs under the lock); default `storage`. */
  readonly unguardedStorage?: IpamStorage;
  /** True while the datastore is locked for a migration; default never. */
  readonly locked?: () => boolean;
}

/** The calls that may claim or release blocks. */
const BLOCK_WRITERS = new Set(['autoAssign', 'assignIp', 'releaseIPs', 'releaseByHandle', 'workloadAdd', 'workloadDelete', 'check', 'releaseLeaked']);

/** The proto Block of a stored block; `pool` is the name of the pool containing it now. */
export function toProtoBlock(b: BlockRow, view: ClusterView, borrowed = 0): Block {
  const pool = view.pools().find((p) => p.cidr.canonical === b.poolCidr);
  return { cidr: b.cidr, node: b.node ?? '', pool: pool?.name ?? '', size: b.size, inUse: b.inUse, borrowed };
}

/** A handle prefix ListAllocations accepts: what a handle may hold (printable ASCII, no spaces). */
const HANDLE_PREFIX = /^[\x21-\x7e]{1,512}$/;

function countOf(n: number, field: string): number {
  if (!Number.isInteger(n) || n < 0) throw new ServiceError('invalid-argument', `${field} must be a non-negative integer`);
  return n;
}

/**
 * The gRPC Ipam service; every call first waits for `deps.ready`, and calls that change blocks
 * end with `deps.finalizersWritten` over the block changes they committed themselves.
 */
export function ipamService(deps: IpamServiceDeps): AsyncServiceImplementation<IpamServer> {
  const handlers = handlersOf(deps);
  const { ready, storage, finalizersWritten } = deps;
  if (!ready && !finalizersWritten) return handlers;
  const gated = {} as Record<string, unknown>;
  for (const [name, handler] of Object.entries(handlers) as [string, (req: unknown, call: unknown) => Promise<unknown>][]) {
    const written = BLOCK_WRITERS.has(name) ? finalizersWritten : undefined;
    gated[name] = async (req: unknown, call: unknown) => {
      await ready;
      if (!written) return handler(req, call);
      const changes: BlockChange[] = [];
      try {
        return await storage.collecting(changes, () => handler(req, call));
      } finally {
        // Also after a failure: a failed call may have claimed blocks (a partial workload add).
        await written(changes);
      }
    };
  }
  return gated as AsyncServiceImplementation<IpamServer>;
}

/** How long a call waits for this service's store follower to see a Node the store already holds. */
const NODE_CATCH_UP_MS = 5_000;

/**
 * A call naming a node the store follower has not seen: the Node may have been created a
 * moment ago (the store answers it; its watch event is still on the way here). Ask the store
 * itself, and when it holds the Node, wait (at most NODE_CATCH_UP_MS) for the follower to have
 * it too, so the call judges the node as the store does. A node the store does not hold
 * either (or a store that does not answer) falls through to the call's own NOT_FOUND.
 */
async function awaitNode(deps: IpamServiceDeps, node: string): Promise<void> {
  if (node === '' || deps.view.nodeLabels(node) !== undefined) return;
  try {
    await callUnary(deps.store.get.bind(deps.store), { kind: 'Node', namespace: '', name: node }, { timeoutMs: 2_000 });
  } catch {
    return;
  }
  const until = Date.now() + NODE_CATCH_UP_MS;
  while (deps.view.nodeLabels(node) === undefined && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
}

function handlersOf(deps: IpamServiceDeps): AsyncServiceImplementation<IpamServer> {
  const { storage, view, metrics } = deps;
  /** The freshness field of a read's answer: present only while the datastore cannot be followed. */
  const fresh = (): { freshness?: ReadFreshness } => {
    const f = storage.freshness();
    return f ? { freshness: f } : {};
  };
  return {
    autoAssign: async (req) => {
      await awaitNode(deps, req.node);
      const r = await storage.autoAssign({
        node: req.node,
        handle: req.handle,
        numIpv4: countOf(req.numIpv4, 'numIpv4'),
        numIpv6: countOf(req.numIpv6, 'numIpv6'),
        ipv4Pools: req.ipv4Pools,
        ipv6Pools: req.ipv6Pools,
        attributes: req.attributes,
        use: req.intendedUse,
        namespaceLabels: req.namespaceLabels,
      });
      if (!r.existing) metrics.assigned.inc(r.ipv4.length + r.ipv6.length);
      return { ipv4: r.ipv4, ipv6: r.ipv6, existing: r.existing };
    },
    assignIp: async (req) => {
      const address = await storage.assignIP(req.address, req.handle, req.node, req.attributes);
      metrics.assigned.inc();
      return { address };
    },
    releaseIPs: async (req) => {
      const r = await storage.releaseIPs(req.addresses, req.handle);
      metrics.released.inc(r.released.length);
      return r;
    },
    releaseByHandle: async (req) => {
      if (!req.handle) throw new ServiceError('invalid-argument', 'handle must be given');
      const released = await storage.releaseByHandle(req.handle);
      metrics.released.inc(released.length);
      return { released };
    },
    getAllocation: (req) => {
      const freshness = fresh();
      const a = storage.getAllocation(req.address);
      if (!a) return Promise.resolve({ allocated: false, address: req.address, handle: '', attributes: {}, block: '', blockNode: '', pool: '', borrowed: false, ...freshness });
      const pool = view.pools().find((p) => p.cidr.canonical === a.blockPoolCidr);
      return Promise.resolve({
        allocated: true,
        address: a.address,
        handle: a.handle,
        attributes: a.attributes,
        block: a.block,
        blockNode: a.blockNode ?? '',
        pool: pool?.name ?? '',
        borrowed: a.blockNode !== a.node,
        ...freshness,
      });
    },
    listBlocks: (req) => {
      const freshness = fresh();
      const revision = storage.blockRevision();
      const borrowed = storage.borrowedCounts();
      return Promise.resolve({ blocks: storage.blocks(req.node || undefined).map((b) => toProtoBlock(b, view, borrowed.get(b.cidr) ?? 0)), revision, ...freshness });
    },
    watchBlocks: (call, signal) => deps.blockLog.serve(call.request, call, signal),
    utilization: (req) => {
      const freshness = fresh();
      const blocks = storage.blocks();
      const borrowed = storage.borrowedCounts();
      const claimed = new Set<string>();
      const pools: PoolUtilization[] = view.pools().map((p) => {
        const mine = blocks.filter((b) => b.poolCidr === p.cidr.canonical);
        for (const b of mine) claimed.add(b.cidr);
        const total = cidrSize(p.cidr);
        const inUse = BigInt(mine.reduce((s, b) => s + b.inUse, 0));
        return {
          name: p.name,
          cidr: p.cidr.canonical,
          total: total.toString(),
          inUse: inUse.toString(),
          free: (total - inUse).toString(),
          disabled: p.disabled,
          blocks: req.includeBlocks ? mine.map((b) => toProtoBlock(b, view, borrowed.get(b.cidr) ?? 0)) : [],
        };
      });
      const orphanedBlocks = blocks.filter((b) => !claimed.has(b.cidr)).map((b) => toProtoBlock(b, view, borrowed.get(b.cidr) ?? 0));
      return Promise.resolve({ pools, orphanedBlocks, ...freshness });
    },
    check: async (req) => {
      const freshness = fresh();
      return { ...(await runCheck(req.repair, deps)), ...freshness };
    },
    releaseLeaked: async (req) => {
      const r = await releaseLeaked(req, { storage: deps.unguardedStorage ?? storage, store: deps.store, locked: deps.locked ?? (() => false) });
      metrics.released.inc(r.released.length);
      return r;
    },
    workloadAdd: async (req) => {
      await awaitNode(deps, req.node);
      const r = await deps.workloads.add({
        namespace: req.namespace,
        name: req.name,
        node: req.node,
        labels: req.labels,
        numIpv4: countOf(req.numIpv4, 'numIpv4'),
        numIpv6: countOf(req.numIpv6, 'numIpv6'),
        ipv4Pools: req.ipv4Pools,
        ipv6Pools: req.ipv6Pools,
        handle: req.handle,
        containerId: req.containerId,
        endpoint: req.endpoint,
        orchestrator: req.orchestrator,
        mac: req.mac,
        ipAddrs: req.ipAddrs,
        namespaceLabels: req.namespaceLabels,
      });
      if (!r.existing) metrics.workloadsAdded.inc();
      return r;
    },
    workloadDelete: async (req) => {
      const r = await deps.workloads.delete({ namespace: req.namespace, name: req.name, handle: req.handle, containerId: req.containerId, endpoint: req.endpoint });
      metrics.workloadsDeleted.inc();
      return r;
    },
    listAllocations: (req) => {
      if (req.handlePrefix !== '' && !HANDLE_PREFIX.test(req.handlePrefix)) {
        throw new ServiceError('invalid-argument', `handle prefix ${JSON.stringify(req.handlePrefix)} must be 1-512 printable ASCII characters without spaces`);
      }
      // The allocations first, then the journal: a change another ipam process commits in
      // between shows as pending (or is not listed at all), never as a settled allocation.
      const freshness = fresh();
      const listed = storage.allocationsMatching(req.node, req.handlePrefix);
      const pending = deps.workloads.pendingHandles();
      const allocations = listed.map((a) => ({ address: a.address, handle: a.handle, node: a.node, attributes: a.attributes, block: a.block, pending: pending.has(a.handle) }));
      return Promise.resolve({ allocations, ...freshness });
    },
    poolUsage: (req) => {
      let cidr = req.cidr ? parseCIDR(req.cidr)?.canonical : undefined;
      if (req.cidr && !cidr) throw new ServiceError('invalid-argument', `${req.cidr} is not a CIDR`);
      if (!cidr) {
        const pool = view.pools().find((p) => p.name === req.name);
        if (!pool) throw new ServiceError('not-found', `IPPool ${req.name} is not known to IPAM`);
        cidr = pool.cidr.canonical;
      }
      const freshness = fresh();
      const u = storage.poolUse(cidr);
      return Promise.resolve({ allocations: u.inUse, blocks: u.blocks, workloads: u.workloads.slice(0, 100), workloadCount: u.workloads.length, ...freshness });
    },
  };
}
