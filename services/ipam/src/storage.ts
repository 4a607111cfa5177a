import { hostname } from 'node:os';
import type { ReadFreshness } from '@tabby/proto';
import type { Allocation, AssignRequest, AssignResult, BlockChange, BlockRow } from './engine.js';

/** The datastores tabby-ipam keeps blocks, affinities and handles in. */
export const DATASTORES = ['sqlite', 'etcd'] as const;
export type Datastore = (typeof DATASTORES)[number];

/** A workload add or delete in progress (the journal that makes the two-store change safe). */
export interface IntentRecord {
  readonly handle: string;
  readonly op: 'add' | 'delete';
  readonly namespace: string;
  readonly name: string;
  readonly node: string;
  /** The ipam process doing it ({@link IpamStorage.register}). */
  readonly owner: string;
  readonly createdAt: number;
  readonly containerId: string;
  readonly endpoint: string;
}

/**
 * What the IPAM service needs of its datastore: Calico's blocks, affinities and handles, and
 * the workload journal. Reads answer from what this process knows now (SQLite: the file;
 * etcd: a copy kept by a watch, updated by this process's own commits before they are
 * acknowledged). Every write is atomic and durable before its promise resolves, and the block
 * changes it made reach the commit listener and the sinks of {@link collecting}. Several
 * tabby-ipam processes may write one datastore at once: no address is ever handed out twice.
 */
export interface IpamStorage {
  readonly datastore: Datastore;

  /** Registers this process as a live owner of intents (kept alive until {@link close}). */
  register(instanceId: string): Promise<void>;
  /** Stops writing; pending writes finish first. */
  close(): Promise<void>;
  /** Runs `fn`; block changes committed by writes it starts are appended to `sink`. */
  collecting<T>(sink: BlockChange[], fn: () => Promise<T>): Promise<T>;

  // ---- reads ----
  /**
   * Undefined while reads are current; stale (with the revision held, since when, and why)
   * while the copy reads answer from no longer follows the datastore (etcd unreachable).
   */
  freshness(): ReadFreshness | undefined;
  /** Revision of the last block change known. */
  blockRevision(): number;
  blocks(node?: string): BlockRow[];
  borrowedCounts(): Map<string, number>;
  poolCounts(poolCidr: string): { inUse: number; blocks: number };
  /**
   * The blocks of a pool, counted up to `atMost` (more count as `atMost`): whether a pool has
   * none, one or a few blocks, at a cost that does not grow with the pool (poolCounts reads
   * every block of it).
   */
  poolBlocks(poolCidr: string, atMost: number): number;
  poolUse(poolCidr: string): { inUse: number; blocks: number; workloads: string[] };
  getAllocation(address: string): Allocation | undefined;
  allocationsOfHandle(handle: string): Allocation[];
  allocations(): Allocation[];
  allocationsMatching(node: string, handlePrefix: string): Allocation[];
  /** Workload changes in progress or interrupted. */
  intents(): IntentRecord[];
  /** True when `owner` (an instance id) is no longer alive. */
  ownerDead(owner: string): boolean;

  // ---- writes ----
  /**
   * Calico's AutoAssign. With `intent`: in the same transaction, refuses (conflict) while a
   * live other owner has an intent for the handle, and records `intent`.
   */
  autoAssign(req: AssignRequest, intent?: IntentRecord): Promise<AssignResult>;
  assignIP(address: string, handle: string, node: string, attributes?: Readonly<Record<string, string>>): Promise<string>;
  releaseIPs(addresses: readonly string[], handle?: string): Promise<{ released: string[]; unallocated: string[] }>;
  /**
   * Releases a handle's addresses; with `dropIntent` also removes its intent (only `owner`'s
   * when given) in the same transaction. With `dropIntent.onlyIfOwner` nothing is released
   * (none returned) unless the handle's intent is still `owner`'s: recovery undoing a dead
   * process's add must not release what a retry on a live process has taken over meanwhile.
   */
  releaseByHandle(handle: string, dropIntent?: { owner?: string; onlyIfOwner?: boolean }): Promise<string[]>;
  releasePoolAffinities(poolCidr: string): Promise<number>;
  releaseNodeAffinities(node: string): Promise<string[]>;
  /**
   * Blocks carved from the pool `fromPoolCidr` (which no longer exists) that lie inside
   * `toPoolCidr` belong to that pool from now on, keeping their affinity and addresses
   * (`ipam split`). Returns how many moved. etcd: a block's pool is the pool containing it, so none.
   */
  adoptBlocks(fromPoolCidr: string, toPoolCidr: string): Promise<number>;
  putIntent(intent: IntentRecord): Promise<void>;
  /**
   * Removes the handle's intent (only `owner`'s when given). The one write that may resolve
   * before it is durable (SQLite: committed, not yet fsynced; it survives a crash of the
   * process, not a power failure): an intent that comes back is one of a dead owner, which
   * recovery finishes (the endpoint is in the store with the addresses: the intent is dropped).
   * It spares WorkloadAdd a third fsync on its way to the answer.
   */
  dropIntent(handle: string, owner?: string): Promise<void>;

  // ---- garbage collection (gc.ts) ----
  /**
   * Records `intent` only if the handle has no intent at all, in one transaction: the garbage
   * collector's claim on a handle (no workload change may start on it meanwhile). False when a
   * workload change, or another collector, holds the handle.
   */
  claimHandle(intent: IntentRecord): Promise<boolean>;
  /** Deletes (with their affinities) those of these blocks that hold no address when the transaction runs; returns them. */
  releaseEmptyBlocks(cidrs: readonly string[]): Promise<string[]>;
}

/**
 * Suffix of the intent owner the garbage collector claims handles as: `<instance>:gc` is alive
 * exactly while `<instance>` is, yet differs from it, so this process's own workload adds
 * conflict with a claim instead of taking it over.
 */
export const GC_OWNER_SUFFIX = ':gc';

/** How long an owner's liveness record may go unrefreshed before it counts as dead. */
export const OWNER_STALE_MS = 30_000;

/**
 * True when the instance `owner` (`host:pid:start`) is gone: on this host, its process no
 * longer exists; elsewhere, `registered(owner)` says whether its liveness record is fresh.
 */
export function ownerGone(claimant: string, self: string, registered: (owner: string) => boolean): boolean {
  const owner = claimant.endsWith(GC_OWNER_SUFFIX) ? claimant.slice(0, -GC_OWNER_SUFFIX.length) : claimant;
  if (owner === self) return false;
  const [host, pidText] = owner.split(':');
  if (host === hostname()) {
    try {
      process.kill(Number(pidText), 0);
    } catch {
      return true;
    }
  }
  return !registered(owner);
}
