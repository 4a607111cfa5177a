import { AsyncLocalStorage } from 'node:async_hooks';
import { hostname } from 'node:os';
import { PrefixMirror, etcdClientOptions, etcdErrorText, type EtcdSettings } from '@tabby/etcd';
import { Etcd3, type Lease } from 'etcd3';
import { cidrContains, cidrSize, formatIP, parseCIDR, parseIP, type IPFamily, type ParsedCIDR } from '@tabby/api';
import { BlockEventType, type ReadFreshness } from '@tabby/proto';
import { ServiceError, type Logger } from '@tabby/runtime';
import {
  BLOCK_REVISION_KEY,
  IPAM_CONFIG_KEY,
  IPAM_PREFIX,
  TABBY_IPAM_PREFIX,
  addressOfOrdinal,
  affinityKey,
  affinityPrefix,
  allocate,
  allocateOrdinal,
  blockKey,
  blockNode,
  blockPrefix,
  cidrOfKey,
  handleKey,
  hasFree,
  inUse,
  instanceKey,
  instancePrefix,
  intentKey,
  intentPrefix,
  newBlock,
  ordinalsOfHandle,
  parseBlock,
  release,
  type CalicoAffinity,
  type CalicoBlock,
  type CalicoHandle,
  type CalicoIpamConfig,
} from './calico-model.js';
import {
  HOST_BITS,
  familyName,
  fnv32a,
  poolsForAssign,
  prefixEnd,
  singleCidr,
  type Allocation,
  type AssignRequest,
  type AssignResult,
  type BlockChange,
  type BlockRow,
} from './engine.js';
import { blockLimit, flagSettings, type IpamSettings, type Reservations } from './ipam-settings.js';
import type { ClusterView, PoolInfo } from './pools.js';
import { ownerGone, type IntentRecord, type IpamStorage } from './storage.js';

export interface EtcdStorageOptions {
  readonly etcd: EtcdSettings;
  readonly view: ClusterView;
  readonly logger: Logger;
  readonly strictAffinity?: boolean;
  readonly maxBlocksPerHost?: number;
  /** After each commit, the block changes it made, in order. */
  readonly onCommit: (changes: BlockChange[]) => void;
  /** Attempts of one change when its compare-and-swap keeps losing (default 30); then ABORTED. */
  readonly maxAttempts?: number;
  /** Deadline of one etcd call (default 5 s). */
  readonly callTimeoutMs?: number;
  /** Called for every transaction that lost a compare-and-swap race (it is then retried). */
  readonly onConflict?: () => void;
  /** Per committed transaction: seconds from its first read to its commit. */
  readonly onCommitted?: (seconds: number) => void;
  /** Test hook: runs after a transaction's reads, before its commit. */
  readonly beforeCommit?: () => Promise<void>;
  readonly now?: () => number;
}

/** Seconds an instance record outlives its process (the lease TTL). */
const INSTANCE_TTL_S = 10;

type PendingChange = { readonly type: BlockEventType; readonly block: BlockRow };

/** Where a first attempt reads: this process's copy of the keys (value and mod revision). */
type Snapshot = (key: string) => { readonly value: string; readonly mod: bigint } | undefined;

/**
 * One attempt of a change: each key read remembers its mod revision (0 when absent); writes are
 * buffered. {@link commit} is one etcd transaction that applies the writes only if none of the
 * keys read has changed since (compare-and-swap). A first attempt reads from this process's
 * copy of the keys (usually current: it holds this process's own writes at once); a stale read
 * only makes the commit fail, and the retry reads from etcd itself.
 */
class EtcdTx {
  private readonly reads = new Map<string, string>();
  private readonly values = new Map<string, unknown>();
  private readonly puts = new Map<string, unknown>();
  private readonly deletes = new Set<string>();
  readonly changes: PendingChange[] = [];

  constructor(
    private readonly client: Etcd3,
    private readonly snapshot?: Snapshot,
  ) {}

  async read<T>(key: string, parse: (key: string, text: string) => T): Promise<T | undefined> {
    if (this.deletes.has(key)) return undefined;
    if (this.puts.has(key)) return this.puts.get(key) as T;
    if (this.values.has(key)) return this.values.get(key) as T | undefined;
    let text: string | undefined;
    let mod = '0';
    if (this.snapshot) {
      const e = this.snapshot(key);
      if (e) [text, mod] = [e.value, String(e.mod)];
    } else {
      const kv = (await this.client.kv.range({ key: Buffer.from(key) })).kvs[0];
      if (kv) [text, mod] = [kv.value.toString(), kv.mod_revision];
    }
    const value = text === undefined ? undefined : parse(key, text);
    this.reads.set(key, mod);
    this.values.set(key, value);
    return value;
  }

  /** Keys were read: the answer depends on them (a read-only attempt from the copy is checked by a commit). */
  get readSome(): boolean {
    return this.reads.size > 0;
  }

  /** Keys under a prefix (not guarded: a key added meanwhile does not fail the commit). */
  async keys(prefix: string): Promise<string[]> {
    const keys = await this.client.getAll().prefix(prefix).keys();
    return keys.filter((k) => !this.deletes.has(k)).concat([...this.puts.keys()].filter((k) => k.startsWith(prefix) && !keys.includes(k)));
  }

  put(key: string, value: unknown): void {
    this.deletes.delete(key);
    this.puts.set(key, value);
  }

  delete(key: string): void {
    this.puts.delete(key);
    this.deletes.add(key);
  }

  get writes(): number {
    return this.puts.size + this.deletes.size;
  }

  /** The commit revision, or undefined when a key read has changed (nothing written). */
  async commit(): Promise<{ revision: bigint; written: [string, string | null][] } | undefined> {
    const written: [string, string | null][] = [];
    for (const [k, v] of this.puts) written.push([k, JSON.stringify(v)]);
    for (const k of this.deletes) written.push([k, null]);
    const res = await this.client.kv.txn({
      compare: [...this.reads].map(([key, mod]) => ({ key: Buffer.from(key), target: 'Mod' as const, result: 'Equal' as const, mod_revision: mod })),
      success: written.map(([key, value]) => (value === null ? { request_delete_range: { key: Buffer.from(key) } } : { request_put: { key: Buffer.from(key), value: Buffer.from(value) } })),
      failure: [],
    });
    return res.succeeded ? { revision: BigInt(res.header.revision), written } : undefined;
  }
}

/** Per-process locks by name, taken in sorted order (no deadlock): fewer of this process's own changes collide. */
class KeyedLocks {
  private readonly tails = new Map<string, Promise<void>>();

  async acquire(keys: readonly string[]): Promise<() => void> {
    const releases: (() => void)[] = [];
    for (const key of [...new Set(keys)].sort()) {
      const prev = this.tails.get(key) ?? Promise.resolve();
      let open!: () => void;
      const mine = new Promise<void>((resolve) => (open = resolve));
      const tail = prev.then(() => mine);
      this.tails.set(key, tail);
      await prev;
      releases.push(() => {
        open();
        if (this.tails.get(key) === tail) this.tails.delete(key);
      });
    }
    return () => {
      for (const r of releases) r();
    };
  }
}

function parseJson<T>(key: string, text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ServiceError('internal', `etcd key ${key} does not hold JSON`);
  }
}

function parseBlockValue(key: string, text: string): CalicoBlock {
  try {
    return parseBlock(key, text);
  } catch (err) {
    throw new ServiceError('internal', err instanceof Error ? err.message : `etcd key ${key} does not hold a Calico AllocationBlock`);
  }
}

interface CachedBlock {
  readonly cidr: ParsedCIDR;
  readonly block: CalicoBlock;
}

/**
 * IPAM in etcd v3, in Calico's layout (`/calico/ipam/v2/...`): blocks, affinities, handles and
 * config as Calico's JSON; Tabby's workload journal and live processes under `/tabby/ipam/v1/`.
 * Every change is one etcd transaction comparing the mod revision of every key it read, so
 * several tabby-ipam processes allocate at once with no duplicate: a loser re-reads and
 * retries (with jitter), up to `maxAttempts`, then answers ABORTED. Nothing is acknowledged
 * before etcd has committed it. etcd unreachable: UNAVAILABLE naming the endpoints.
 */
export class EtcdStorage implements IpamStorage {
  readonly datastore = 'etcd' as const;
  private readonly client: Etcd3;
  private readonly blocksByCidr = new Map<string, CachedBlock>();
  private readonly handles = new Map<string, CalicoHandle>();
  private readonly intentsByHandle = new Map<string, IntentRecord>();
  private readonly instances = new Set<string>();
  private readonly ipam: PrefixMirror;
  private readonly tabby: PrefixMirror;
  private readonly locks = new KeyedLocks();
  private readonly snapshot: Snapshot = (key) => (key.startsWith(IPAM_PREFIX) ? this.ipam : this.tabby).entry(key);
  private readonly sinks = new AsyncLocalStorage<BlockChange[]>();
  private readonly endpoints: string;
  private readonly now: () => number;
  private instanceId = '';
  private lease: Lease | undefined;
  private regranting = false;
  private closed = false;

  private constructor(private readonly opts: EtcdStorageOptions) {
    this.endpoints = opts.etcd.endpoints.join(',');
    this.now = opts.now ?? Date.now;
    const timeout = opts.callTimeoutMs ?? 5_000;
    this.client = new Etcd3(etcdClientOptions(opts.etcd, timeout));
    this.ipam = new PrefixMirror(this.client, IPAM_PREFIX, (k, v) => this.ipamChanged(k, v), opts.logger, this.now);
    this.tabby = new PrefixMirror(this.client, TABBY_IPAM_PREFIX, (k, v) => this.tabbyChanged(k, v), opts.logger, this.now);
  }

  /** Connects, lists and watches IPAM's keys, and writes Calico's IPAM config when there is none. */
  static async open(opts: EtcdStorageOptions): Promise<EtcdStorage> {
    const s = new EtcdStorage(opts);
    try {
      await s.ipam.start();
      await s.tabby.start();
      const config: CalicoIpamConfig = { strict_affinity: opts.strictAffinity ?? false, auto_allocate_blocks: true, maxBlocksPerHost: opts.maxBlocksPerHost ?? 0 };
      await s.client.if(IPAM_CONFIG_KEY, 'Create', '==', 0).then(s.client.put(IPAM_CONFIG_KEY).value(JSON.stringify(config))).commit();
    } catch (err) {
      await s.close();
      throw s.failure('cannot read IPAM from etcd', err);
    }
    opts.logger.info({ endpoints: s.endpoints, blocks: s.blocksByCidr.size, revision: String(s.ipam.revision()) }, 'IPAM datastore: etcd');
    return s;
  }

  // ---- the mirror ----

  private ipamChanged(key: string, value: string | null): void {
    if (key.startsWith(blockPrefix)) {
      const cidr = cidrOfKey(key);
      if (!cidr) return;
      if (value === null) {
        this.blocksByCidr.delete(cidr.canonical);
        return;
      }
      try {
        this.blocksByCidr.set(cidr.canonical, { cidr, block: parseBlock(key, value) });
      } catch (err) {
        this.opts.logger.warn({ key, err: err instanceof Error ? err.message : String(err) }, 'ignoring an unreadable block');
      }
      return;
    }
    const handlePrefix = `${IPAM_PREFIX}handle/`;
    if (key.startsWith(handlePrefix)) {
      const id = key.slice(handlePrefix.length);
      if (value === null) this.handles.delete(id);
      else {
        try {
          this.handles.set(id, JSON.parse(value) as CalicoHandle);
        } catch {
          this.opts.logger.warn({ key }, 'ignoring an unreadable handle');
        }
      }
    }
  }

  private tabbyChanged(key: string, value: string | null): void {
    if (key.startsWith(intentPrefix)) {
      const handle = key.slice(intentPrefix.length);
      if (value === null) this.intentsByHandle.delete(handle);
      else {
        try {
          this.intentsByHandle.set(handle, JSON.parse(value) as IntentRecord);
        } catch {
          this.opts.logger.warn({ key }, 'ignoring an unreadable intent');
        }
      }
    } else if (key.startsWith(instancePrefix)) {
      const id = key.slice(instancePrefix.length);
      if (value === null) this.instances.delete(id);
      else this.instances.add(id);
    }
  }

  // ---- lifecycle ----

  async register(instanceId: string): Promise<void> {
    this.instanceId = instanceId;
    await this.grant();
  }

  /** A lease kept alive by the client, with this process's instance record on it. */
  private async grant(): Promise<void> {
    const lease = this.client.lease(INSTANCE_TTL_S, { autoKeepAlive: true });
    this.lease = lease;
    lease.on('lost', (err) => this.leaseLost(lease, err));
    try {
      const value = JSON.stringify({ host: hostname(), pid: process.pid, started: new Date(this.now()).toISOString() });
      const res = await lease.put(instanceKey(this.instanceId)).value(value).exec();
      this.tabby.applyOwn(instanceKey(this.instanceId), value, BigInt(res.header.revision));
    } catch (err) {
      throw this.failure('cannot register this ipam process in etcd', err);
    }
  }

  /** The lease expired (etcd was out of reach too long): register again until it works, one attempt at a time. */
  private leaseLost(lease: Lease, err: Error): void {
    if (this.closed || this.lease !== lease || this.regranting) return;
    this.regranting = true;
    this.opts.logger.warn({ err: err.message }, 'etcd lease of this ipam process lost; registering again');
    const retry = (): void => {
      if (this.closed) return;
      this.grant().then(
        () => {
          this.regranting = false;
          this.opts.logger.info('ipam process registered in etcd again');
        },
        () => setTimeout(retry, 1_000).unref(),
      );
    };
    retry();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Revoking drops this process's instance record at once (its intents then belong to nobody alive).
    await this.lease?.revoke().catch(() => undefined); // etcd may be gone: the lease then expires by itself
    await this.ipam.close();
    await this.tabby.close();
    this.client.close();
  }

  collecting<T>(sink: BlockChange[], fn: () => Promise<T>): Promise<T> {
    return this.sinks.run(sink, fn);
  }

  // ---- reads (from the mirror) ----

  /** Stale while either copy's watch is down: the revision of IPAM's keys it holds, since when, and the error. */
  freshness(): ReadFreshness | undefined {
    const a = this.ipam.freshness();
    const b = this.tabby.freshness();
    if (a.live && b.live) return undefined;
    const down = a.live ? b : a;
    const since = Math.min(a.currentAt, b.currentAt);
    return { stale: true, revision: Number(a.revision), ageMs: Math.max(0, this.now() - since), reason: `etcd at ${this.endpoints}: ${down.reason}` };
  }

  private poolOf(cidr: ParsedCIDR): PoolInfo | undefined {
    return this.opts.view.pools().find((p) => cidrContains(p.cidr, cidr.address) && p.cidr.prefix <= cidr.prefix);
  }

  private rowOf(c: CachedBlock): BlockRow {
    return { cidr: c.cidr.canonical, family: c.cidr.family, poolCidr: this.poolOf(c.cidr)?.cidr.canonical ?? '', node: blockNode(c.block), size: c.block.allocations.length, inUse: inUse(c.block) };
  }

  private sortedBlocks(): CachedBlock[] {
    return [...this.blocksByCidr.values()].sort((a, b) => (a.cidr.canonical < b.cidr.canonical ? -1 : a.cidr.canonical > b.cidr.canonical ? 1 : 0));
  }

  private allocationsOf(c: CachedBlock, only?: (ordinal: number, handle: string) => boolean): Allocation[] {
    const out: Allocation[] = [];
    const node = blockNode(c.block);
    const poolCidr = this.poolOf(c.cidr)?.cidr.canonical ?? '';
    c.block.allocations.forEach((a, ordinal) => {
      if (a === null) return;
      const attr = c.block.attributes[a];
      const handle = attr?.handle_id ?? '';
      if (only && !only(ordinal, handle)) return;
      const attributes = { ...(attr?.secondary ?? {}) };
      out.push({
        address: addressOfOrdinal(c.cidr, ordinal),
        family: c.cidr.family,
        handle,
        node: attributes.node ?? '',
        attributes,
        block: c.cidr.canonical,
        blockNode: node,
        blockPoolCidr: poolCidr,
        createdAt: Date.parse(attributes.timestamp ?? '') || 0,
      });
    });
    return out;
  }

  blockRevision(): number {
    return Number(this.ipam.get(BLOCK_REVISION_KEY) ?? 0);
  }

  blocks(node?: string): BlockRow[] {
    return this.sortedBlocks()
      .filter((c) => !node || blockNode(c.block) === node)
      .sort((a, b) => a.cidr.family - b.cidr.family)
      .map((c) => this.rowOf(c));
  }

  borrowedCounts(): Map<string, number> {
    const out = new Map<string, number>();
    for (const c of this.blocksByCidr.values()) {
      const node = blockNode(c.block);
      const n = this.allocationsOf(c).filter((a) => node === null || a.node !== node).length;
      if (n > 0) out.set(c.cidr.canonical, n);
    }
    return out;
  }

  poolBlocks(poolCidr: string, atMost: number): number {
    let blocks = 0;
    for (const c of this.blocksByCidr.values()) {
      if (blocks >= atMost) break;
      if ((this.poolOf(c.cidr)?.cidr.canonical ?? '') === poolCidr) blocks++;
    }
    return blocks;
  }

  poolCounts(poolCidr: string): { inUse: number; blocks: number } {
    let used = 0;
    let blocks = 0;
    for (const c of this.blocksByCidr.values()) {
      if ((this.poolOf(c.cidr)?.cidr.canonical ?? '') !== poolCidr) continue;
      blocks++;
      used += inUse(c.block);
    }
    return { inUse: used, blocks };
  }

  poolUse(poolCidr: string): { inUse: number; blocks: number; workloads: string[] } {
    const workloads = new Set<string>();
    for (const c of this.blocksByCidr.values()) {
      if ((this.poolOf(c.cidr)?.cidr.canonical ?? '') !== poolCidr) continue;
      for (const a of this.allocationsOf(c)) workloads.add(a.attributes.namespace && a.attributes.pod ? `${a.attributes.namespace}/${a.attributes.pod}` : a.handle);
    }
    return { ...this.poolCounts(poolCidr), workloads: [...workloads].sort() };
  }

  getAllocation(address: string): Allocation | undefined {
    const ip = parseIP(address.replace(/\/(32|128)$/, ''));
    if (!ip) throw new ServiceError('invalid-argument', `${address} is not an IP address`);
    for (const c of this.blocksByCidr.values()) {
      if (!cidrContains(c.cidr, ip)) continue;
      const ordinal = Number(ip.value - c.cidr.network);
      return this.allocationsOf(c, (o) => o === ordinal)[0];
    }
    return undefined;
  }

  allocationsOfHandle(handle: string): Allocation[] {
    const h = this.handles.get(handle);
    const cidrs = h ? Object.keys(h.block) : [];
    const out: Allocation[] = [];
    for (const cidr of cidrs) {
      const c = this.blocksByCidr.get(cidr);
      if (c) out.push(...this.allocationsOf(c, (_o, id) => id === handle));
    }
    return out.sort((a, b) => a.family - b.family || a.createdAt - b.createdAt || (a.address < b.address ? -1 : 1));
  }

  allocations(): Allocation[] {
    return this.sortedBlocks()
      .flatMap((c) => this.allocationsOf(c))
      .sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  }

  allocationsMatching(node: string, handlePrefix: string): Allocation[] {
    const end = handlePrefix === '' ? '' : prefixEnd(handlePrefix);
    return this.sortedBlocks()
      .flatMap((c) => this.allocationsOf(c, (_o, h) => handlePrefix === '' || (h >= handlePrefix && h < end)))
      .filter((a) => node === '' || a.node === node)
      .sort((a, b) => (a.handle < b.handle ? -1 : a.handle > b.handle ? 1 : a.family - b.family || (a.address < b.address ? -1 : a.address > b.address ? 1 : 0)));
  }

  intents(): IntentRecord[] {
    return [...this.intentsByHandle.values()].sort((a, b) => a.createdAt - b.createdAt);
  }

  ownerDead(owner: string): boolean {
    return ownerGone(owner, this.instanceId, (id) => this.instances.has(id));
  }

  // ---- transactions ----

  /** UNAVAILABLE naming the endpoints, for anything etcd (or the way to it) failed with; a bug stays itself (INTERNAL). */
  private failure(what: string, err: unknown): Error {
    if (err instanceof ServiceError || err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError) return err;
    const detail = etcdErrorText(err);
    return new ServiceError('unavailable', `${what}: etcd at ${this.endpoints} is unreachable or failing (${detail})`, { cause: err });
  }

  /**
   * Runs `fn` as one compare-and-swap transaction, re-running it on a conflict. `lockKeys`
   * serialise this process's changes that touch the same node's blocks (fewer conflicts).
   */
  private async transact<T>(what: string, lockKeys: readonly string[], fn: (tx: EtcdTx) => Promise<T>): Promise<T> {
    if (this.closed) throw new ServiceError('unavailable', 'ipam datastore closed');
    const unlock = await this.locks.acquire(lockKeys);
    try {
      const max = this.opts.maxAttempts ?? 30;
      for (let attempt = 1; ; attempt++) {
        const fromCopy = attempt === 1;
        const tx = new EtcdTx(this.client, fromCopy ? this.snapshot : undefined);
        const started = performance.now();
        let value: T;
        let done;
        let base = 0;
        let unlockRevision: (() => void) | undefined;
        try {
          value = await fn(tx);
          if (tx.writes === 0 && !(fromCopy && tx.readSome)) return value;
          if (tx.changes.length > 0) {
            // One block-changing commit of this process at a time: they all raise the revision.
            unlockRevision = await this.locks.acquire([BLOCK_REVISION_KEY]);
            base = (await tx.read(BLOCK_REVISION_KEY, (k, t) => parseJson<number>(k, t))) ?? 0;
            tx.put(BLOCK_REVISION_KEY, base + tx.changes.length);
          }
          await this.opts.beforeCommit?.();
          // A read-only attempt from the copy commits its compares alone: they confirm what it read.
          done = await tx.commit();
          if (done) {
            this.opts.onCommitted?.((performance.now() - started) / 1000);
            for (const [key, text] of done.written) {
              (key.startsWith(IPAM_PREFIX) ? this.ipam : this.tabby).applyOwn(key, text, done.revision);
            }
          }
        } catch (err) {
          throw this.failure(`cannot ${what}`, err);
        } finally {
          unlockRevision?.();
        }
        if (done) {
          this.committed(tx.changes.map((c, i) => ({ ...c, revision: base + i + 1 })));
          return value;
        }
        this.opts.onConflict?.();
        if (attempt >= max) {
          throw new ServiceError('aborted', `cannot ${what}: lost ${attempt} compare-and-swap races in a row on etcd (other tabby-ipam replicas are changing the same blocks); retry the call`);
        }
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 * attempt)));
      }
    } finally {
      unlock();
    }
  }

  private committed(changes: BlockChange[]): void {
    if (changes.length === 0) return;
    this.sinks.getStore()?.push(...changes);
    try {
      this.opts.onCommit(changes);
    } catch (err) {
      this.opts.logger.error({ err }, 'commit listener failed');
    }
  }

  private nodeLocks(cidrs: Iterable<string>): string[] {
    const out: string[] = [];
    for (const cidr of cidrs) {
      const c = this.blocksByCidr.get(cidr);
      out.push(`node:${c ? (blockNode(c.block) ?? '') : ''}`);
    }
    return out;
  }

  private readBlock(tx: EtcdTx, cidr: ParsedCIDR): Promise<CalicoBlock | undefined> {
    return tx.read(blockKey(cidr), parseBlockValue);
  }

  private readHandle(tx: EtcdTx, handle: string): Promise<CalicoHandle | undefined> {
    return tx.read(handleKey(handle), (k, t) => parseJson<CalicoHandle>(k, t));
  }

  private record(tx: EtcdTx, type: BlockEventType, cidr: ParsedCIDR, b: CalicoBlock, node: string | null): void {
    tx.changes.push({ type, block: { cidr: cidr.canonical, family: cidr.family, poolCidr: this.poolOf(cidr)?.cidr.canonical ?? '', node, size: b.allocations.length, inUse: inUse(b) } });
  }

  // ---- assignment ----

  autoAssign(req: AssignRequest, intent?: IntentRecord): Promise<AssignResult> {
    if (!req.handle) throw new ServiceError('invalid-argument', 'handle must be given');
    if (!req.node) throw new ServiceError('invalid-argument', 'node must be given');
    if (req.numIpv4 > 256 || req.numIpv6 > 256) throw new ServiceError('invalid-argument', 'at most 256 addresses of a family per request');
    return this.transact('assign addresses', [`node:${req.node}`], async (tx) => {
      if (intent) {
        const pending = await tx.read(intentKey(req.handle), (k, t) => parseJson<IntentRecord>(k, t));
        if (pending && pending.owner !== intent.owner && !this.ownerDead(pending.owner)) {
          throw new ServiceError('conflict', `workload ${intent.namespace}/${intent.name} is being ${pending.op === 'add' ? 'added' : 'deleted'} by another request; retry`);
        }
        tx.put(intentKey(req.handle), intent);
      }
      const handle = (await this.readHandle(tx, req.handle)) ?? { handleID: req.handle, block: {}, deleted: false };
      const held: { family: IPFamily; address: string }[] = [];
      for (const cidrText of Object.keys(handle.block).sort()) {
        const cidr = parseCIDR(cidrText);
        const b = cidr && (await this.readBlock(tx, cidr));
        if (!cidr || !b) continue;
        for (const o of ordinalsOfHandle(b, req.handle)) held.push({ family: cidr.family, address: addressOfOrdinal(cidr, o) });
      }
      const out: AssignResult = { ipv4: [], ipv6: [], existing: held.length > 0 };
      let changed = false;
      for (const family of [4, 6] as const) {
        const want = family === 4 ? req.numIpv4 : req.numIpv6;
        const list = family === 4 ? out.ipv4 : out.ipv6;
        for (const a of held.filter((h) => h.family === family).slice(0, want)) list.push(singleCidr(family, a.address));
        const missing = want - list.length;
        if (missing <= 0) continue;
        const pools = poolsForAssign(this.opts.view, family, req.node, family === 4 ? req.ipv4Pools : req.ipv6Pools, { use: req.use, namespaceLabels: req.namespaceLabels });
        const secondary = { ...req.attributes, node: req.node, timestamp: new Date(this.now()).toISOString() };
        for (const address of await this.assignFromPools(tx, family, req.node, req.handle, secondary, missing, pools, handle)) list.push(singleCidr(family, address));
        changed = true;
      }
      if (changed) tx.put(handleKey(req.handle), handle);
      return out;
    });
  }

  private async assignFromPools(
    tx: EtcdTx,
    family: IPFamily,
    node: string,
    handleId: string,
    secondary: Record<string, string>,
    count: number,
    pools: readonly PoolInfo[],
    handle: CalicoHandle,
  ): Promise<string[]> {
    const got: string[] = [];
    const settings = this.settings();
    const reserved = this.opts.view.reservations();
    const allowed = (cidr: ParsedCIDR): boolean => pools.some((p) => cidrContains(p.cidr, cidr.address) && p.cidr.prefix <= cidr.prefix);
    const take = (cidr: ParsedCIDR, b: CalicoBlock): void => {
      const ordinals = allocate(b, count - got.length, handleId, secondary, reserved.ordinalsIn(cidr));
      if (ordinals.length === 0) return;
      tx.put(blockKey(cidr), b);
      handle.block[cidr.canonical] = (handle.block[cidr.canonical] ?? 0) + ordinals.length;
      for (const o of ordinals) got.push(addressOfOrdinal(cidr, o));
    };
    // 1. The node's own blocks in the allowed pools.
    const affine = (await tx.keys(affinityPrefix(node, family))).map(cidrOfKey).filter((c): c is ParsedCIDR => c !== undefined);
    affine.sort((a, b) => (a.canonical < b.canonical ? -1 : 1));
    for (const cidr of affine) {
      if (got.length === count) return got;
      if (!allowed(cidr)) continue;
      const b = await this.readBlock(tx, cidr);
      if (!b || blockNode(b) !== node || !hasFree(b, reserved.ordinalsIn(cidr))) continue;
      take(cidr, b);
    }
    let claims = 0;
    while (got.length < count) {
      // 2. Claim a new block, unless the node holds as many as it may.
      const limit = blockLimit(settings);
      if (affine.length + claims >= limit) {
        throw new ServiceError(
          'resource-exhausted',
          `Assigned ${got.length} out of ${count} requested ${familyName(family)} addresses; cannot allocate new block due to per host block limit (${limit} blocks on node ${node})`,
        );
      }
      // With autoAllocateBlocks false no block is claimed: borrowing only.
      const claimed = settings.autoAllocateBlocks ? await this.claimFreeBlock(tx, family, node, pools, reserved) : undefined;
      if (claimed) {
        claims++;
        take(claimed.cidr, claimed.block);
        continue;
      }
      // 3. Borrow from any block with room, unless affinity is strict.
      if (settings.strictAffinity) {
        throw new ServiceError('resource-exhausted', `Assigned ${got.length} out of ${count} requested ${familyName(family)} addresses; No more free affine blocks and strict affinity enabled`);
      }
      let borrowed = false;
      for (const c of this.sortedBlocks()) {
        if (c.cidr.family !== family || !allowed(c.cidr) || !hasFree(c.block, reserved.ordinalsIn(c.cidr))) continue;
        const b = await this.readBlock(tx, c.cidr);
        if (!b || !hasFree(b, reserved.ordinalsIn(c.cidr))) continue;
        take(c.cidr, b);
        borrowed = true;
        break;
      }
      if (!borrowed) {
        throw new ServiceError(
          'resource-exhausted',
          `Assigned ${got.length} out of ${count} requested ${familyName(family)} addresses; No IPs available in pools: [${pools.map((p) => p.cidr.canonical).join(' ')}]`,
        );
      }
    }
    return got;
  }

  /** The IPAMConfiguration in the store, else the flags (read per request: it follows the store). */
  private settings(): IpamSettings {
    return this.opts.view.ipamConfig() ?? flagSettings(this.opts);
  }

  /**
   * Walks a pool's blocks from the node's pseudo-random start and claims the first that does
   * not exist and is not wholly reserved.
   */
  private async claimFreeBlock(tx: EtcdTx, family: IPFamily, node: string, pools: readonly PoolInfo[], reserved: Reservations): Promise<CachedBlock | undefined> {
    for (const pool of pools) {
      if (pool.blockSize < pool.cidr.prefix) continue;
      const nBlocks = 1n << BigInt(pool.blockSize - pool.cidr.prefix);
      const step = 1n << BigInt(HOST_BITS[family] - pool.blockSize);
      const start = BigInt(fnv32a(node)) % nBlocks;
      for (let i = 0n; i < nBlocks; i++) {
        const cidr = parseCIDR(`${formatIP(family, pool.cidr.network + ((start + i) % nBlocks) * step)}/${pool.blockSize}`) as ParsedCIDR;
        // What this process knows exists is skipped without a read; the read settles the rest.
        if (this.blocksByCidr.has(cidr.canonical)) continue;
        if (!reserved.empty && reserved.covers(cidr)) continue;
        if (await this.readBlock(tx, cidr)) continue;
        const b = newBlock(cidr, Number(step), node);
        tx.put(blockKey(cidr), b);
        tx.put(affinityKey(node, cidr), { state: 'confirmed', deleted: false } satisfies CalicoAffinity);
        this.record(tx, BlockEventType.BLOCK_EVENT_TYPE_CLAIMED, cidr, b, node);
        return { cidr, block: b };
      }
    }
    return undefined;
  }

  assignIP(address: string, handleId: string, node: string, attributes: Readonly<Record<string, string>> = {}): Promise<string> {
    const ip = parseIP(address.replace(/\/(32|128)$/, ''));
    if (!ip) throw new ServiceError('invalid-argument', `${address} is not an IP address`);
    if (!handleId) throw new ServiceError('invalid-argument', 'handle must be given');
    const pool = this.opts.view.pools().find((p) => !p.disabled && cidrContains(p.cidr, ip));
    if (!pool) throw new ServiceError('failed-precondition', `The provided IP address ${ip.text} is not in a configured pool`);
    const cidr = parseCIDR(`${ip.text}/${pool.blockSize}`) as ParsedCIDR;
    return this.transact('assign an address', [`node:${node}`, ...this.nodeLocks([cidr.canonical])], async (tx) => {
      let b = await this.readBlock(tx, cidr);
      if (!b) {
        b = newBlock(cidr, Number(cidrSize(cidr)), node);
        tx.put(affinityKey(node, cidr), { state: 'confirmed', deleted: false } satisfies CalicoAffinity);
        this.record(tx, BlockEventType.BLOCK_EVENT_TYPE_CLAIMED, cidr, b, node);
      } else if (this.settings().strictAffinity && blockNode(b) !== node) {
        throw new ServiceError('failed-precondition', `Block host affinity does not match: ${cidr.canonical} belongs to ${blockNode(b) ?? 'no node'}`);
      }
      if (!allocateOrdinal(b, Number(ip.value - cidr.network), handleId, { ...attributes, node, timestamp: new Date(this.now()).toISOString() })) {
        throw new ServiceError('already-exists', `Address already assigned in block: ${ip.text} in ${cidr.canonical}`);
      }
      tx.put(blockKey(cidr), b);
      const handle = (await this.readHandle(tx, handleId)) ?? { handleID: handleId, block: {}, deleted: false };
      handle.block[cidr.canonical] = (handle.block[cidr.canonical] ?? 0) + 1;
      tx.put(handleKey(handleId), handle);
      return singleCidr(ip.family, ip.text);
    });
  }

  // ---- release ----

  /** The block an address is in: by its pool's block size, else a known block holding it. */
  private blockCidrOf(ip: NonNullable<ReturnType<typeof parseIP>>): ParsedCIDR | undefined {
    const pool = this.opts.view.pools().find((p) => cidrContains(p.cidr, ip));
    if (pool) return parseCIDR(`${ip.text}/${pool.blockSize}`);
    for (const c of this.blocksByCidr.values()) if (cidrContains(c.cidr, ip)) return c.cidr;
    return undefined;
  }

  /** Frees ordinals of a block read in `tx`, updating the handles; an emptied block goes (with its affinity). */
  private async releaseIn(tx: EtcdTx, cidr: ParsedCIDR, b: CalicoBlock, ordinals: readonly number[]): Promise<void> {
    if (ordinals.length === 0) return;
    const byHandle = new Map<string, number>();
    for (const o of ordinals) {
      const a = b.allocations[o];
      const id = a === null || a === undefined ? undefined : b.attributes[a]?.handle_id;
      if (id) byHandle.set(id, (byHandle.get(id) ?? 0) + 1);
    }
    release(b, ordinals);
    for (const [id, n] of byHandle) {
      const h = await this.readHandle(tx, id);
      if (!h) continue;
      const left = (h.block[cidr.canonical] ?? 0) - n;
      if (left > 0) h.block[cidr.canonical] = left;
      else delete h.block[cidr.canonical];
      if (Object.keys(h.block).length === 0) tx.delete(handleKey(id));
      else tx.put(handleKey(id), h);
    }
    const node = blockNode(b);
    if (inUse(b) === 0) {
      // The block's last address: release the block (and its affinity) back to the pool.
      tx.delete(blockKey(cidr));
      if (node !== null) tx.delete(affinityKey(node, cidr));
      this.record(tx, BlockEventType.BLOCK_EVENT_TYPE_RELEASED, cidr, b, node);
    } else {
      tx.put(blockKey(cidr), b);
    }
  }

  releaseIPs(addresses: readonly string[], handleId = ''): Promise<{ released: string[]; unallocated: string[] }> {
    const ips = addresses.map((text) => {
      const ip = parseIP(text.replace(/\/(32|128)$/, ''));
      if (!ip) throw new ServiceError('invalid-argument', `${text} is not an IP address`);
      return ip;
    });
    const cidrs = ips.map((ip) => this.blockCidrOf(ip));
    return this.transact('release addresses', this.nodeLocks(cidrs.filter((c): c is ParsedCIDR => c !== undefined).map((c) => c.canonical)), async (tx) => {
      const released: string[] = [];
      const unallocated: string[] = [];
      const perBlock = new Map<string, { cidr: ParsedCIDR; block: CalicoBlock; ordinals: number[] }>();
      for (const [i, ip] of ips.entries()) {
        const cidr = cidrs[i];
        const b = cidr && (await this.readBlock(tx, cidr));
        const ordinal = cidr ? Number(ip.value - cidr.network) : -1;
        const entry = cidr && b ? (perBlock.get(cidr.canonical) ?? { cidr, block: b, ordinals: [] }) : undefined;
        const a = b?.allocations[ordinal];
        if (!entry || !b || a === null || a === undefined || entry.ordinals.includes(ordinal) || (handleId && b.attributes[a]?.handle_id !== handleId)) {
          unallocated.push(ip.text);
          continue;
        }
        entry.ordinals.push(ordinal);
        perBlock.set(entry.cidr.canonical, entry);
        released.push(ip.text);
      }
      for (const e of perBlock.values()) await this.releaseIn(tx, e.cidr, e.block, e.ordinals);
      return { released, unallocated };
    });
  }

  releaseByHandle(handleId: string, dropIntent?: { owner?: string; onlyIfOwner?: boolean }): Promise<string[]> {
    const known = this.handles.get(handleId);
    return this.transact('release a handle', this.nodeLocks(known ? Object.keys(known.block) : []), async (tx) => {
      const released: string[] = [];
      // The intent is read (so compared at commit): a retry elsewhere that takes it over first wins.
      if (dropIntent?.onlyIfOwner && (await tx.read(intentKey(handleId), (k, t) => parseJson<IntentRecord>(k, t)))?.owner !== dropIntent.owner) return released;
      const h = await this.readHandle(tx, handleId);
      for (const cidrText of Object.keys(h?.block ?? {}).sort()) {
        const cidr = parseCIDR(cidrText);
        const b = cidr && (await this.readBlock(tx, cidr));
        if (!cidr || !b) continue;
        const ordinals = ordinalsOfHandle(b, handleId);
        for (const o of ordinals) released.push(addressOfOrdinal(cidr, o));
        await this.releaseIn(tx, cidr, b, ordinals);
      }
      if (h) tx.delete(handleKey(handleId));
      if (dropIntent) await this.dropIntentIn(tx, handleId, dropIntent.owner);
      return released;
    });
  }

  private async releaseAffinities(tx: EtcdTx, cidrs: readonly ParsedCIDR[]): Promise<string[]> {
    const out: string[] = [];
    for (const cidr of cidrs) {
      const b = await this.readBlock(tx, cidr);
      const node = b ? blockNode(b) : null;
      if (!b || node === null) continue;
      tx.delete(affinityKey(node, cidr));
      if (inUse(b) === 0) {
        tx.delete(blockKey(cidr));
        this.record(tx, BlockEventType.BLOCK_EVENT_TYPE_RELEASED, cidr, b, node);
      } else {
        b.affinity = null;
        b.sequenceNumber++;
        tx.put(blockKey(cidr), b);
        this.record(tx, BlockEventType.BLOCK_EVENT_TYPE_AFFINITY_RELEASED, cidr, b, null);
      }
      out.push(cidr.canonical);
    }
    return out;
  }

  releasePoolAffinities(poolCidr: string): Promise<number> {
    const cidrs = this.sortedBlocks()
      .filter((c) => blockNode(c.block) !== null && (this.poolOf(c.cidr)?.cidr.canonical ?? '') === poolCidr)
      .map((c) => c.cidr);
    return this.transact('release block affinities', this.nodeLocks(cidrs.map((c) => c.canonical)), async (tx) => (await this.releaseAffinities(tx, cidrs)).length);
  }

  adoptBlocks(): Promise<number> {
    return Promise.resolve(0);
  }

  releaseNodeAffinities(node: string): Promise<string[]> {
    return this.transact('release block affinities', [`node:${node}`], async (tx) => {
      const cidrs = new Map<string, ParsedCIDR>();
      for (const family of [4, 6] as const) {
        for (const k of await tx.keys(affinityPrefix(node, family))) {
          const c = cidrOfKey(k);
          if (c) cidrs.set(c.canonical, c);
        }
      }
      for (const c of this.blocksByCidr.values()) if (blockNode(c.block) === node) cidrs.set(c.cidr.canonical, c.cidr);
      return this.releaseAffinities(tx, [...cidrs.values()]);
    });
  }

  releaseEmptyBlocks(cidrs: readonly string[]): Promise<string[]> {
    const parsed = cidrs.map((c) => parseCIDR(c)).filter((c): c is ParsedCIDR => c !== undefined);
    return this.transact('release empty blocks', this.nodeLocks(parsed.map((c) => c.canonical)), async (tx) => {
      const out: string[] = [];
      for (const cidr of parsed) {
        const b = await this.readBlock(tx, cidr);
        if (!b || inUse(b) !== 0) continue;
        const node = blockNode(b);
        tx.delete(blockKey(cidr));
        if (node !== null) tx.delete(affinityKey(node, cidr));
        this.record(tx, BlockEventType.BLOCK_EVENT_TYPE_RELEASED, cidr, b, node);
        out.push(cidr.canonical);
      }
      return out;
    });
  }

  // ---- intents ----

  claimHandle(intent: IntentRecord): Promise<boolean> {
    return this.transact('claim a handle for garbage collection', [], async (tx) => {
      // Read, so compared at commit: an intent written meanwhile fails the claim's commit.
      if (await tx.read(intentKey(intent.handle), (k, t) => parseJson<IntentRecord>(k, t))) return false;
      tx.put(intentKey(intent.handle), intent);
      return true;
    });
  }

  putIntent(intent: IntentRecord): Promise<void> {
    return this.transact('record a workload change', [], (tx) => {
      tx.put(intentKey(intent.handle), intent);
      return Promise.resolve();
    });
  }

  dropIntent(handle: string, owner?: string): Promise<void> {
    return this.transact('clear a workload change', [], (tx) => this.dropIntentIn(tx, handle, owner));
  }

  private async dropIntentIn(tx: EtcdTx, handle: string, owner: string | undefined): Promise<void> {
    const i = await tx.read(intentKey(handle), (k, t) => parseJson<IntentRecord>(k, t));
    if (i && (owner === undefined || i.owner === owner)) tx.delete(intentKey(handle));
  }
}
