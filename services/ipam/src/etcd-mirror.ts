import { Backoff, sleep } from '@tabby/client';
import type { Etcd3, Watcher } from 'etcd3';
import type { Logger } from '@tabby/runtime';

/**
 * A copy of every key under one etcd prefix, kept by List then Watch from the listed revision
 * (re-listing after a watch error such as a compacted revision). Writes this process commits
 * are applied at their commit revision right away ({@link applyOwn}), so a reader sees its own
 * writes before the watch delivers them; an older value never replaces a newer one.
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

  constructor(
    private readonly client: Etcd3,
    private readonly prefix: string,
    private readonly onChange: (key: string, value: string | null) => void,
    private readonly logger: Logger,
  ) {}

  /** Lists the prefix and starts watching; rejects when etcd cannot be read. */
  async start(): Promise<void> {
    await this.list();
    await this.watch();
  }

  /** Revision up to which the copy is complete. */
  revision(): bigint {
    return this.watched;
  }

  get(key: string): string | undefined {
    return this.kv.get(key)?.value;
  }

  /** The value of a key with its mod revision, as far as this copy knows. */
  entry(key: string): { readonly value: string; readonly mod: bigint } | undefined {
    return this.kv.get(key);
  }

  /** Applies a committed write of this process (`value` null: deleted) at its commit revision. */
  applyOwn(key: string, value: string | null, revision: bigint): void {
    // The watch has already delivered this revision (or a later one): nothing to add.
    if (revision <= this.watched) return;
    this.apply(key, value, revision);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.watcher?.cancel().catch(() => undefined); // closing anyway
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
  }

  private async watch(): Promise<void> {
    const w = await this.client
      .watch()
      .prefix(this.prefix)
      .startRevision(String(this.watched + 1n))
      .create();
    this.watcher = w;
    w.on('data', (res) => {
      for (const ev of res.events) {
        const mod = BigInt(ev.kv.mod_revision);
        this.apply(ev.kv.key.toString(), ev.type === 'Delete' ? null : ev.kv.value.toString(), mod);
        // Events come in revision order (not the header's revision: it may run ahead of them).
        if (mod > this.watched) this.watched = mod;
      }
      for (const [key, rev] of this.tombs) if (rev <= this.watched) this.tombs.delete(key);
    });
    w.on('error', (err) => {
      this.logger.warn({ err: err.message, prefix: this.prefix }, 'etcd watch failed; listing again');
      void this.resync();
    });
  }

  private resync(): Promise<void> {
    this.resyncing ??= (async () => {
      await this.watcher?.cancel().catch(() => undefined); // replaced below
      this.watcher = undefined;
      const backoff = new Backoff();
      while (!this.closed) {
        try {
          await this.list();
          await this.watch();
          return;
        } catch (err) {
          this.logger.warn({ err: err instanceof Error ? err.message : String(err), prefix: this.prefix }, 'cannot list from etcd yet; retrying');
          await sleep(backoff.next());
        }
      }
    })().finally(() => {
      this.resyncing = undefined;
    });
    return this.resyncing;
  }
}
