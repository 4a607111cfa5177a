import { hostname } from 'node:os';
import { cidrContains, parseCIDR } from '@tabby/api';
import { ServiceError, type Logger } from '@tabby/runtime';
import { GroupCommitter } from './commit.js';
import { walSync, type Db } from './database.js';
import { IpamEngine, type Allocation, type AssignRequest, type AssignResult, type BlockChange, type BlockRow, type EngineOptions } from './engine.js';
import { OWNER_STALE_MS, ownerGone, type IntentRecord, type IpamStorage } from './storage.js';

interface IntentRow {
  handle: string;
  op: 'add' | 'delete';
  namespace: string;
  name: string;
  node: string;
  owner: string;
  created_at: number;
  container_id: string;
  endpoint: string;
}

const HEARTBEAT_MS = 5_000;

export interface SqliteStorageOptions extends Omit<EngineOptions, 'db'> {
  readonly db: Db;
  readonly logger: Logger;
  /** After each commit, the block changes it made, in order. */
  readonly onCommit: (changes: BlockChange[]) => void;
  /** Per committed batch: its operations and seconds. */
  readonly onBatch?: (ops: number, seconds: number) => void;
  /** Right after each COMMIT (before its sync), the block changes it made, in order. */
  readonly onCommitted?: (changes: BlockChange[]) => void;
}

/**
 * IPAM in one SQLite file (the default): the {@link IpamEngine} run by a {@link GroupCommitter},
 * plus the intents and instances tables. Processes sharing the file are serialised by SQLite.
 */
export class SqliteStorage implements IpamStorage {
  readonly datastore = 'sqlite' as const;
  readonly engine: IpamEngine;
  private readonly committer: GroupCommitter<BlockChange>;
  private readonly s;
  private instanceId = '';
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(private readonly opts: SqliteStorageOptions) {
    const db = opts.db;
    this.engine = new IpamEngine(opts);
    this.committer = new GroupCommitter<BlockChange>(db, opts.logger, opts.onCommit, 512, opts.onBatch, { onCommitted: opts.onCommitted });
    this.s = {
      insertIntent: db.prepare<[string, string, string, string, string, string, number, string, string]>(
        'INSERT OR REPLACE INTO intents (handle, op, namespace, name, node, owner, created_at, container_id, endpoint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      deleteIntent: db.prepare<[string, string]>('DELETE FROM intents WHERE handle = ? AND owner = ?'),
      deleteIntentAny: db.prepare<[string]>('DELETE FROM intents WHERE handle = ?'),
      intents: db.prepare<[], IntentRow>('SELECT * FROM intents ORDER BY created_at'),
      intent: db.prepare<[string], IntentRow>('SELECT * FROM intents WHERE handle = ?'),
      beat: db.prepare<[string, string, number, number]>('INSERT OR REPLACE INTO instances (id, host, pid, heartbeat) VALUES (?, ?, ?, ?)'),
      instance: db.prepare<[string], { heartbeat: number }>('SELECT heartbeat FROM instances WHERE id = ?'),
      dropInstance: db.prepare<[string]>('DELETE FROM instances WHERE id = ?'),
      dropStale: db.prepare<[number]>('DELETE FROM instances WHERE heartbeat < ?'),
      blocksOfPool: db.prepare<[string], { cidr: string }>('SELECT cidr FROM blocks WHERE pool_cidr = ?'),
      rehome: db.prepare<[string, string]>('UPDATE blocks SET pool_cidr = ? WHERE cidr = ?'),
    };
  }

  async register(instanceId: string): Promise<void> {
    this.instanceId = instanceId;
    const beat = (): Promise<void> =>
      this.committer.run(() => {
        this.s.beat.run(instanceId, hostname(), process.pid, Date.now());
        this.s.dropStale.run(Date.now() - 10 * OWNER_STALE_MS);
      });
    await beat();
    this.heartbeat = setInterval(() => void beat().catch((err: unknown) => this.opts.logger.warn({ err }, 'heartbeat failed')), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    if (this.instanceId) await this.committer.run(() => this.s.dropInstance.run(this.instanceId)).catch(() => undefined);
    await this.committer.close();
    await walSync(this.opts.db).close();
  }

  collecting<T>(sink: BlockChange[], fn: () => Promise<T>): Promise<T> {
    return this.committer.collecting(sink, fn);
  }

  /** The file is the datastore: reads are always current. */
  freshness(): undefined {
    return undefined;
  }

  blockRevision(): number {
    return this.engine.blockRevision();
  }
  blocks(node?: string): BlockRow[] {
    return this.engine.blocks(node);
  }
  borrowedCounts(): Map<string, number> {
    return this.engine.borrowedCounts();
  }
  poolCounts(poolCidr: string): { inUse: number; blocks: number } {
    return this.engine.poolCounts(poolCidr);
  }
  poolBlocks(poolCidr: string, atMost: number): number {
    return this.engine.poolBlocks(poolCidr, atMost);
  }
  poolUse(poolCidr: string): { inUse: number; blocks: number; workloads: string[] } {
    return this.engine.poolUse(poolCidr);
  }
  getAllocation(address: string): Allocation | undefined {
    return this.engine.getAllocation(address);
  }
  allocationsOfHandle(handle: string): Allocation[] {
    return this.engine.allocationsOfHandle(handle);
  }
  allocations(): Allocation[] {
    return this.engine.allocations();
  }
  allocationsMatching(node: string, handlePrefix: string): Allocation[] {
    return this.engine.allocationsMatching(node, handlePrefix);
  }
  intents(): IntentRecord[] {
    return this.s.intents.all().map(toIntent);
  }
  ownerDead(owner: string): boolean {
    return ownerGone(owner, this.instanceId, (id) => {
      const row = this.s.instance.get(id);
      return row !== undefined && Date.now() - row.heartbeat <= OWNER_STALE_MS;
    });
  }

  autoAssign(req: AssignRequest, intent?: IntentRecord): Promise<AssignResult> {
    return this.committer.run((tx) => {
      if (intent) {
        const pending = this.s.intent.get(req.handle);
        if (pending && pending.owner !== intent.owner && !this.ownerDead(pending.owner)) {
          throw new ServiceError('conflict', `workload ${intent.namespace}/${intent.name} is being ${pending.op === 'add' ? 'added' : 'deleted'} by another request; retry`);
        }
        this.insert(intent);
      }
      return this.engine.autoAssign(tx, req);
    });
  }
  assignIP(address: string, handle: string, node: string, attributes?: Readonly<Record<string, string>>): Promise<string> {
    return this.committer.run((tx) => this.engine.assignIP(tx, address, handle, node, attributes));
  }
  releaseIPs(addresses: readonly string[], handle?: string): Promise<{ released: string[]; unallocated: string[] }> {
    return this.committer.run((tx) => this.engine.releaseIPs(tx, addresses, handle));
  }
  releaseByHandle(handle: string, dropIntent?: { owner?: string; onlyIfOwner?: boolean }): Promise<string[]> {
    return this.committer.run((tx) => {
      if (dropIntent?.onlyIfOwner && this.s.intent.get(handle)?.owner !== dropIntent.owner) return [];
      const released = this.engine.releaseByHandle(tx, handle);
      if (dropIntent) this.drop(handle, dropIntent.owner);
      return released;
    });
  }
  releasePoolAffinities(poolCidr: string): Promise<number> {
    return this.committer.run((tx) => this.engine.releasePoolAffinities(tx, poolCidr));
  }
  releaseNodeAffinities(node: string): Promise<string[]> {
    return this.committer.run((tx) => this.engine.releaseNodeAffinities(tx, node));
  }
  adoptBlocks(fromPoolCidr: string, toPoolCidr: string): Promise<number> {
    const to = parseCIDR(toPoolCidr);
    if (!to) return Promise.resolve(0);
    return this.committer.run(() => {
      let moved = 0;
      for (const b of this.s.blocksOfPool.all(fromPoolCidr)) {
        const c = parseCIDR(b.cidr);
        if (!c || c.family !== to.family || c.prefix < to.prefix || !cidrContains(to, c.address)) continue;
        this.s.rehome.run(to.canonical, b.cidr);
        moved++;
      }
      return moved;
    });
  }
  putIntent(intent: IntentRecord): Promise<void> {
    return this.committer.run(() => this.insert(intent));
  }
  /** Answered once committed, without waiting for the fsync: see {@link IpamStorage.dropIntent}. */
  dropIntent(handle: string, owner?: string): Promise<void> {
    return this.committer.run(() => this.drop(handle, owner), { durable: false });
  }

  claimHandle(intent: IntentRecord): Promise<boolean> {
    return this.committer.run(() => {
      if (this.s.intent.get(intent.handle)) return false;
      this.insert(intent);
      return true;
    });
  }
  releaseEmptyBlocks(cidrs: readonly string[]): Promise<string[]> {
    return this.committer.run((tx) => this.engine.releaseEmptyBlocks(tx, cidrs));
  }

  private insert(i: IntentRecord): void {
    this.s.insertIntent.run(i.handle, i.op, i.namespace, i.name, i.node, i.owner, i.createdAt, i.containerId, i.endpoint);
  }
  private drop(handle: string, owner: string | undefined): void {
    if (owner === undefined) this.s.deleteIntentAny.run(handle);
    else this.s.deleteIntent.run(handle, owner);
  }
}

function toIntent(r: IntentRow): IntentRecord {
  return { handle: r.handle, op: r.op, namespace: r.namespace, name: r.name, node: r.node, owner: r.owner, createdAt: r.created_at, containerId: r.container_id, endpoint: r.endpoint };
}
