import { status } from '@grpc/grpc-js';
import { kindOf, metaOf, type KindName } from '@tabby/api';
import { EventType, type ResourceStoreClient, type Resource, type WatchResponse } from '@tabby/proto';
import { callUnary, dialFailureHint, isGrpcError, type Logger } from '@tabby/runtime';
import { Backoff, sleep, type BackoffOptions } from './backoff.js';

export type FollowEventType = 'added' | 'modified' | 'deleted';

/** One change of a followed resource, as the follower's view moved. */
export interface FollowEvent {
  readonly type: FollowEventType;
  readonly kind: KindName;
  /** `namespace/name` (`name` for cluster-scoped kinds). */
  readonly key: string;
  readonly object: Resource;
  /** The object before the change (modified and deleted). */
  readonly previous?: Resource;
  /** Store revision of the change (for a resync, of the list it came from). */
  readonly revision: number;
}

/** Why a batch of events was delivered. */
export interface FollowBatchInfo {
  readonly kind: KindName;
  /** True when the batch is the difference found by re-listing after a gap or at start. */
  readonly resync: boolean;
}

export type FollowListener = (events: readonly FollowEvent[], info: FollowBatchInfo) => void;

export interface StoreFollowerOptions {
  readonly client: ResourceStoreClient;
  readonly kinds: readonly KindName[];
  readonly logger: Logger;
  /** First and largest pause between reconnect attempts (ms); shorthands for `backoff`. */
  readonly minRetryMs?: number;
  readonly maxRetryMs?: number;
  /** Pauses between reconnect attempts (exponential with jitter). */
  readonly backoff?: BackoffOptions;
  /** Bookmark interval asked of the store (s): how often an idle stream proves it is alive. */
  readonly bookmarkIntervalS?: number;
}

interface KindState {
  readonly objects: Map<string, Resource>;
  revision: number;
  listed: boolean;
  watching: boolean;
  stream: { cancel(): void } | undefined;
}

function keyOf(resource: Resource): string {
  const m = metaOf(resource);
  return m.namespace ? `${m.namespace}/${m.name}` : m.name;
}

function versionOf(resource: Resource): number {
  return Number(metaOf(resource).resourceVersion || 0);
}

/**
 * Keeps an in-memory copy of some kinds of the store, the way every Tabby service follows
 * it: List, then Watch from the listed revision; after a broken stream it re-watches from
 * the last revision it saw, and when that revision has been compacted (OUT_OF_RANGE) it
 * lists again and delivers the difference, so listeners converge after any gap. While the
 * store is unreachable the last view stays and reconnects continue with backoff.
 */
export class StoreFollower {
  private readonly state = new Map<KindName, KindState>();
  private readonly listeners = new Set<FollowListener>();
  private stopped = false;
  private readonly stopController = new AbortController();
  private readonly loops: Promise<void>[] = [];

  constructor(private readonly opts: StoreFollowerOptions) {
    for (const k of opts.kinds) this.state.set(k, { objects: new Map(), revision: 0, listed: false, watching: false, stream: undefined });
  }

  /** Calls `listener` with every batch of changes; returns a function that removes it. */
  onChange(listener: FollowListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Starts following. Resolves once every kind has been listed (retrying while the store is
   * unreachable); the initial lists are delivered to listeners as `added` resync batches.
   */
  async start(): Promise<void> {
    const firstLists: Promise<void>[] = [];
    for (const kind of this.opts.kinds) {
      let listed!: () => void;
      firstLists.push(new Promise<void>((resolve) => (listed = resolve)));
      this.loops.push(this.follow(kind, listed));
    }
    await Promise.all(firstLists);
  }

  /** True once every kind was listed, and while every watch stream is up. */
  get synced(): boolean {
    for (const s of this.state.values()) if (!s.listed || !s.watching) return false;
    return true;
  }

  /** Objects of a kind, sorted by key. */
  list(kind: KindName): Resource[] {
    const s = this.kindState(kind);
    return [...s.objects.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, r]) => r);
  }

  get(kind: KindName, namespace: string, name: string): Resource | undefined {
    return this.kindState(kind).objects.get(namespace ? `${namespace}/${name}` : name);
  }

  /** Highest store revision seen for a kind. */
  revision(kind: KindName): number {
    return this.kindState(kind).revision;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopController.abort();
    for (const s of this.state.values()) s.stream?.cancel();
    await Promise.allSettled(this.loops);
  }

  private kindState(kind: KindName): KindState {
    const s = this.state.get(kind);
    if (!s) throw new Error(`StoreFollower does not follow ${kind}`);
    return s;
  }

  private emit(events: FollowEvent[], info: FollowBatchInfo): void {
    if (events.length === 0) return;
    for (const l of this.listeners) {
      try {
        l(events, info);
      } catch (err) {
        this.opts.logger.error({ err, kind: info.kind }, 'follower listener failed');
      }
    }
  }

  /** The address the store client dials, for logs (`dns:` dropped). */
  private storeAddress(): string | undefined {
    const client = this.opts.client as Partial<Pick<ResourceStoreClient, 'getChannel'>>;
    return typeof client.getChannel === 'function' ? client.getChannel().getTarget().replace(/^dns:/, '') : undefined;
  }

  private async follow(kind: KindName, listed: () => void): Promise<void> {
    const s = this.kindState(kind);
    const log = this.opts.logger;
    const backoff = new Backoff({ initialMs: this.opts.minRetryMs, maxMs: this.opts.maxRetryMs, ...this.opts.backoff });
    let needList = true;
    let failures = 0;
    while (!this.stopped) {
      if (needList) {
        try {
          const res = await callUnary(this.opts.client.list.bind(this.opts.client), { kind, namespace: '', labelSelector: '' }, { timeoutMs: 30_000 });
          this.applySnapshot(kind, res.items, res.revision);
          if (!s.listed) {
            s.listed = true;
            listed();
          }
          needList = false;
          if (failures > 0) log.info({ kind, revision: res.revision }, 'store reachable again; re-listed');
          failures = 0;
        } catch (err) {
          failures++;
          if (failures === 1 || failures % 20 === 0) {
            const details = isGrpcError(err) ? err.details : String(err);
            log.warn({ kind, store: this.storeAddress(), err: details, hint: dialFailureHint(details), attempts: failures }, 'cannot list from the store; retrying');
          }
          await sleep(backoff.next(), this.stopController.signal);
          continue;
        }
      }
      const outcome = await this.watchOnce(kind, () => backoff.reset());
      if (this.stopped) break;
      if (outcome === 'compacted') {
        log.warn({ kind, revision: s.revision }, 'watch revision compacted by the store; re-listing');
        needList = true;
        continue;
      }
      await sleep(backoff.next(), this.stopController.signal);
    }
  }

  /** One Watch stream; resolves when it ends, saying whether the revision was compacted. */
  private watchOnce(kind: KindName, onData: () => void): Promise<'compacted' | 'broken'> {
    const s = this.kindState(kind);
    const log = this.opts.logger;
    // From exactly the listed revision, 0 included (fromZero): nothing between List and Watch is missed.
    return new Promise((resolve) => {
      const stream = this.opts.client.watch({ kind, namespace: '', fromRevision: s.revision, fromZero: true, bookmarkIntervalSeconds: this.opts.bookmarkIntervalS ?? 5 });
      s.stream = stream;
      let settled = false;
      const done = (outcome: 'compacted' | 'broken'): void => {
        if (settled) return;
        settled = true;
        s.watching = false;
        s.stream = undefined;
        resolve(outcome);
      };
      stream.on('data', (m: WatchResponse) => {
        if (!s.watching) {
          s.watching = true;
          log.debug({ kind, revision: s.revision }, 'watching');
        }
        onData();
        const ev = m.event;
        if (!ev) return;
        if (ev.type === EventType.EVENT_TYPE_BOOKMARK) {
          if (ev.revision > s.revision) s.revision = ev.revision;
        } else {
          this.applyEvent(kind, ev.type, ev.revision, ev.object, ev.previous);
        }
      });
      stream.on('error', (err: unknown) => {
        if (isGrpcError(err) && err.code === status.OUT_OF_RANGE) return done('compacted');
        if (!(isGrpcError(err) && err.code === status.CANCELLED && this.stopped))
          log.warn({ kind, err: isGrpcError(err) ? err.details : String(err) }, 'store watch broken; re-watching');
        done('broken');
      });
      stream.on('end', () => done('broken'));
    });
  }

  private applyEvent(kind: KindName, type: EventType, revision: number, object: Resource | undefined, previous: Resource | undefined): void {
    const s = this.kindState(kind);
    if (revision > s.revision) s.revision = revision;
    if (!object) return;
    if (kindOf(object).kind !== kind) return;
    const key = keyOf(object);
    const had = s.objects.get(key);
    if (type === EventType.EVENT_TYPE_DELETED) {
      if (!had || versionOf(had) > revision) return;
      s.objects.delete(key);
      this.emit([{ type: 'deleted', kind, key, object: had, previous: had, revision }], { kind, resync: false });
      return;
    }
    // Idempotent: a re-list may already have shown us this version or a later one.
    if (had && versionOf(had) >= versionOf(object)) return;
    s.objects.set(key, object);
    this.emit([{ type: had ? 'modified' : 'added', kind, key, object, previous: had ?? previous, revision }], { kind, resync: false });
  }

  private applySnapshot(kind: KindName, items: readonly Resource[], revision: number): void {
    const s = this.kindState(kind);
    const events: FollowEvent[] = [];
    const seen = new Set<string>();
    for (const object of items) {
      const key = keyOf(object);
      seen.add(key);
      const had = s.objects.get(key);
      // Never go back: a watch event may already have shown a later version.
      if (had && versionOf(had) >= versionOf(object)) continue;
      s.objects.set(key, object);
      events.push({ type: had ? 'modified' : 'added', kind, key, object, previous: had, revision });
    }
    for (const [key, had] of s.objects) {
      if (seen.has(key) || versionOf(had) > revision) continue;
      s.objects.delete(key);
      events.push({ type: 'deleted', kind, key, object: had, previous: had, revision });
    }
    if (revision > s.revision) s.revision = revision;
    this.emit(events, { kind, resync: true });
  }
}
