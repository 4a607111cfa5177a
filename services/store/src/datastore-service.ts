import { createHash } from 'node:crypto';
import { KINDS, decodeResource, formatFieldError, kindOf, metaOf, prepareResource, type KindInfo } from '@tabby/api';
import type { DatastoreRecord, DatastoreServer, DatastoreStatusResponse, EtcdMember, Resource } from '@tabby/proto';
import { ServiceError, type AsyncServiceImplementation, type Logger } from '@tabby/runtime';
import { EtcdFlagKey, etcdClientOptions, etcdMembers, type EtcdSettings } from '@tabby/etcd';
import { Etcd3 } from 'etcd3';
import type { StoreBackend } from './backend.js';
import { syncWal, type Db } from './database.js';
import { RESOURCE_PREFIX, decodeValue, encodeValue, guardKey, kindPrefix, parseKey, prefixEnd } from './etcd-layout.js';
import type { ResourceStore } from './resource-store.js';
import { kindNamed, sortedMap, type WriteOp } from './write-ops.js';

/** etcd key of the migration lock (present: writes are refused), beside the store's other bookkeeping. */
export const STORE_LOCK_KEY = '/tabby/store/v1/datastore-locked';
/** etcd key of an import in progress: its digest and size, so the same import can finish it. */
const STORE_IMPORT_KEY = '/tabby/store/v1/import';
/** Writes per etcd transaction (etcd refuses more than --max-txn-ops, 128 by default). */
const ETCD_CHUNK = 100;

export interface StoreDatastoreOptions {
  readonly backend: StoreBackend;
  /** The SQLite datastore: its connection, its store and its file. */
  readonly sqlite?: { readonly db: Db; readonly store: ResourceStore; readonly file: string };
  /** The etcd datastore: how to reach it. */
  readonly etcd?: EtcdSettings;
  readonly logger: Logger;
}

/** The refusal of a write while the datastore is locked. */
export function lockedError(): ServiceError {
  return new ServiceError(
    'failed-precondition',
    'the datastore is locked for a migration (tabbyctl datastore migrate lock, or an import): writes are refused until tabbyctl datastore migrate unlock',
  );
}

/** The migration lock: in the SQLite file, or an etcd key ({@link EtcdFlagKey}). */
interface LockFlag {
  isSet(): boolean;
  set(locked: boolean): Promise<boolean>;
  close(): Promise<void>;
}

/** The lock in the SQLite file's meta table (one store process owns the file, so it is read once and kept). */
class SqliteLock implements LockFlag {
  private value: boolean;
  private readonly write;
  constructor(private readonly db: Db) {
    this.value = (db.prepare<[], { value: number }>("SELECT value FROM meta WHERE key = 'datastore_locked'").get()?.value ?? 0) === 1;
    this.write = db.prepare<[number]>("INSERT INTO meta (key, value) VALUES ('datastore_locked', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  }
  isSet(): boolean {
    return this.value;
  }
  /** Sets the flag (inside a running transaction too: it is one statement on the same connection). */
  setNow(locked: boolean): boolean {
    const was = this.value;
    this.write.run(locked ? 1 : 0);
    this.value = locked;
    return was;
  }
  set(locked: boolean): Promise<boolean> {
    const was = this.setNow(locked);
    syncWal(this.db);
    return Promise.resolve(was);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** UNAVAILABLE naming the endpoints for what etcd failed with; our own errors stay themselves. */
function etcdFailure(endpoints: string, what: string, err: unknown): Error {
  if (err instanceof ServiceError) return err;
  return new ServiceError('unavailable', `${what}: etcd at ${endpoints} is unavailable (${err instanceof Error ? err.message : String(err)})`, { cause: err });
}

function kindOrder(k: KindInfo): number {
  return KINDS.indexOf(k);
}

/** Resources in export order: by kind (as KINDS lists them), namespace, name; resourceVersion cleared. */
function exportOrder(items: Resource[]): Resource[] {
  for (const r of items) metaOf(r).resourceVersion = '';
  const key = (r: Resource): [number, string, string] => [kindOrder(kindOf(r)), metaOf(r).namespace, metaOf(r).name];
  return items.sort((a, b) => {
    const [ka, na, a1] = key(a);
    const [kb, nb, b1] = key(b);
    return ka - kb || (na < nb ? -1 : na > nb ? 1 : 0) || (a1 < b1 ? -1 : a1 > b1 ? 1 : 0);
  });
}

/** A resource of an import, checked as a create would check it; uid, creationTimestamp and finalizers are kept. */
function importable(r: Resource | undefined, index: number): Resource {
  if (!r?.kind) throw new ServiceError('invalid-argument', `record ${index + 1}: not a resource (the store imports resources; IPAM records go to tabby-ipam)`);
  const copy = structuredClone(r);
  const m = metaOf(copy);
  m.resourceVersion = '';
  const prepared = prepareResource(copy, { op: 'create' });
  const id = `${kindOf(copy).kind} ${m.namespace ? `${m.namespace}/` : ''}${m.name}`;
  if (prepared.errors.length > 0) throw new ServiceError('invalid-argument', `record ${index + 1} (${id}): ${prepared.errors.map(formatFieldError).join('; ')}`);
  const out = prepared.resource;
  const om = metaOf(out);
  om.uid = m.uid;
  om.creationTimestamp = m.creationTimestamp;
  om.finalizers = [...m.finalizers];
  om.labels = sortedMap(om.labels);
  om.annotations = sortedMap(om.annotations);
  return out;
}

function resourceId(r: Resource): string {
  const m = metaOf(r);
  return `${kindOf(r).kind}|${m.namespace}|${m.name}`;
}

function countsText(counts: { kind: string; count: number }[]): string {
  return counts.map((c) => `${c.kind}: ${c.count}`).join(', ');
}

/**
 * tabby-store's side of `tabbyctl datastore`: Status, Export, Import and the migration lock,
 * over SQLite or etcd, plus {@link guard}, which refuses the store's writes while locked.
 */
export class StoreDatastore {
  private constructor(
    private readonly opts: StoreDatastoreOptions,
    private readonly lock: LockFlag,
    private readonly client: Etcd3 | undefined,
  ) {}

  static open(opts: StoreDatastoreOptions): StoreDatastore {
    if (opts.sqlite) return new StoreDatastore(opts, new SqliteLock(opts.sqlite.db), undefined);
    if (!opts.etcd) throw new Error('the datastore service needs the SQLite database or the etcd settings');
    const client = new Etcd3(etcdClientOptions(opts.etcd));
    const lock = new EtcdFlagKey(client, STORE_LOCK_KEY, opts.logger);
    lock.follow();
    return new StoreDatastore(opts, lock, client);
  }

  private get endpoints(): string {
    return this.opts.etcd?.endpoints.join(',') ?? '';
  }

  /** The backend with every write refused (FAILED_PRECONDITION) while the datastore is locked. */
  guard(b: StoreBackend): StoreBackend {
    const check = (): Promise<void> => (this.lock.isSet() ? Promise.reject(lockedError()) : Promise.resolve());
    return {
      datastore: b.datastore,
      create: async (input) => {
        await check();
        return b.create(input);
      },
      update: async (input) => {
        await check();
        return b.update(input);
      },
      apply: async (input) => {
        await check();
        return b.apply(input);
      },
      applyBatch: async (inputs) => {
        await check();
        return b.applyBatch(inputs);
      },
      delete: async (kind, namespace, name, rv, force) => {
        await check();
        return b.delete(kind, namespace, name, rv, force);
      },
      setFinalizer: async (kind, namespace, name, finalizer, present) => {
        await check();
        return b.setFinalizer(kind, namespace, name, finalizer, present);
      },
      get: (kind, namespace, name) => b.get(kind, namespace, name),
      list: (kind, namespace, selector) => b.list(kind, namespace, selector),
      info: () => b.info(),
      watch: (params, sink, signal) => b.watch(params, sink, signal),
      onCommit: (listener) => b.onCommit(listener),
      close: () => b.close(),
    };
  }

  /** True while writes are refused (migration lock). */
  locked(): boolean {
    return this.lock.isSet();
  }

  async close(): Promise<void> {
    await this.lock.close();
    this.client?.close();
  }

  /** The gRPC Datastore service. */
  service(): AsyncServiceImplementation<DatastoreServer> {
    return {
      status: () => this.status(),
      export: async (call) => {
        for (const r of await this.exportResources()) call.write({ record: { record: { $case: 'resource', value: r } } });
      },
      import: async (req) => this.importRecords(req.records, req.validateOnly),
      setLock: async (req) => {
        const wasLocked = await this.call('cannot set the datastore lock', () => this.lock.set(req.locked));
        this.opts.logger.warn({ locked: req.locked, wasLocked }, req.locked ? 'datastore locked for a migration: writes are refused' : 'datastore unlocked');
        return { wasLocked };
      },
    };
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw etcdFailure(this.endpoints, what, err);
    }
  }

  // ---- status ----

  private async counts(): Promise<{ kind: string; count: number }[]> {
    const sqlite = this.opts.sqlite;
    if (sqlite) {
      const rows = sqlite.db.prepare<[], { kind: string; n: number }>('SELECT kind, count(*) AS n FROM resources GROUP BY kind').all();
      return KINDS.map((k) => ({ kind: k.kind, count: rows.find((r) => r.kind === k.kind)?.n ?? 0 }));
    }
    const client = this.client as Etcd3;
    return Promise.all(
      KINDS.map(async (k) => {
        const prefix = Buffer.from(kindPrefix(k));
        const res = await client.kv.range({ key: prefix, range_end: prefixEnd(prefix), count_only: true });
        return { kind: k.kind, count: Number(res.count) };
      }),
    );
  }

  private async status(): Promise<DatastoreStatusResponse> {
    const b = this.opts.backend;
    const base = {
      service: 'tabby-store',
      datastore: b.datastore,
      locked: this.lock.isSet(),
      etcdRevision: 0,
      etcdClusterId: '',
      members: [] as EtcdMember[],
      importPending: 0,
    };
    if (this.opts.sqlite) {
      const { revision } = await b.info();
      return { ...base, revision, location: this.opts.sqlite.file, counts: await this.counts() };
    }
    return this.call('cannot read the datastore status', async () => {
      const client = this.client as Etcd3;
      const [{ revision }, members, counts, marker] = await Promise.all([b.info(), etcdMembers(client), this.counts(), client.get(STORE_IMPORT_KEY).string()]);
      const pending = marker === null ? 0 : ((JSON.parse(marker) as { written?: number }).written ?? 0);
      return { ...base, revision, etcdRevision: members.revision, location: this.endpoints, etcdClusterId: members.clusterId, members: members.members, counts, importPending: pending };
    });
  }

  // ---- export ----

  /** Every resource at one revision (SQLite: one read; etcd: one range), in export order. */
  private async exportResources(): Promise<Resource[]> {
    const sqlite = this.opts.sqlite;
    if (sqlite) {
      const rows = sqlite.db.prepare<[], { kind: string; data: Uint8Array }>('SELECT kind, data FROM resources').all();
      return exportOrder(rows.map((r) => decodeResource(kindNamed(r.kind), r.data)));
    }
    const client = this.client as Etcd3;
    const prefix = Buffer.from(RESOURCE_PREFIX);
    const res = await this.call('cannot export', () => client.kv.range({ key: prefix, range_end: prefixEnd(prefix) }));
    const out: Resource[] = [];
    for (const kv of res.kvs) {
      const key = kv.key.toString('utf8');
      if (!parseKey(key)) {
        this.opts.logger.warn({ key }, 'export: skipping a key of a kind Tabby does not know');
        continue;
      }
      out.push(decodeValue(key, kv.value, Number(kv.mod_revision)));
    }
    return exportOrder(out);
  }

  // ---- import ----

  private async importRecords(records: readonly DatastoreRecord[], validateOnly: boolean): Promise<{ imported: number; revision: number }> {
    const resources = records.map((rec, i) => importable(rec.record?.$case === 'resource' ? rec.record.value : undefined, i));
    const seen = new Map<string, number>();
    resources.forEach((r, i) => {
      const id = resourceId(r);
      const first = seen.get(id);
      if (first !== undefined) throw new ServiceError('invalid-argument', `record ${i + 1}: ${id.replace(/\|+/g, ' ')} appears twice (also record ${first + 1})`);
      seen.set(id, i);
    });
    if (validateOnly) return { imported: 0, revision: (await this.opts.backend.info()).revision };
    const result = this.opts.sqlite ? await this.importSqlite(resources) : await this.importEtcd(resources);
    this.opts.logger.warn({ imported: result.imported, revision: result.revision }, 'datastore imported; it stays locked until tabbyctl datastore migrate unlock');
    return result;
  }

  private async importSqlite(resources: readonly Resource[]): Promise<{ imported: number; revision: number }> {
    const sqlite = this.opts.sqlite as NonNullable<StoreDatastoreOptions['sqlite']>;
    const lock = this.lock as SqliteLock;
    const counts = await this.counts();
    if (counts.some((c) => c.count > 0)) throw notEmpty(`the SQLite file ${sqlite.file}`, counts);
    // One transaction: every resource, and the lock, or nothing.
    const op: WriteOp<number> = (tx) => {
      for (const r of resources) {
        const kind = kindOf(r);
        const m = metaOf(r);
        if (tx.read(kind, m.namespace, m.name)) throw notEmpty(`the SQLite file ${sqlite.file}`, [{ kind: kind.kind, count: 1 }]);
        tx.put(kind, structuredClone(r), undefined);
      }
      lock.setNow(true);
      return resources.length;
    };
    try {
      const imported = await sqlite.store.run(op);
      return { imported, revision: sqlite.store.revision };
    } finally {
      // A failed transaction rolled the lock row back: read the flag as the file has it.
      lock.setNow((sqlite.db.prepare<[], { value: number }>("SELECT value FROM meta WHERE key = 'datastore_locked'").get()?.value ?? 0) === 1);
    }
  }

  /**
   * etcd takes at most --max-txn-ops writes per transaction, so a large import is several
   * transactions. A marker key (with the import's digest) is written first, with the lock,
   * and removed last: an import that stopped half-way is finished by running the same
   * import again (what is in already is skipped); any other data is refused.
   */
  private async importEtcd(resources: readonly Resource[]): Promise<{ imported: number; revision: number }> {
    const client = this.client as Etcd3;
    const entries = resources.map((r) => {
      const m = metaOf(r);
      const kind = kindOf(r);
      return { key: `${kindPrefix(kind, kind.namespaced ? m.namespace : undefined)}${m.name}`, value: encodeValue(r), kind };
    });
    const digest = createHash('sha256')
      .update(entries.map((e) => `${e.key}\n${e.value}\n`).join(''))
      .digest('hex');
    const total = entries.length;
    const where = `etcd at ${this.endpoints}`;
    let written = 0;
    try {
      const prefix = Buffer.from(RESOURCE_PREFIX);
      const [markerText, existing] = await Promise.all([client.get(STORE_IMPORT_KEY).string(), client.kv.range({ key: prefix, range_end: prefixEnd(prefix) })]);
      const have = new Map(existing.kvs.map((kv) => [kv.key.toString('utf8'), kv.value.toString('utf8')]));
      if (markerText !== null) {
        const marker = JSON.parse(markerText) as { digest: string; total: number };
        if (marker.digest !== digest)
          throw new ServiceError('failed-precondition', `${where} holds an unfinished import of other data (${marker.total} resources): finish it with the same file, or empty the datastore`);
      } else if (have.size > 0) {
        const counts = await this.counts();
        throw notEmpty(where, counts);
      }
      const wanted = new Set(entries.map((e) => e.key));
      for (const [key, value] of have) {
        const e = entries.find((x) => x.key === key);
        if (!wanted.has(key) || e?.value !== value)
          throw new ServiceError('failed-precondition', `${where} holds ${key}, which this import does not hold as it is: it is not the same import; empty the datastore first`);
      }
      if (markerText === null) {
        const res = await client.kv.txn({
          compare: [{ key: Buffer.from(STORE_IMPORT_KEY), target: 'Create', result: 'Equal', create_revision: 0 }],
          success: [
            { request_put: { key: Buffer.from(STORE_IMPORT_KEY), value: Buffer.from(JSON.stringify({ digest, total, written: 0 })) } },
            { request_put: { key: Buffer.from(STORE_LOCK_KEY), value: Buffer.from('true') } },
          ],
          failure: [],
        });
        if (!res.succeeded) throw new ServiceError('aborted', `another import into ${where} started at the same time; nothing was written`);
      }
      written = have.size;
      const todo = entries.filter((e) => !have.has(e.key));
      for (let i = 0; i < todo.length; i += ETCD_CHUNK) {
        const chunk = todo.slice(i, i + ETCD_CHUNK);
        const res = await client.kv.txn({
          compare: chunk.map((e) => ({ key: Buffer.from(e.key), target: 'Create' as const, result: 'Equal' as const, create_revision: 0 })),
          success: [
            ...chunk.map((e) => ({ request_put: { key: Buffer.from(e.key), value: Buffer.from(e.value) } })),
            { request_put: { key: Buffer.from(STORE_IMPORT_KEY), value: Buffer.from(JSON.stringify({ digest, total, written: written + chunk.length })) } },
          ],
          failure: [],
        });
        if (!res.succeeded) throw new ServiceError('aborted', `another writer created resources in ${where} during the import (${written} of ${total} written): stop it, then run the same import again`);
        written += chunk.length;
      }
      const kinds = [...new Set(entries.map((e) => e.kind))];
      const done = await client.kv.txn({
        compare: [],
        success: [
          ...kinds.map((k) => ({ request_put: { key: Buffer.from(guardKey(k)), value: Buffer.alloc(0) } })),
          { request_delete_range: { key: Buffer.from(STORE_IMPORT_KEY) } },
          { request_put: { key: Buffer.from(STORE_LOCK_KEY), value: Buffer.from('true') } },
        ],
        failure: [],
      });
      return { imported: total, revision: Number(done.header.revision) };
    } catch (err) {
      if (err instanceof ServiceError) throw err;
      throw new ServiceError(
        'unavailable',
        `the import into ${where} stopped after ${written} of ${total} resources (${err instanceof Error ? err.message : String(err)}): the datastore holds part of it and stays locked; run the same import again to finish it`,
        { cause: err },
      );
    }
  }
}

function notEmpty(where: string, counts: readonly { kind: string; count: number }[]): ServiceError {
  return new ServiceError(
    'failed-precondition',
    `${where} already holds resources (${countsText(counts.filter((c) => c.count > 0))}): datastore migrate import writes only into an empty datastore`,
  );
}
