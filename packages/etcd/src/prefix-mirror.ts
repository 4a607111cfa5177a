import type { Logger } from '@tabby/runtime';
import type { Etcd3, Watcher } from 'etcd3';
import { etcdErrorText } from './error-text.js';

/**
 * How current a {@link PrefixMirror}'s copy is. `live`: its watch is connected, so the copy
 * follows etcd within the watch's latency. Otherwise the copy is what etcd held at
 * `revision`, known current at `currentAt` (the moment the watch broke, or the last moment
 * etcd answered it) and not since; `reason` is the error that broke the watch.
 */
export interface MirrorFreshness {
  readonly live: boolean;
  /** Revision up to which every change of the prefix has been applied (0: never listed). */
  readonly revision: bigint;
  /** Epoch milliseconds up to which the copy is known current (now, while live). */
  readonly currentAt: number;
  /** Why it is not live ('' while live). */
  readonly reason: string;
}

/** Pause before the next list attempt: 100 ms doubling to 2 s, with jitter (@tabby/client's Backoff would make a build cycle). */
function retryPause(failures: number): number {
  const base = Math.min(2_000, 100 * 2 ** Math.min(failures, 5));
  return base * (0.8 + 0.4 * Math.random());
}

/**
 * A copy of every key under one etcd prefix, kept by List then Watch from the listed revision
 * (re-listing after a watch error such as a compacted revision). Writes this process commits
 * are applied at their commit revision right away ({@link applyOwn}), so a reader sees its own
 * writes before the watch delivers them; an older value never replaces a newer one.
 *
 * It also knows how current it is ({@link freshness}): etcd3's watcher emits `disconnected`
 * when its stream fails (the member it watches was killed or cut off; it then reconnects by
 * itself, resuming after the last revision seen) and `connected` once the watch is created
 * again, so while etcd is out of reach the copy says since when and at which revision it
 * stopped following.
 */
export class PrefixMirror {
  private readonly kv = new Map<string, { value: string; mod: bigint }>();
  /** Revision at which each recently deleted key went, so a late older write is not revived. */
  private readonly tombs = new Map<string, bigint>();
  /** Every event up to this revision has been applied. */
  private watched = 0n;
  private watcher: Watcher | undefined;
  private closed = false;
  private resyncing: Promise<void> | undefined;
  private live = false;
  /** When the copy stopped being live (or this object was made, before the first list). */
  private brokeAt: number;
  private reason = 'not listed from etcd yet';

  constructor(
    private readonly client: Etcd3,
    private readonly prefix: string,
    private readonly onChange: (key: string, value: string | null) => void,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.brokeAt = now();
  }

  /** Lists the prefix and starts watching; rejects when etcd cannot be read. */
  async start(): Promise<void> {
    await this.list();
    await this.watch();
  }

  /**
   * Lists and watches in the background, retrying (with backoff) while etcd cannot be reached:
   * for a process that must start while etcd is down. {@link freshness} says when it is live.
   */
  follow(): void {
    void this.resync();
  }

  /** Revision up to which the copy is complete. */
  revision(): bigint {
    return this.watched;
  }

  /** Whether the watch is live, the revision the copy holds, and since when it is known current. */
  freshness(): MirrorFreshness {
    if (this.live) return { live: true, revision: this.watched, currentAt: this.now(), reason: '' };
    return { live: false, revision: this.watched, currentAt: this.brokeAt, reason: this.reason };
  }

  /** True once the prefix has been listed at least once (the copy holds something real). */
  get listed(): boolean {
    return this.watched > 0n;
  }

  get(key: string): string | undefined {
    return this.kv.get(key)?.value;
  }

  /** The value of a key with its mod revision, as far as this copy knows. */
  entry(key: string): { readonly value: string; readonly mod: bigint } | undefined {
    return this.kv.get(key);
  }

  /** Every key and value under `prefix` (a sub-prefix of this mirror's), sorted by key. */
  entries(prefix: string = this.prefix): { key: string; value: string; mod: bigint }[] {
    const out: { key: string; value: string; mod: bigint }[] = [];
    for (const [key, e] of this.kv) if (key.startsWith(prefix)) out.push({ key, value: e.value, mod: e.mod });
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Applies a committed write of this process (`value` null: deleted) at its commit revision. */
  applyOwn(key: string, value: string | null, revision: bigint): void {
    // The watch has already delivered this revision (or a later one): nothing to add.
    if (revision <= this.watched) return;
    this.apply(key, value, revision);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.goneStale('closed');
    await this.watcher?.cancel().catch(() => undefined); // closing anyway
  }

  private goneStale(reason: string): void {
    if (this.live) this.brokeAt = this.now();
    this.live = false;
    this.reason = reason;
  }

  private apply(key: string, value: string | null, mod: bigint): void {
    const cur = this.kv.get(key);
    if (cur && cur.mod >= mod) return;
    const tomb = this.tombs.get(key);
    if (tomb !== undefined && tomb >= mod) return;
    if (value === null) {
      if (!cur) return;
      this.kv.delete(key);
      this.tombs.set(key, mod);
    } else {
      this.kv.set(key, { value, mod });
      this.tombs.delete(key);
    }
    this.onChange(key, value);
  }

  private async list(): Promise<void> {
    const res = await this.client.getAll().prefix(this.prefix).exec();
    const revision = BigInt(res.header.revision);
    const seen = new Set<string>();
    for (const kv of res.kvs) {
      const key = kv.key.toString();
      seen.add(key);
      const cur = this.kv.get(key);
      const value = kv.value.toString();
      if (cur?.value === value) continue;
      this.kv.set(key, { value, mod: BigInt(kv.mod_revision) });
      this.onChange(key, value);
    }
    for (const [key, cur] of [...this.kv]) {
      if (seen.has(key) || cur.mod > revision) continue;
      this.kv.delete(key);
      this.onChange(key, null);
    }
    this.tombs.clear();
    this.watched = revision;
    // Current as of this answer, even before the watch is up.
    this.brokeAt = this.now();
  }

  private async watch(): Promise<void> {
    const w = await this.client
      .watch()
      .prefix(this.prefix)
      .startRevision(String(this.watched + 1n))
      .create();
    this.watcher = w;
    this.live = !this.closed;
    this.reason = '';
    w.on('data', (res) => {
      for (const ev of res.events) {
        const mod = BigInt(ev.kv.mod_revision);
        this.apply(ev.kv.key.toString(), ev.type === 'Delete' ? null : ev.kv.value.toString(), mod);
        // Events come in revision order (not the header's revision: it may run ahead of them).
        if (mod > this.watched) this.watched = mod;
      }
      for (const [key, rev] of this.tombs) if (rev <= this.watched) this.tombs.delete(key);
    });
    // The stream failed (etcd3 reconnects by itself and resumes after the last revision seen).
    w.on('disconnected', (err: unknown) => {
      if (this.live) this.logger.warn({ err: etcdErrorText(err), prefix: this.prefix, revision: String(this.watched) }, 'etcd watch disconnected; serving the last copy until it is back');
      this.goneStale(etcdErrorText(err));
    });
    w.on('connected', () => {
      if (this.watcher !== w || this.closed) return;
      if (!this.live) this.logger.info({ prefix: this.prefix, revision: String(this.watched) }, 'etcd watch connected again');
      this.live = true;
      this.reason = '';
    });
    w.on('error', (err) => {
      this.goneStale(etcdErrorText(err));
      this.logger.warn({ err: err.message, prefix: this.prefix }, 'etcd watch failed; listing again');
      void this.resync();
    });
  }

  private resync(): Promise<void> {
    this.resyncing ??= (async () => {
      const old = this.watcher;
      this.watcher = undefined;
      await old?.cancel().catch(() => undefined); // replaced below
      let failures = 0;
      while (!this.closed) {
        try {
          await this.list();
          await this.watch();
          return;
        } catch (err) {
          this.goneStale(etcdErrorText(err));
          this.logger.warn({ err: etcdErrorText(err), prefix: this.prefix }, 'cannot list from etcd yet; retrying');
          await new Promise((resolve) => setTimeout(resolve, retryPause(failures++)));
        }
      }
    })().finally(() => {
      this.resyncing = undefined;
    });
    return this.resyncing;
  }
}
