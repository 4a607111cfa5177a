import { createHash } from 'node:crypto';
import { cidrContains, parseCIDR, type ParsedCIDR } from '@tabby/api';
import {
  BlockEventType,
  type DatastoreRecord,
  type DatastoreServer,
  type DatastoreStatusResponse,
  type IpamAffinityRecord,
  type IpamBlockRecord,
  type IpamConfigRecord,
  type IpamHandleRecord,
} from '@tabby/proto';
import { ServiceError, type AsyncServiceImplementation, type Logger } from '@tabby/runtime';
import { EtcdFlagKey, etcdClientOptions, etcdErrorText, etcdMembers, type EtcdSettings } from '@tabby/etcd';
import { Etcd3 } from 'etcd3';
import {
  BLOCK_REVISION_KEY,
  IPAM_CONFIG_KEY,
  IPAM_PREFIX,
  TABBY_IPAM_PREFIX,
  addressOfOrdinal,
  affinityKey,
  blockKey,
  blockPrefix,
  cidrOfKey,
  handleKey,
  parseBlock,
  type CalicoAffinity,
  type CalicoBlock,
  type CalicoHandle,
  type CalicoIpamConfig,
} from './calico-model.js';
import { walSync, type Db } from './database.js';
import { prefixEnd, type BlockChange, type BlockRow } from './engine.js';
import type { ClusterView } from './pools.js';
import type { IntentRecord, IpamStorage } from './storage.js';

/** etcd key of the migration lock (present: IPAM changes are refused). */
export const IPAM_LOCK_KEY = `${TABBY_IPAM_PREFIX}datastore-locked`;
/** etcd key of an import in progress (digest and size), so the same import can finish it. */
const IPAM_IMPORT_KEY = `${TABBY_IPAM_PREFIX}import`;
/** Writes per etcd transaction (etcd refuses more than --max-txn-ops, 128 by default). */
const ETCD_CHUNK = 100;

export interface IpamDatastoreOptions {
  readonly storage: IpamStorage;
  readonly view: ClusterView;
  readonly sqlite?: { readonly db: Db; readonly file: string };
  readonly etcd?: EtcdSettings;
  /** Calico's IPAMConfig of the flags, exported while no IPAMConfiguration exists in the store (SQLite keeps none of its own). */
  readonly config: { readonly strictAffinity: boolean; readonly maxBlocksPerHost: number };
  /** Tells followers about the blocks an import brought (as after a commit). */
  readonly onImported: (changes: BlockChange[]) => void;
  readonly logger: Logger;
}

/** The refusal of an IPAM change while the datastore is locked. */
export function lockedError(): ServiceError {
  return new ServiceError(
    'failed-precondition',
    'the IPAM datastore is locked for a migration (tabbyctl datastore migrate lock, or an import): address changes are refused until tabbyctl datastore migrate unlock',
  );
}

/** The migration lock: in ipam.db, or an etcd key ({@link EtcdFlagKey}). */
interface LockFlag {
  isSet(): boolean;
  set(locked: boolean): Promise<boolean>;
  close(): Promise<void>;
}

/** The lock in ipam.db's meta table, read at every change (several ipam processes may share the file). */
class SqliteLock implements LockFlag {
  private readonly read;
  private readonly write;
  constructor(private readonly db: Db) {
    this.read = db.prepare<[], { value: number }>("SELECT value FROM meta WHERE key = 'datastore_locked'");
    this.write = db.prepare<[number]>("INSERT INTO meta (key, value) VALUES ('datastore_locked', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  }
  isSet(): boolean {
    return (this.read.get()?.value ?? 0) === 1;
  }
  setNow(locked: boolean): boolean {
    const was = this.isSet();
    this.write.run(locked ? 1 : 0);
    return was;
  }
  async set(locked: boolean): Promise<boolean> {
    const was = this.setNow(locked);
    await walSync(this.db).sync();
    return was;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The storage with every change refused (FAILED_PRECONDITION) while `locked()`. */
export function guardedStorage(s: IpamStorage, locked: () => boolean): IpamStorage {
  const check = (): void => {
    if (locked()) throw lockedError();
  };
  const guard = <A extends unknown[], R>(fn: (...args: A) => Promise<R>) => async (...args: A): Promise<R> => {
    check();
    return fn(...args);
  };
  return {
    datastore: s.datastore,
    register: (id) => s.register(id),
    close: () => s.close(),
    collecting: (sink, fn) => s.collecting(sink, fn),
    freshness: () => s.freshness(),
    blockRevision: () => s.blockRevision(),
    blocks: (node) => s.blocks(node),
    borrowedCounts: () => s.borrowedCounts(),
    poolCounts: (cidr) => s.poolCounts(cidr),
    poolBlocks: (cidr, atMost) => s.poolBlocks(cidr, atMost),
    poolUse: (cidr) => s.poolUse(cidr),
    getAllocation: (a) => s.getAllocation(a),
    allocationsOfHandle: (h) => s.allocationsOfHandle(h),
    allocations: () => s.allocations(),
    allocationsMatching: (node, prefix) => s.allocationsMatching(node, prefix),
    intents: () => s.intents(),
    ownerDead: (owner) => s.ownerDead(owner),
    autoAssign: guard((req, intent?: IntentRecord) => s.autoAssign(req, intent)),
    assignIP: guard((address: string, handle: string, node: string, attributes?: Readonly<Record<string, string>>) => s.assignIP(address, handle, node, attributes)),
    releaseIPs: guard((addresses: readonly string[], handle?: string) => s.releaseIPs(addresses, handle)),
    releaseByHandle: guard((handle: string, dropIntent?: { owner?: string }) => s.releaseByHandle(handle, dropIntent)),
    releasePoolAffinities: guard((cidr: string) => s.releasePoolAffinities(cidr)),
    releaseNodeAffinities: guard((node: string) => s.releaseNodeAffinities(node)),
    adoptBlocks: guard((from: string, to: string) => s.adoptBlocks(from, to)),
    putIntent: guard((intent: IntentRecord) => s.putIntent(intent)),
    dropIntent: guard((handle: string, owner?: string) => s.dropIntent(handle, owner)),
    claimHandle: guard((intent: IntentRecord) => s.claimHandle(intent)),
    releaseEmptyBlocks: guard((cidrs: readonly string[]) => s.releaseEmptyBlocks(cidrs)),
  };
}

// ---- Calico records <-> the contract ----

function toBlockRecord(b: CalicoBlock, poolCidr: string): IpamBlockRecord {
  return {
    cidr: b.cidr,
    affinity: b.affinity ?? '',
    strictAffinity: b.strictAffinity,
    allocations: b.allocations.map((a) => (a === null ? -1 : a)),
    unallocated: [...b.unallocated],
    attributes: b.attributes.map((a) => ({ handleId: a.handle_id ?? '', secondary: { ...(a.secondary ?? {}) } })),
    deleted: b.deleted,
    sequenceNumber: b.sequenceNumber,
    sequenceNumberForAllocation: { ...b.sequenceNumberForAllocation },
    poolCidr,
  };
}

function fromBlockRecord(r: IpamBlockRecord): CalicoBlock {
  return {
    cidr: r.cidr,
    affinity: r.affinity === '' ? null : r.affinity,
    strictAffinity: r.strictAffinity,
    allocations: r.allocations.map((a) => (a < 0 ? null : a)),
    unallocated: [...r.unallocated],
    attributes: r.attributes.map((a) => ({ handle_id: a.handleId, secondary: { ...a.secondary } })),
    deleted: r.deleted,
    sequenceNumber: r.sequenceNumber,
    sequenceNumberForAllocation: { ...r.sequenceNumberForAllocation },
  };
}

/** A block of an import, checked: its CIDR, its ordinals (each either allocated or free, once), its attributes and pool. */
interface CheckedBlock {
  readonly record: IpamBlockRecord;
  readonly cidr: ParsedCIDR;
  readonly node: string | null;
  readonly poolCidr: string;
}

function bad(index: number, what: string, problem: string): ServiceError {
  return new ServiceError('invalid-argument', `record ${index + 1} (${what}): ${problem}`);
}

function checkBlock(r: IpamBlockRecord, index: number, view: ClusterView): CheckedBlock {
  const what = `IPAMBlock ${r.cidr}`;
  const cidr = parseCIDR(r.cidr);
  if (!cidr || cidr.canonical !== r.cidr) throw bad(index, what, 'cidr is not a canonical CIDR');
  const size = 2 ** ((cidr.family === 4 ? 32 : 128) - cidr.prefix);
  if (r.allocations.length !== size) throw bad(index, what, `allocations has ${r.allocations.length} entries, the block has ${size} addresses`);
  const seen = new Set<number>();
  r.allocations.forEach((a, ordinal) => {
    if (a < 0) return;
    if (a >= r.attributes.length) throw bad(index, what, `allocation ${ordinal} names attribute ${a}, there are ${r.attributes.length}`);
    if (r.attributes[a].handleId === '') throw bad(index, what, `attribute ${a} has no handle_id`);
    seen.add(ordinal);
  });
  for (const o of r.unallocated) {
    if (o >= size || seen.has(o)) throw bad(index, what, `unallocated ordinal ${o} is out of the block or allocated (or listed twice)`);
    seen.add(o);
  }
  if (seen.size !== size) throw bad(index, what, `${size - seen.size} ordinals are neither allocated nor unallocated`);
  if (r.affinity !== '' && !r.affinity.startsWith('host:')) throw bad(index, what, `affinity "${r.affinity}" is not host:<node>`);
  const node = r.affinity === '' ? null : r.affinity.slice(5);
  let poolCidr = r.poolCidr;
  if (poolCidr === '') poolCidr = view.pools().find((p) => cidrContains(p.cidr, cidr.address) && p.cidr.prefix <= cidr.prefix)?.cidr.canonical ?? '';
  if (poolCidr === '') throw bad(index, what, 'no IPPool contains this block: import the store (the IPPools) first');
  return { record: r, cidr, node, poolCidr };
}

function derivedHandles(blocks: readonly CheckedBlock[]): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  for (const b of blocks) {
    for (const a of b.record.allocations) {
      if (a < 0) continue;
      const id = b.record.attributes[a].handleId;
      const h = out.get(id) ?? {};
      h[b.record.cidr] = (h[b.record.cidr] ?? 0) + 1;
      out.set(id, h);
    }
  }
  return out;
}

function sameCounts(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

/**
 * The records of an import, checked against each other: the handles and affinities must be
 * exactly those the blocks imply (what `ipam check` would find), so they are written as the
 * blocks say.
 */
function checkRecords(records: readonly DatastoreRecord[], view: ClusterView): { blocks: CheckedBlock[]; config: IpamConfigRecord | undefined } {
  const blocks: CheckedBlock[] = [];
  const affinities: { index: number; value: IpamAffinityRecord }[] = [];
  const handles: { index: number; value: IpamHandleRecord }[] = [];
  let config: IpamConfigRecord | undefined;
  const cidrs = new Set<string>();
  records.forEach((rec, i) => {
    const r = rec.record;
    switch (r?.$case) {
      case 'ipamBlock': {
        const b = checkBlock(r.value, i, view);
        if (cidrs.has(b.cidr.canonical)) throw bad(i, `IPAMBlock ${r.value.cidr}`, 'the block appears twice');
        cidrs.add(b.cidr.canonical);
        blocks.push(b);
        break;
      }
      case 'ipamAffinity':
        affinities.push({ index: i, value: r.value });
        break;
      case 'ipamHandle':
        handles.push({ index: i, value: r.value });
        break;
      case 'ipamConfig':
        config = r.value;
        break;
      default:
        throw new ServiceError('invalid-argument', `record ${i + 1}: not an IPAM record (tabby-ipam imports IPAMBlock, BlockAffinity, IPAMHandle and IPAMConfig; resources go to tabby-store)`);
    }
  });
  const derived = derivedHandles(blocks);
  for (const h of handles) {
    const want = derived.get(h.value.handleId);
    if (!want || !sameCounts(want, h.value.block)) throw bad(h.index, `IPAMHandle ${h.value.handleId}`, 'its block counts are not what the blocks hold for it');
  }
  const named = new Set(handles.map((h) => h.value.handleId));
  const missing = [...derived.keys()].filter((h) => !named.has(h));
  if (handles.length > 0 && missing.length > 0) throw new ServiceError('invalid-argument', `the blocks hold addresses of handles with no IPAMHandle record: ${missing.slice(0, 5).join(', ')}`);
  const byCidr = new Map(blocks.map((b) => [b.cidr.canonical, b]));
  for (const a of affinities) {
    const b = byCidr.get(a.value.cidr);
    if (!b || b.node !== a.value.node) throw bad(a.index, `BlockAffinity ${a.value.node} ${a.value.cidr}`, 'no block of the import has this affinity');
  }
  return { blocks, config };
}

function rowOf(b: CheckedBlock): BlockRow {
  return {
    cidr: b.cidr.canonical,
    family: b.cidr.family,
    poolCidr: b.poolCidr,
    node: b.node,
    size: b.record.allocations.length,
    inUse: b.record.allocations.filter((a) => a >= 0).length,
  };
}

function free(buf: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i + 4 <= buf.length; i += 4) out.push(buf.readUInt32LE(i));
  return out;
}

interface SqliteBlockRow {
  cidr: string;
  family: number;
  pool_cidr: string;
  node: string | null;
  size: number;
  free_list: Buffer;
}

interface SqliteAllocationRow {
  ordinal: number;
  handle: string;
  attributes: string;
}

/**
 * tabby-ipam's side of `tabbyctl datastore`: Status, Export and Import of Calico's IPAM
 * records (blocks with their allocations and attributes, affinities, handles, config) and
 * the migration lock, over SQLite or etcd.
 */
export class IpamDatastore {
  private readonly lock: LockFlag;
  private readonly client: Etcd3 | undefined;

  constructor(private readonly opts: IpamDatastoreOptions) {
    if (opts.sqlite) {
      this.lock = new SqliteLock(opts.sqlite.db);
    } else if (opts.etcd) {
      this.client = new Etcd3(etcdClientOptions(opts.etcd));
      const lock = new EtcdFlagKey(this.client, IPAM_LOCK_KEY, opts.logger);
      lock.follow();
      this.lock = lock;
    } else throw new Error('the datastore service needs the SQLite database or the etcd connection');
  }

  /** True while IPAM changes are refused. */
  locked(): boolean {
    return this.lock.isSet();
  }

  private get endpoints(): string {
    return this.opts.etcd?.endpoints.join(',') ?? '';
  }

  async close(): Promise<void> {
    await this.lock.close();
    this.client?.close();
  }

  service(): AsyncServiceImplementation<DatastoreServer> {
    return {
      status: () => this.call('cannot read the datastore status', () => this.status()),
      export: async (call) => {
        for (const record of await this.call('cannot export', () => this.exportRecords())) call.write({ record });
      },
      import: (req) => this.importRecords(req.records, req.validateOnly),
      setLock: async (req) => {
        const wasLocked = await this.call('cannot set the datastore lock', () => this.lock.set(req.locked));
        this.opts.logger.warn({ locked: req.locked, wasLocked }, req.locked ? 'IPAM datastore locked for a migration: changes are refused' : 'IPAM datastore unlocked');
        return { wasLocked };
      },
    };
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ServiceError) throw err;
      throw new ServiceError('unavailable', `${what}: etcd at ${this.endpoints} is unavailable (${etcdErrorText(err)})`, { cause: err });
    }
  }

  // ---- status ----

  private async status(): Promise<DatastoreStatusResponse> {
    const s = this.opts.storage;
    const blocks = s.blocks();
    const allocations = blocks.reduce((n, b) => n + b.inUse, 0);
    const handles = new Set(s.allocations().map((a) => a.handle)).size;
    const counts = [
      { kind: 'IPAMBlock', count: blocks.length },
      { kind: 'BlockAffinity', count: blocks.filter((b) => b.node !== null).length },
      { kind: 'IPAMHandle', count: handles },
      { kind: 'Allocation', count: allocations },
    ];
    const base = { service: 'tabby-ipam', datastore: s.datastore, revision: s.blockRevision(), locked: this.lock.isSet(), counts, importPending: 0 };
    if (this.opts.sqlite) return { ...base, etcdRevision: 0, location: this.opts.sqlite.file, etcdClusterId: '', members: [] };
    const client = this.client as Etcd3;
    const [members, marker] = await Promise.all([etcdMembers(client), client.get(IPAM_IMPORT_KEY).string()]);
    const pending = marker === null ? 0 : ((JSON.parse(marker) as { written?: number }).written ?? 0);
    return { ...base, etcdRevision: members.revision, location: this.endpoints, etcdClusterId: members.clusterId, members: members.members, importPending: pending };
  }

  // ---- export ----

  private async exportRecords(): Promise<DatastoreRecord[]> {
    const blocks: IpamBlockRecord[] = [];
    let config: IpamConfigRecord = { strictAffinity: this.opts.config.strictAffinity, autoAllocateBlocks: true, maxBlocksPerHost: this.opts.config.maxBlocksPerHost };
    const sqlite = this.opts.sqlite;
    if (sqlite) {
      // One read transaction: every block and allocation at one moment.
      const read = sqlite.db.transaction(() => {
        const rows = sqlite.db.prepare<[], SqliteBlockRow>('SELECT cidr, family, pool_cidr, node, size, free_list FROM blocks ORDER BY cidr').all();
        const allocs = sqlite.db.prepare<[string], SqliteAllocationRow>('SELECT ordinal, handle, attributes FROM allocations WHERE block = ? ORDER BY ordinal');
        return rows.map((b) => ({ b, allocations: allocs.all(b.cidr) }));
      });
      for (const { b, allocations } of read()) {
        const block: CalicoBlock = {
          cidr: b.cidr,
          affinity: b.node === null ? null : `host:${b.node}`,
          strictAffinity: false,
          allocations: new Array<number | null>(b.size).fill(null),
          unallocated: free(b.free_list),
          attributes: [],
          deleted: false,
          sequenceNumber: 0,
          sequenceNumberForAllocation: {},
        };
        const index = new Map<string, number>();
        for (const a of allocations) {
          const key = `${a.handle}\n${a.attributes}`;
          let i = index.get(key);
          if (i === undefined) {
            i = block.attributes.length;
            index.set(key, i);
            block.attributes.push({ handle_id: a.handle, secondary: JSON.parse(a.attributes) as Record<string, string> });
          }
          block.allocations[a.ordinal] = i;
        }
        blocks.push(toBlockRecord(block, b.pool_cidr));
      }
    } else {
      const client = this.client as Etcd3;
      const prefix = Buffer.from(IPAM_PREFIX);
      const res = await client.kv.range({ key: prefix, range_end: Buffer.from(prefixEnd(IPAM_PREFIX)) });
      for (const kv of res.kvs) {
        const key = kv.key.toString('utf8');
        const text = kv.value.toString('utf8');
        if (key.startsWith(blockPrefix)) {
          const cidr = cidrOfKey(key);
          if (!cidr) continue;
          const pool = this.opts.view.pools().find((p) => cidrContains(p.cidr, cidr.address) && p.cidr.prefix <= cidr.prefix);
          blocks.push(toBlockRecord(parseBlock(key, text), pool?.cidr.canonical ?? ''));
        } else if (key === IPAM_CONFIG_KEY) {
          const c = JSON.parse(text) as CalicoIpamConfig;
          config = { strictAffinity: c.strict_affinity, autoAllocateBlocks: c.auto_allocate_blocks, maxBlocksPerHost: c.maxBlocksPerHost };
        }
      }
      blocks.sort((a, b) => (a.cidr < b.cidr ? -1 : a.cidr > b.cidr ? 1 : 0));
    }
    // Affinities and handles as the blocks imply them (what Calico keeps beside the blocks).
    const checked = blocks.map((r) => ({ record: r, cidr: parseCIDR(r.cidr) as ParsedCIDR, node: r.affinity === '' ? null : r.affinity.slice(5), poolCidr: r.poolCidr }));
    // The IPAMConfiguration in the store is what IPAM runs with; the etcd key and the flags only stand in for it.
    const live = this.opts.view.ipamConfig();
    if (live) config = { ...live };
    const out: DatastoreRecord[] = [{ record: { $case: 'ipamConfig', value: config } }];
    for (const b of blocks) out.push({ record: { $case: 'ipamBlock', value: b } });
    for (const b of checked) if (b.node !== null) out.push({ record: { $case: 'ipamAffinity', value: { node: b.node, cidr: b.record.cidr, state: 'confirmed' } } });
    const handles = [...derivedHandles(checked)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [handleId, block] of handles) out.push({ record: { $case: 'ipamHandle', value: { handleId, block } } });
    return out;
  }

  // ---- import ----

  private async importRecords(records: readonly DatastoreRecord[], validateOnly: boolean): Promise<{ imported: number; revision: number }> {
    const { blocks, config } = checkRecords(records, this.opts.view);
    if (validateOnly) return { imported: 0, revision: this.opts.storage.blockRevision() };
    let result: { revision: number };
    if (this.opts.sqlite) {
      result = this.importSqlite(blocks);
      await walSync(this.opts.sqlite.db).sync();
    } else {
      result = await this.importEtcd(blocks, config);
    }
    const changes: BlockChange[] = blocks.map((b, i) => ({ type: BlockEventType.BLOCK_EVENT_TYPE_CLAIMED, revision: result.revision - blocks.length + i + 1, block: rowOf(b) }));
    if (changes.length > 0) this.opts.onImported(changes);
    this.opts.logger.warn({ blocks: blocks.length, revision: result.revision }, 'IPAM datastore imported; it stays locked until tabbyctl datastore migrate unlock');
    return { imported: records.length, revision: result.revision };
  }

  private importSqlite(blocks: readonly CheckedBlock[]): { revision: number } {
    const sqlite = this.opts.sqlite as NonNullable<IpamDatastoreOptions['sqlite']>;
    const db = sqlite.db;
    const lock = this.lock as SqliteLock;
    const insertBlock = db.prepare<[string, number, string, string | null, number, number, Buffer]>(
      'INSERT INTO blocks (cidr, family, pool_cidr, node, size, in_use, free_list) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    const insertAllocation = db.prepare<[string, string, number, number, string, string, string, number]>(
      'INSERT INTO allocations (address, block, ordinal, family, handle, node, attributes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const run = db.transaction(() => {
      const n = db.prepare<[], { n: number }>('SELECT (SELECT count(*) FROM blocks) + (SELECT count(*) FROM allocations) AS n').get()?.n ?? 0;
      if (n > 0) throw new ServiceError('failed-precondition', `the SQLite file ${sqlite.file} already holds IPAM data (blocks or allocations): datastore migrate import writes only into an empty datastore`);
      for (const b of blocks) {
        const r = b.record;
        const freeList = Buffer.alloc(r.unallocated.length * 4);
        r.unallocated.forEach((o, i) => freeList.writeUInt32LE(o, i * 4));
        const inUse = r.allocations.filter((a) => a >= 0).length;
        insertBlock.run(b.cidr.canonical, b.cidr.family, b.poolCidr, b.node, r.allocations.length, inUse, freeList);
        r.allocations.forEach((a, ordinal) => {
          if (a < 0) return;
          const attr = r.attributes[a];
          const address = addressOfOrdinal(b.cidr, ordinal);
          const node = attr.secondary.node ?? b.node ?? '';
          insertAllocation.run(address, b.cidr.canonical, ordinal, b.cidr.family, attr.handleId, node, JSON.stringify(attr.secondary), Date.parse(attr.secondary.timestamp ?? '') || 0);
        });
      }
      const rev = db.prepare<[number], { value: number }>("UPDATE meta SET value = value + ? WHERE key = 'block_revision' RETURNING value").get(blocks.length)?.value ?? 0;
      lock.setNow(true);
      return rev;
    });
    return { revision: run.immediate() };
  }

  /**
   * Several transactions when large (etcd's --max-txn-ops): a marker key with the import's
   * digest goes first, with the lock, and is removed last, so the same import finishes an
   * interrupted one and anything else is refused.
   */
  private async importEtcd(blocks: readonly CheckedBlock[], config: IpamConfigRecord | undefined): Promise<{ revision: number }> {
    const client = this.client as Etcd3;
    const where = `etcd at ${this.endpoints}`;
    const entries: { key: string; value: string }[] = [];
    for (const b of blocks) entries.push({ key: blockKey(b.cidr), value: JSON.stringify(fromBlockRecord(b.record)) });
    for (const b of blocks) if (b.node !== null) entries.push({ key: affinityKey(b.node, b.cidr), value: JSON.stringify({ state: 'confirmed', deleted: false } satisfies CalicoAffinity) });
    for (const [handleID, block] of derivedHandles(blocks)) entries.push({ key: handleKey(handleID), value: JSON.stringify({ handleID, block, deleted: false } satisfies CalicoHandle) });
    const digest = createHash('sha256')
      .update(entries.map((e) => `${e.key}\n${e.value}\n`).join(''))
      .digest('hex');
    const total = entries.length;
    let written = 0;
    try {
      const [markerText, existing, revText] = await Promise.all([
        client.get(IPAM_IMPORT_KEY).string(),
        client.kv.range({ key: Buffer.from(IPAM_PREFIX), range_end: Buffer.from(prefixEnd(IPAM_PREFIX)) }),
        client.get(BLOCK_REVISION_KEY).string(),
      ]);
      const have = new Map(
        existing.kvs.map((kv) => [kv.key.toString('utf8'), kv.value.toString('utf8')] as const).filter(([k]) => k !== IPAM_CONFIG_KEY && k !== BLOCK_REVISION_KEY),
      );
      const byKey = new Map(entries.map((e) => [e.key, e.value]));
      if (markerText !== null) {
        const marker = JSON.parse(markerText) as { digest: string; total: number };
        if (marker.digest !== digest) throw new ServiceError('failed-precondition', `${where} holds an unfinished IPAM import of other data (${marker.total} keys): finish it with the same file, or empty the datastore`);
      } else if (have.size > 0) {
        throw new ServiceError('failed-precondition', `${where} already holds IPAM data (${have.size} keys under ${IPAM_PREFIX}): datastore migrate import writes only into an empty datastore`);
      }
      for (const [key, value] of have) {
        if (byKey.get(key) !== value) throw new ServiceError('failed-precondition', `${where} holds ${key}, which this import does not hold as it is: it is not the same import; empty the datastore first`);
      }
      const base = revText === null ? 0 : Number(revText);
      if (markerText === null) {
        const res = await client.kv.txn({
          compare: [{ key: Buffer.from(IPAM_IMPORT_KEY), target: 'Create', result: 'Equal', create_revision: 0 }],
          success: [
            { request_put: { key: Buffer.from(IPAM_IMPORT_KEY), value: Buffer.from(JSON.stringify({ digest, total, written: 0, base })) } },
            { request_put: { key: Buffer.from(IPAM_LOCK_KEY), value: Buffer.from('true') } },
          ],
          failure: [],
        });
        if (!res.succeeded) throw new ServiceError('aborted', `another IPAM import into ${where} started at the same time; nothing was written`);
      }
      written = have.size;
      const todo = entries.filter((e) => !have.has(e.key));
      for (let i = 0; i < todo.length; i += ETCD_CHUNK) {
        const chunk = todo.slice(i, i + ETCD_CHUNK);
        const res = await client.kv.txn({
          compare: chunk.map((e) => ({ key: Buffer.from(e.key), target: 'Create' as const, result: 'Equal' as const, create_revision: 0 })),
          success: [
            ...chunk.map((e) => ({ request_put: { key: Buffer.from(e.key), value: Buffer.from(e.value) } })),
            { request_put: { key: Buffer.from(IPAM_IMPORT_KEY), value: Buffer.from(JSON.stringify({ digest, total, written: written + chunk.length, base })) } },
          ],
          failure: [],
        });
        if (!res.succeeded) throw new ServiceError('aborted', `another writer changed IPAM in ${where} during the import (${written} of ${total} keys written): stop it, then run the same import again`);
        written += chunk.length;
      }
      const startRev = markerText === null ? base : ((JSON.parse(markerText) as { base?: number }).base ?? base);
      const revision = startRev + blocks.length;
      const finals = [
        { request_put: { key: Buffer.from(BLOCK_REVISION_KEY), value: Buffer.from(JSON.stringify(revision)) } },
        { request_delete_range: { key: Buffer.from(IPAM_IMPORT_KEY) } },
        { request_put: { key: Buffer.from(IPAM_LOCK_KEY), value: Buffer.from('true') } },
      ];
      if (config) {
        const c: CalicoIpamConfig = { strict_affinity: config.strictAffinity, auto_allocate_blocks: config.autoAllocateBlocks, maxBlocksPerHost: config.maxBlocksPerHost };
        finals.push({ request_put: { key: Buffer.from(IPAM_CONFIG_KEY), value: Buffer.from(JSON.stringify(c)) } });
      }
      await client.kv.txn({ compare: [], success: finals, failure: [] });
      return { revision };
    } catch (err) {
      if (err instanceof ServiceError) throw err;
      throw new ServiceError(
        'unavailable',
        `the IPAM import into ${where} stopped after ${written} of ${total} keys (${err instanceof Error ? err.message : String(err)}): the datastore holds part of it and stays locked; run the same import again to finish it`,
        { cause: err },
      );
    }
  }
}
