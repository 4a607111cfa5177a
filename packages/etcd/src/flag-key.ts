import type { Logger } from '@tabby/runtime';
import type { Etcd3, Watcher } from 'etcd3';

/**
 * A yes/no flag kept as the presence of one etcd key (e.g. a datastore's migration lock),
 * followed by a watch so that reading it costs no round trip: every process sharing the etcd
 * sees a change within the watch's latency (milliseconds). While etcd cannot be reached at
 * start it reads as unset and {@link follow} tries again every second.
 */
export class EtcdFlagKey {
  private value = false;
  private watcher: Watcher | undefined;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: Etcd3,
    private readonly key: string,
    private readonly log: Logger,
  ) {}

  /** Reads the key and follows it from that revision on; call once. */
  follow(): void {
    if (this.closed) return;
    this.start().catch((err: unknown) => {
      this.log.warn({ key: this.key, err: err instanceof Error ? err.message : String(err) }, 'cannot read the flag key from etcd yet; trying again');
      this.retry = setTimeout(() => this.follow(), 1000);
      this.retry.unref();
    });
  }

  private async start(): Promise<void> {
    const res = await this.client.kv.range({ key: Buffer.from(this.key) });
    this.value = res.kvs.length > 0;
    const w = await this.client
      .watch()
      .key(this.key)
      .startRevision(String(Number(res.header.revision) + 1))
      .create();
    w.on('put', () => (this.value = true));
    w.on('delete', () => (this.value = false));
    this.watcher = w;
    if (this.closed) await w.cancel();
  }

  /** The flag as last seen. */
  isSet(): boolean {
    return this.value;
  }

  /** Sets or clears the flag in etcd; resolves to whether it was set before. */
  async set(on: boolean): Promise<boolean> {
    const key = Buffer.from(this.key);
    let was: boolean;
    if (on) was = Boolean((await this.client.kv.put({ key, value: Buffer.from('true'), prev_kv: true })).prev_kv); // null when there was none
    else was = Number((await this.client.kv.deleteRange({ key })).deleted) > 0;
    this.value = on;
    return was;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    await this.watcher?.cancel().catch(() => undefined); // etcd may be gone: the client closes anyway
  }
}
