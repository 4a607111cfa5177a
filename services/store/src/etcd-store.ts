import { randomUUID } from 'node:crypto';
import { ResourceNotFoundError, crossResourceKinds, encodeResource, idOf, kindOf, metaOf, type KindInfo, type KindName } from '@tabby/api';
import { EventType, type ApplyBatchResult, type ReadFreshness, type Resource } from '@tabby/proto';
import { ServiceError, isReasonedError, type Logger } from '@tabby/runtime';
import type { Selector } from '@tabby/selector';
import { PrefixMirror, etcdClientOptions, etcdErrorText, type EtcdTls } from '@tabby/etcd';
import { Etcd3, type ICompare, type IOptions, type IRangeResponse, type IRequestOp, type ITxnResponse } from 'etcd3';
import type { StoreBackend } from './backend.js';
import { CLUSTER_GUID_KEY, RESOURCE_PREFIX, decodeValue, encodeValue, guardKey, kindPrefix, prefixEnd, resourceKey } from './etcd-layout.js';
import { runEtcdWatch } from './etcd-watch.js';
import type { CommitListener, StoredEvent } from './resource-store.js';
import type { StoreMetrics } from './store-metrics.js';
import type { WatchParams, WatchSink } from './watch.js';
import {
  batchResult,
  applyOp,
  createOp,
  deleteOp,
  finalizerNameError,
  kindNamed,
  setFinalizerOp,
  sortedMap,
  updateOp,
  type StoredObject,
  type Tx,
  type WriteOp,
} from './write-ops.js';

export interface EtcdStoreOptions {
  /** Client URLs of the etcd members, e.g. `http://127.0.0.1:2379`. */
  readonly endpoints: readonly string[];
  readonly tls?: EtcdTls;
  readonly logger: Logger;
  readonly metrics?: StoreMetrics;
  /** Deadline of one etcd call. */
  readonly callTimeoutMs?: number;
  /** Most times a write is run again after other replicas changed what it read. */
  readonly maxAttempts?: number;
  readonly now?: () => number;
}

/** An etcd failure as the client sees it: UNAVAILABLE, naming the endpoints. */
export function etcdUnavailable(endpoints: string, err: unknown, what: string): ServiceError {
  if (isReasonedError(err)) return err as ServiceError;
  const message = errorText(err);
  return new ServiceError('unavailable', `${what}: etcd at ${endpoints} is unavailable (${message}); retry when it is back`, { cause: err });
}

/** Thrown by a transaction read that the snapshot does not hold yet: fetch it, run the write again. */
class NeedRead extends Error {
  override readonly name = 'NeedRead';
  constructor(
    readonly keys: readonly string[],
    readonly kinds: readonly KindInfo[],
  ) {
    super('the write read something not fetched yet');
  }
}

/**
 * What a write attempt has read so far (each at some revision; the commit compares them). A
 * `guessed` object was not read from etcd for this write: it is this replica's last decoded
 * copy of the key, or "absent" for a key it has not seen (what a create expects). The commit's
 * compares check a guess as they check a read, so a write that commits on a guess is exactly
 * as safe; a write that would fail or change nothing on a guess reads the key first.
 */
class Snapshot {
  readonly objects = new Map<string, { modRevision: number; object: StoredObject | undefined; guessed: boolean }>();
  readonly kinds = new Map<KindName, { guardRevision: number; objects: Resource[] }>();

  /** The guessed keys `tx` read. */
  guessesRead(tx: EtcdTx): string[] {
    const out: string[] = [];
    for (const key of tx.readKeys.keys()) if (this.objects.get(key)?.guessed) out.push(key);
    return out;
  }
}

/** A signal that never aborts, for etcd3's fault-handling policies (one object, not one per call). */
const NEVER_ABORTED = new AbortController().signal;

interface PendingPut {
  readonly op: 'put';
  readonly key: string;
  readonly kind: KindInfo;
  readonly value: string;
  readonly resource: Resource;
  readonly previous: Uint8Array | undefined;
}

interface PendingDelete {
  readonly op: 'delete';
  readonly key: string;
  readonly kind: KindInfo;
  readonly namespace: string;
  readonly name: string;
  readonly previous: Uint8Array;
}

/** The transaction a write operation sees: reads come from the snapshot and are remembered as compares. */
class EtcdTx implements Tx {
  readonly readKeys = new Map<string, number>();
  readonly readKinds = new Map<KindInfo, number>();
  readonly writes: (PendingPut | PendingDelete)[] = [];

  constructor(private readonly snap: Snapshot) {}

  read(kind: KindInfo, namespace: string, name: string): StoredObject | undefined {
    const key = resourceKey(kind, namespace, name);
    const got = this.snap.objects.get(key);
    if (!got) throw new NeedRead([key], []);
    this.readKeys.set(key, got.modRevision);
    return got.object;
  }

  all(kind: KindInfo): Resource[] {
    const got = this.snap.kinds.get(kind.kind);
    if (!got) throw new NeedRead([], [kind]);
    this.readKinds.set(kind, got.guardRevision);
    return got.objects;
  }

  put(kind: KindInfo, resource: Resource, previous: Uint8Array | undefined): Resource {
    const m = metaOf(resource);
    m.labels = sortedMap(m.labels);
    m.annotations = sortedMap(m.annotations);
    // Set to the commit's revision once etcd has committed it.
    m.resourceVersion = '';
    this.writes.push({ op: 'put', key: resourceKey(kind, m.namespace, m.name), kind, value: encodeValue(resource), resource, previous });
    return resource;
  }

  remove(kind: KindInfo, namespace: string, name: string, previous: Uint8Array): void {
    this.writes.push({ op: 'delete', key: resourceKey(kind, namespace, name), kind, namespace, name, previous });
  }
}

type TxnResponses = ITxnResponse['responses'];

/** What a commit tells the write: committed at a revision, or what its compares saw instead. */
type CommitResult = { readonly committed: true; readonly revision: number } | { readonly committed: false; readonly reads: Snapshot; readonly changed: boolean };

/** Txns sent to etcd at once by one store; the writes that arrive meanwhile wait and share the next ones. */
const MAX_COMMITS_IN_FLIGHT = 2;
/** Times a write may fail for another write of its batch before it is sent alone. */
const MAX_TIMES_HELD = 3;
/** Most writes in one Txn, most compares or operations (etcd's --max-txn-ops is 128 by default), most value bytes (its request limit is 1.5 MiB). */
const MAX_BATCH = 64;
const MAX_TXN_OPS = 120;
const MAX_BATCH_BYTES = 512 * 1024;

/** A write waiting for its commit: its share of the Txn. */
interface Pending {
  readonly tx: EtcdTx;
  readonly compare: ICompare[];
  /** Reads of what `compare` checks, in the order failureReads takes them. */
  readonly failure: IRequestOp[];
  readonly success: IRequestOp[];
  /** The kinds it writes (their guard keys are put once per Txn). */
  readonly kinds: ReadonlySet<KindInfo>;
  /** Every key it compares or writes. */
  readonly keys: readonly string[];
  readonly bytes: number;
  /** False for a write that reads a kind whole, or was held up by others' compares too often: it goes in a Txn of its own. */
  readonly batchable: boolean;
  readonly resolve: (r: CommitResult) => void;
  readonly reject: (err: unknown) => void;
}

function pendingWrite(tx: EtcdTx, alone: boolean, resolve: (r: CommitResult) => void, reject: (err: unknown) => void): Pending {
  const compare: ICompare[] = [];
  const failure: IRequestOp[] = [];
  const keys: string[] = [];
  for (const [key, rev] of tx.readKeys) {
    const k = Buffer.from(key);
    compare.push({ key: k, target: 'Mod', result: 'Equal', mod_revision: rev });
    failure.push({ request_range: { key: k } });
    keys.push(key);
  }
  for (const [kind, rev] of tx.readKinds) {
    const guard = Buffer.from(guardKey(kind));
    const prefix = Buffer.from(kindPrefix(kind));
    compare.push({ key: guard, target: 'Mod', result: 'Equal', mod_revision: rev });
    failure.push({ request_range: { key: prefix, range_end: prefixEnd(prefix) } }, { request_range: { key: guard } });
  }
  const success: IRequestOp[] = [];
  const kinds = new Set<KindInfo>();
  let bytes = 0;
  for (const w of tx.writes) {
    kinds.add(w.kind);
    keys.push(w.key);
    if (w.op === 'put') {
      const value = Buffer.from(w.value);
      bytes += value.length + w.key.length;
      success.push({ request_put: { key: Buffer.from(w.key), value } });
    } else {
      bytes += w.key.length;
      success.push({ request_delete_range: { key: Buffer.from(w.key) } });
    }
  }
  return { tx, compare, failure, success, kinds, keys, bytes, batchable: !alone && tx.readKinds.size === 0, resolve, reject };
}

function stored(key: string, value: Buffer, modRevision: number): StoredObject {
  const resource = decodeValue(key, value, modRevision);
  return { resource, revision: modRevision, data: encodeResource(resource) };
}

function sortByNamespaceAndName(items: Resource[]): Resource[] {
  const keyOf = (r: Resource): [string, string] => {
    const m = metaOf(r);
    return [m.namespace, m.name];
  };
  return items.sort((a, b) => {
    const [an, aname] = keyOf(a);
    const [bn, bname] = keyOf(b);
    if (an !== bn) return an < bn ? -1 : 1;
    return aname < bname ? -1 : aname > bname ? 1 : 0;
  });
}

/**
 * The etcd v3 datastore: resources in Calico's key layout, `resourceVersion` the key's
 * mod revision, List at etcd's revision, Watch an etcd watch. Every write is one etcd
 * transaction that compares the mod revision of each key it read (and the guard key of
 * each kind it read whole), so several store replicas over one etcd keep every rule
 * without a lock; a write that lost a race is run again on fresh reads. Writes that arrive
 * together share a transaction (group commit), each with its own compares. A write is
 * acknowledged only after etcd committed it.
 */
export class EtcdStore implements StoreBackend {
  readonly datastore = 'etcd' as const;
  private readonly client: Etcd3;
  private readonly log: Logger;
  private readonly listeners = new Set<CommitListener>();
  private readonly endpointsText: string;
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private closed = false;
  private guid: string | undefined;
  /** Decoded values by key and mod revision: a List decodes only what changed. */
  private readonly decoded = new Map<string, StoredObject>();
  private readonly watches = new Set<AbortController>();
  /** Writes waiting for their commit, and the Txns in flight (see commit). */
  private readonly queue: Pending[] = [];
  private inFlight = 0;
  /**
   * Every resource as etcd last showed it (List, then Watch), for reads while etcd cannot be
   * reached: they answer from it, marked stale. Writes never use it.
   */
  private readonly mirror: PrefixMirror;
  private readonly now: () => number;
  /** When an etcd call last succeeded (epoch ms; 0: never). */
  private lastAnswerAt = 0;

  constructor(private readonly opts: EtcdStoreOptions) {
    if (opts.endpoints.length === 0) throw new ServiceError('invalid-argument', 'no etcd endpoints');
    this.log = opts.logger;
    this.endpointsText = opts.endpoints.join(',');
    this.timeoutMs = opts.callTimeoutMs ?? 5000;
    this.maxAttempts = opts.maxAttempts ?? 20;
    type Policy = NonNullable<NonNullable<IOptions['faultHandling']>['global']>;
    // No retries inside the client: a write that timed out may have been committed, so only
    // this class decides what is retried (reads; writes that never reached etcd; writes on
    // fresh reads after a lost compare). Each member gets a small circuit breaker that only
    // counts failures to reach it (not etcd's own errors during an election), so calls skip
    // a member that is down for a second at a time.
    const direct = {
      // async: a throwing fn becomes a rejection (etcd3's markFailed relies on that).
      execute: async <T>(fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T) => fn({ signal: NEVER_ABORTED }),
      onSuccess: () => ({ dispose: () => undefined }),
      onFailure: () => ({ dispose: () => undefined }),
    } as unknown as Policy;
    const timeout = this.timeoutMs;
    this.client = new Etcd3({
      ...etcdClientOptions({ endpoints: opts.endpoints, tls: opts.tls }, timeout),
      grpcOptions: { 'grpc.max_reconnect_backoff_ms': 1000, 'grpc.initial_reconnect_backoff_ms': 100 },
      faultHandling: { global: direct, host: () => memberBreaker() as unknown as Policy },
    });
    this.now = opts.now ?? Date.now;
    this.mirror = new PrefixMirror(this.client, RESOURCE_PREFIX, () => undefined, this.log, this.now);
    // In the background: the store starts (and serves linearizable reads) while etcd is down.
    this.mirror.follow();
  }

  /** Where this store keeps its data, for logs and messages. */
  get endpoints(): string {
    return this.endpointsText;
  }

  onCommit(listener: CommitListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- reads ----

  /**
   * A linearizable read of one object. When etcd cannot be reached the answer comes from the
   * mirror, marked stale; a key the mirror does not hold stays UNAVAILABLE (it may exist).
   */
  async get(kind: KindInfo, namespace: string, name: string): Promise<{ resource: Resource; freshness?: ReadFreshness }> {
    const key = resourceKey(kind, namespace, name);
    let res: IRangeResponse;
    try {
      res = await this.call(`cannot read ${idOf(kind, namespace, name)}`, () => this.client.kv.range({ key: Buffer.from(key) }));
    } catch (err) {
      const freshness = this.staleness(err);
      const e = this.mirror.entry(key);
      if (!freshness || !e) throw err;
      return { resource: this.decode(key, Buffer.from(e.value), Number(e.mod)).resource, freshness };
    }
    const kv = res.kvs[0];
    if (!kv) throw new ResourceNotFoundError(idOf(kind, namespace, name));
    return { resource: this.decode(key, kv.value, Number(kv.mod_revision)).resource };
  }

  /** A linearizable List at etcd's revision; from the mirror, marked stale, while etcd cannot be reached. */
  async list(kind: KindInfo, namespace: string | undefined, selector: Selector | undefined): Promise<{ items: Resource[]; revision: number; freshness?: ReadFreshness }> {
    const prefixText = kindPrefix(kind, namespace);
    const prefix = Buffer.from(prefixText);
    let objects: StoredObject[];
    let revision: number;
    let freshness: ReadFreshness | undefined;
    try {
      const res = await this.call(`cannot list ${kind.kind}`, () => this.client.kv.range({ key: prefix, range_end: prefixEnd(prefix) }));
      objects = this.decodeAll(res);
      revision = Number(res.header.revision);
      this.opts.metrics?.revision.set(revision);
    } catch (err) {
      freshness = this.staleness(err);
      if (!freshness) throw err;
      objects = this.mirror.entries(prefixText).map((e) => this.decode(e.key, Buffer.from(e.value), Number(e.mod)));
      revision = freshness.revision;
    }
    const items: Resource[] = [];
    for (const o of objects) if (!selector || selector.matches(metaOf(o.resource).labels)) items.push(o.resource);
    return { items: sortByNamespaceAndName(items), revision, ...(freshness ? { freshness } : {}) };
  }

  /**
   * How stale the mirror is, when a read failed because etcd is unavailable and the mirror
   * holds a listing; undefined when the read must fail instead (another error, shutting
   * down, nothing listed yet).
   */
  private staleness(err: unknown): ReadFreshness | undefined {
    if (this.closed || !this.mirror.listed || !isReasonedError(err) || err.reason !== 'unavailable') return undefined;
    const f = this.mirror.freshness();
    // A live watch but failing reads (e.g. etcd lost its quorum): current as of etcd's last answer.
    const knownAt = f.live && this.lastAnswerAt > 0 ? this.lastAnswerAt : f.currentAt;
    const cause = err instanceof Error && err.cause !== undefined ? errorText(err.cause) : errorText(err);
    return { stale: true, revision: Number(f.revision), ageMs: Math.max(0, this.now() - knownAt), reason: `etcd at ${this.endpointsText}: ${cause}` };
  }

  async info(): Promise<{ clusterGuid: string; revision: number }> {
    const key = Buffer.from(CLUSTER_GUID_KEY);
    if (this.guid === undefined) {
      // The first replica to ask makes it; the others read it (compare create_revision = 0).
      const res = await this.call('cannot read the cluster id', () =>
        this.client.kv.txn({
          compare: [{ key, target: 'Create', result: 'Equal', create_revision: 0 }],
          success: [{ request_put: { key, value: Buffer.from(randomUUID()) } }],
          failure: [{ request_range: { key } }],
        }),
      );
      if (!res.succeeded) this.guid = res.responses[0].response_range.kvs[0]?.value.toString('utf8');
      if (this.guid === undefined) {
        const again = await this.call('cannot read the cluster id', () => this.client.kv.range({ key }));
        this.guid = again.kvs[0]?.value.toString('utf8') ?? '';
      }
    }
    return { clusterGuid: this.guid, revision: await this.currentRevision() };
  }

  /** etcd's current revision (a linearizable read). */
  async currentRevision(): Promise<number> {
    const res = await this.call('cannot read the revision', () => this.client.kv.range({ key: Buffer.from(CLUSTER_GUID_KEY), count_only: true }));
    return Number(res.header.revision);
  }

  async watch(params: WatchParams, sink: WatchSink, signal: AbortSignal): Promise<void> {
    if (this.closed) throw new ServiceError('unavailable', 'the store is shutting down');
    const stop = new AbortController();
    const onAbort = (): void => stop.abort();
    signal.addEventListener('abort', onAbort);
    this.watches.add(stop);
    try {
      await runEtcdWatch(
        {
          client: this.client,
          endpoints: this.endpointsText,
          currentRevision: () => this.currentRevision(),
          decode: (key, value, rev) => this.decode(key, value, rev),
          logger: this.log,
        },
        params,
        sink,
        stop.signal,
      );
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.watches.delete(stop);
    }
  }

  // ---- writes ----

  create(input: Resource): Promise<Resource> {
    return this.write(createOp(input), input);
  }

  update(input: Resource): Promise<Resource> {
    return this.write(updateOp(input), input);
  }

  apply(input: Resource): Promise<{ resource: Resource; created: boolean }> {
    return this.write(applyOp(input), input);
  }

  /** One apply after the other: each may depend on the ones before it (a BGPFilter its BGPPeer names). */
  async applyBatch(inputs: readonly Resource[]): Promise<ApplyBatchResult[]> {
    const results: ApplyBatchResult[] = [];
    for (const input of inputs) results.push(batchResult(await this.apply(input).then((value) => ({ status: 'fulfilled', value }) as const, (reason: unknown) => ({ status: 'rejected', reason }) as const)));
    return results;
  }

  delete(kind: KindInfo, namespace: string, name: string, resourceVersion: string, force = false): Promise<{ resource: Resource; overridden: string[] }> {
    return this.write(deleteOp(kind, namespace, name, resourceVersion, force, this.log), undefined, [resourceKey(kind, namespace, name)]);
  }

  setFinalizer(kind: KindInfo, namespace: string, name: string, finalizer: string, present: boolean): Promise<{ resource: Resource; changed: boolean }> {
    const bad = finalizerNameError(finalizer);
    if (bad) return Promise.reject(bad);
    return this.write(setFinalizerOp(kind, namespace, name, finalizer, present), undefined, [resourceKey(kind, namespace, name)]);
  }

  /**
   * Runs a write as an optimistic etcd transaction: one Txn that compares every read and
   * applies the writes, its failure branch reading back what was compared. The object a write
   * names is guessed (this replica's decoded copy, or absent), so a create or an update of a
   * known object is one round trip; the kinds a rule reads whole are fetched first. When the
   * compares fail, the write runs again on what the failure branch read (a wrong guess is not
   * a lost race); ABORTED after `maxAttempts` lost races.
   */
  private async write<T>(op: WriteOp<T>, input: Resource | undefined, keys: string[] = []): Promise<T> {
    if (this.closed) throw new ServiceError('unavailable', 'the store is shutting down');
    const started = process.hrtime.bigint();
    let kinds: KindInfo[] = [];
    if (input?.kind) {
      const k = kindOf(input);
      const m = metaOf(input);
      keys = [resourceKey(k, m.namespace, m.name)];
      kinds = crossResourceKinds(input).map(kindNamed);
    }
    let snap = new Snapshot();
    for (const key of keys) this.guess(snap, key);
    // Fetch the kinds the operation's rules read whole (IPPool overlaps, a BGPPeer's filters).
    if (kinds.length > 0) await this.fetch(snap, [], kinds);
    let held = 0;
    for (let attempt = 1; ; ) {
      const { tx, value } = await this.run(op, snap);
      if (tx.writes.length === 0) return value;
      const res = await this.commit(tx, held >= MAX_TIMES_HELD);
      if (res.committed) {
        this.committed(tx, res.revision, started);
        return value;
      }
      const guessed = snap.guessesRead(tx).length > 0;
      snap = res.reads;
      // Another write of its batch failed a compare, not this one: send it again (after a
      // few such failures in a Txn of its own, so other writes cannot hold it up for ever).
      if (!res.changed) {
        held++;
        continue;
      }
      if (guessed) {
        this.log.debug({ keys: tx.writes.map((w) => w.key).join(', ') }, 'write guessed a value that had changed; running it again on what etcd holds');
        continue;
      }
      const what = tx.writes.map((w) => w.key).join(', ');
      if (attempt >= this.maxAttempts)
        throw new ServiceError(
          'aborted',
          `the write of ${what} lost ${attempt} race${attempt === 1 ? '' : 's'} in a row against other writers (another store replica changed what it read each time); nothing was written: retry`,
        );
      this.log.debug({ keys: what, attempt }, 'write conflicted with another writer; running it again on fresh reads');
      attempt++;
    }
  }

  /** Runs the operation on the snapshot, fetching what it reads that the snapshot lacks. */
  private async run<T>(op: WriteOp<T>, snap: Snapshot): Promise<{ tx: EtcdTx; value: T }> {
    for (;;) {
      const tx = new EtcdTx(snap);
      let value: T;
      try {
        value = op(tx);
      } catch (err) {
        if (err instanceof NeedRead) {
          await this.fetch(snap, err.keys, err.kinds);
          continue;
        }
        // An error must not rest on a guess: read the guessed keys and run it again.
        if (!(await this.readGuesses(snap, tx))) throw err;
        continue;
      }
      // Nor must an answer that no commit will confirm (nothing to write).
      if (tx.writes.length === 0 && (await this.readGuesses(snap, tx))) continue;
      return { tx, value };
    }
  }

  /** Replaces the guesses `tx` read by reads from etcd; false when it read none. */
  private async readGuesses(snap: Snapshot, tx: EtcdTx): Promise<boolean> {
    const guesses = snap.guessesRead(tx);
    if (guesses.length === 0) return false;
    for (const key of guesses) snap.objects.delete(key);
    await this.fetch(snap, guesses, []);
    return true;
  }

  /** Puts a guess of `key` into the snapshot: this replica's decoded copy, or absent. */
  private guess(snap: Snapshot, key: string): void {
    const hit = this.decoded.get(key);
    snap.objects.set(key, hit ? { modRevision: hit.revision, object: { ...hit, resource: structuredClone(hit.resource) }, guessed: true } : { modRevision: 0, object: undefined, guessed: true });
  }

  /**
   * The reads of a commit's failure branch for one write of the batch (from `responses[at]` on:
   * what its compares checked, at the revision they were evaluated): the next attempt's
   * snapshot, and whether any of the write's own compares failed.
   */
  private failureReads(w: Pending, responses: TxnResponses, at: number): { reads: Snapshot; changed: boolean } {
    const snap = new Snapshot();
    let changed = false;
    let i = at;
    for (const [key, compared] of w.tx.readKeys) {
      const kv = responses[i++].response_range.kvs[0];
      const rev = kv ? Number(kv.mod_revision) : 0;
      if (rev !== compared) changed = true;
      snap.objects.set(key, { modRevision: rev, object: kv ? this.decode(key, kv.value, rev) : undefined, guessed: false });
    }
    for (const [kind, compared] of w.tx.readKinds) {
      const range = responses[i++].response_range;
      const guard = responses[i++].response_range.kvs[0];
      const rev = guard ? Number(guard.mod_revision) : 0;
      if (rev !== compared) changed = true;
      snap.kinds.set(kind.kind, { guardRevision: rev, objects: this.decodeAll(range).map((o) => o.resource) });
    }
    return { reads: snap, changed };
  }

  /** Reads keys and whole kinds (each kind with its guard key) in one etcd transaction: one revision for all. */
  private async fetch(snap: Snapshot, keys: readonly string[], kinds: readonly KindInfo[]): Promise<void> {
    const wantKeys = keys.filter((k) => !snap.objects.has(k));
    const wantKinds = kinds.filter((k) => !snap.kinds.has(k.kind));
    if (wantKeys.length === 0 && wantKinds.length === 0) return;
    const ops: IRequestOp[] = wantKeys.map((k) => ({ request_range: { key: Buffer.from(k) } }));
    for (const k of wantKinds) {
      const prefix = Buffer.from(kindPrefix(k));
      ops.push({ request_range: { key: prefix, range_end: prefixEnd(prefix) } }, { request_range: { key: Buffer.from(guardKey(k)) } });
    }
    const res = await this.call('cannot read from etcd', () => this.client.kv.txn({ compare: [], success: ops, failure: [] }));
    wantKeys.forEach((key, i) => {
      const kv = res.responses[i].response_range.kvs[0];
      const rev = kv ? Number(kv.mod_revision) : 0;
      snap.objects.set(key, { modRevision: rev, object: kv ? this.decode(key, kv.value, rev) : undefined, guessed: false });
    });
    wantKinds.forEach((k, i) => {
      const range = res.responses[wantKeys.length + 2 * i].response_range;
      const guard = res.responses[wantKeys.length + 2 * i + 1].response_range.kvs[0];
      snap.kinds.set(k.kind, { guardRevision: guard ? Number(guard.mod_revision) : 0, objects: this.decodeAll(range).map((o) => o.resource) });
    });
  }

  /**
   * Commits a write: queued, and sent in one etcd Txn with the other writes queued meanwhile
   * (group commit: at most MAX_COMMITS_IN_FLIGHT Txns are in flight, so under load a Txn
   * carries many writes and each costs a fraction of a round trip). Writes of one batch touch
   * disjoint keys and read no kind whole (a write that does goes alone: its guard compare
   * must see the others' guard puts), so the batch commits exactly when each write's compares
   * hold; when any fails, each write learns from the failure branch whether its own did (one
   * whose own compares held is sent again; after MAX_TIMES_HELD times, in a Txn of its own).
   */
  private commit(tx: EtcdTx, alone: boolean): Promise<CommitResult> {
    if (this.closed) return Promise.reject(new ServiceError('unavailable', 'the store is shutting down'));
    return new Promise<CommitResult>((resolve, reject) => {
      this.queue.push(pendingWrite(tx, alone, resolve, reject));
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < MAX_COMMITS_IN_FLIGHT && this.queue.length > 0) {
      const batch = this.takeBatch();
      this.inFlight++;
      void this.send(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  /** The next batch: the oldest queued write, and the queued writes that may share its Txn. */
  private takeBatch(): Pending[] {
    const first = this.queue.shift();
    if (!first) return [];
    if (!first.batchable) return [first];
    const batch = [first];
    const keys = new Set(first.keys);
    let compares = first.compare.length;
    let ops = first.success.length + first.kinds.size;
    let bytes = first.bytes;
    for (let i = 0; i < this.queue.length && batch.length < MAX_BATCH; ) {
      const w = this.queue[i];
      const fits = compares + w.compare.length <= MAX_TXN_OPS && ops + w.success.length + w.kinds.size <= MAX_TXN_OPS && bytes + w.bytes <= MAX_BATCH_BYTES;
      if (!w.batchable || !fits || w.keys.some((k) => keys.has(k))) {
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      batch.push(w);
      for (const k of w.keys) keys.add(k);
      compares += w.compare.length;
      ops += w.success.length + w.kinds.size;
      bytes += w.bytes;
    }
    return batch;
  }

  /** Sends one batch as one Txn and settles each of its writes. */
  private async send(batch: Pending[]): Promise<void> {
    const compare: ICompare[] = [];
    const success: IRequestOp[] = [];
    const failure: IRequestOp[] = [];
    const kinds = new Set<KindInfo>();
    for (const w of batch) {
      compare.push(...w.compare);
      success.push(...w.success);
      failure.push(...w.failure);
      for (const k of w.kinds) kinds.add(k);
    }
    // Every write puts its kinds' guard keys (once per Txn: etcd refuses a key put twice in one Txn).
    for (const k of kinds) success.push({ request_put: { key: Buffer.from(guardKey(k)), value: Buffer.alloc(0) } });
    let res: ITxnResponse;
    try {
      res = await this.sendTxn({ compare, success, failure });
    } catch (err) {
      for (const w of batch) w.reject(this.writeFailed(err, w.tx.writes.map((x) => x.key).join(', ')));
      return;
    }
    const revision = Number(res.header.revision);
    let at = 0;
    for (const w of batch) {
      try {
        if (res.succeeded) w.resolve({ committed: true, revision });
        else w.resolve({ committed: false, ...this.failureReads(w, res.responses, at) });
      } catch (err) {
        w.reject(err);
      }
      at += w.failure.length;
    }
  }

  private async sendTxn(txn: { compare: ICompare[]; success: IRequestOp[]; failure: IRequestOp[] }): Promise<ITxnResponse> {
    for (let attempt = 1; ; attempt++) {
      if (this.closed) throw new ServiceError('unavailable', 'the store is shutting down');
      try {
        return await this.client.kv.txn(txn);
      } catch (err) {
        // A transaction that never left this process is safe to send to another member;
        // one that may have reached etcd is not (it may have been committed).
        if (neverSent(err) && attempt <= this.opts.endpoints.length) {
          this.log.debug({ err: errorText(err), attempt }, 'etcd member unreachable; sending the write to another');
          continue;
        }
        throw err;
      }
    }
  }

  /** What a write whose Txn failed is told: UNAVAILABLE, saying whether it may have been stored. */
  private writeFailed(err: unknown, keys: string): ServiceError {
    if (isReasonedError(err)) return err as ServiceError;
    if (neverSent(err)) return etcdUnavailable(this.endpointsText, err, `cannot write ${keys}`);
    return new ServiceError(
      'unavailable',
      `etcd at ${this.endpointsText} did not confirm the write of ${keys} (${errorText(err)}); it was not acknowledged and may or may not have been stored: read it back before retrying`,
      { cause: err },
    );
  }

  /** After etcd committed: the resources get their resourceVersion, listeners the events. */
  private committed(tx: EtcdTx, revision: number, started: bigint): void {
    const events: StoredEvent[] = [];
    for (const w of tx.writes) {
      if (w.op === 'put') {
        const m = metaOf(w.resource);
        m.resourceVersion = String(revision);
        const type = w.previous ? EventType.EVENT_TYPE_MODIFIED : EventType.EVENT_TYPE_ADDED;
        events.push({ type, revision, kind: w.kind, namespace: m.namespace, name: m.name, data: encodeResource(w.resource), previous: w.previous });
      } else {
        events.push({ type: EventType.EVENT_TYPE_DELETED, revision, kind: w.kind, namespace: w.namespace, name: w.name, data: w.previous, previous: w.previous });
      }
    }
    const m = this.opts.metrics;
    if (m) {
      m.commitSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
      m.revision.set(revision);
    }
    for (const l of this.listeners) {
      try {
        l(events);
      } catch (err) {
        this.log.error({ err }, 'commit listener failed');
      }
    }
  }

  private decode(key: string, value: Buffer, modRevision: number): StoredObject {
    const hit = this.decoded.get(key);
    if (hit && hit.revision === modRevision) return { ...hit, resource: structuredClone(hit.resource) };
    const o = stored(key, value, modRevision);
    if (this.decoded.size >= 200_000) this.decoded.clear();
    this.decoded.set(key, { ...o, resource: structuredClone(o.resource) });
    return o;
  }

  private decodeAll(res: IRangeResponse): StoredObject[] {
    return res.kvs.map((kv) => this.decode(kv.key.toString('utf8'), kv.value, Number(kv.mod_revision)));
  }

  /** A read (idempotent): tried on each member in turn before it fails with UNAVAILABLE. */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (this.closed) throw new ServiceError('unavailable', 'the store is shutting down');
      try {
        const value = await fn();
        this.lastAnswerAt = this.now();
        return value;
      } catch (err) {
        if (attempt > this.opts.endpoints.length) throw etcdUnavailable(this.endpointsText, err, what);
        this.log.debug({ err: errorText(err), attempt }, 'etcd read failed; trying again');
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  }

  /** Ends every watch, refuses new calls and closes the etcd connections. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    for (const w of this.queue.splice(0)) w.reject(new ServiceError('unavailable', 'the store is shutting down'));
    for (const w of this.watches) w.abort();
    this.listeners.clear();
    // Not awaited: cancelling its watch needs an answer from etcd, which may be gone.
    void this.mirror.close();
    this.client.close();
    return Promise.resolve();
  }
}

function errorText(err: unknown): string {
  if (err instanceof MemberUnreachableError) return 'no member could be reached';
  return etcdErrorText(err);
}

/** A member's circuit is open: the call was not sent to it. */
class MemberUnreachableError extends Error {
  override readonly name = 'MemberUnreachableError';
}

/**
 * etcd3's per-member policy: after two calls in a row that could not reach the member, calls
 * skip it (MemberUnreachableError, so etcd3 tries the next member) for one second.
 */
function memberBreaker(): { execute<T>(fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T): Promise<T>; onSuccess: () => { dispose(): void }; onFailure: () => { dispose(): void } } {
  let failures = 0;
  let openUntil = 0;
  return {
    execute: async (fn) => {
      if (Date.now() < openUntil) throw new MemberUnreachableError('this etcd member could not be reached just now');
      try {
        const value = await fn({ signal: NEVER_ABORTED });
        failures = 0;
        return value;
      } catch (err) {
        if (neverSent(err) && ++failures >= 2) openUntil = Date.now() + 1000;
        throw err;
      }
    },
    onSuccess: () => ({ dispose: () => undefined }),
    onFailure: () => ({ dispose: () => undefined }),
  };
}

/** True for failures that happen before a call is sent: no connection to the member, or its circuit breaker open. */
function neverSent(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return err instanceof MemberUnreachableError || /No connection established|ECONNREFUSED|connection refused|Failed to connect/i.test(err.message);
}
