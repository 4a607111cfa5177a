import { encodeResource, wrap } from '@tabby/api';
import { EventType, type WatchResponse } from '@tabby/proto';
import { etcdErrorText } from '@tabby/etcd';
import { ServiceError, type Logger } from '@tabby/runtime';
import type { Etcd3, IDuplexStream, IWatchRequest, IWatchResponse } from 'etcd3';
import { RESOURCE_PREFIX, kindPrefix, parseKey, prefixEnd } from './etcd-layout.js';
import type { StoredEvent } from './resource-store.js';
import { sendWithBackpressure, toMessage, type WatchParams, type WatchSink } from './watch.js';
import type { StoredObject } from './write-ops.js';

/** What an etcd watch needs from the store. */
export interface EtcdWatchContext {
  readonly client: Etcd3;
  readonly endpoints: string;
  currentRevision(): Promise<number>;
  decode(key: string, value: Buffer, modRevision: number): StoredObject;
  readonly logger: Logger;
}

type Item = { events: StoredEvent[] } | { error: ServiceError };

/**
 * Streams the changes after `params.fromRevision` from an etcd watch (so every replica's
 * writes, and anyone else's in Calico's tree), in revision order, then live. A compacted
 * revision ends the stream with OUT_OF_RANGE (the client lists again); a lost etcd watch
 * ends it with UNAVAILABLE (the client watches again from the last revision it received):
 * never a silent gap. Idle streams get BOOKMARKs carrying the last revision sent (etcd 3.4
 * has no progress notification that is ordered with the events, so nothing later is claimed).
 */
export async function runEtcdWatch(ctx: EtcdWatchContext, params: WatchParams, sink: WatchSink, signal: AbortSignal): Promise<void> {
  const start = params.fromRevision === 0 && !params.fromZero ? await ctx.currentRevision() : params.fromRevision;
  const prefix = Buffer.from(params.kind ? kindPrefix(params.kind, params.namespace) : RESOURCE_PREFIX);
  const queue: Item[] = [];
  let queued = 0;
  let wake: (() => void) | undefined;
  const push = (item: Item): void => {
    queue.push(item);
    wake?.();
  };

  let stream: IDuplexStream<IWatchRequest, IWatchResponse>;
  try {
    stream = await ctx.client.watchClient.watch();
  } catch (err) {
    throw new ServiceError('unavailable', `cannot watch: etcd at ${ctx.endpoints} is unavailable (${etcdErrorText(err)}); retry when it is back`, { cause: err });
  }
  let ended = false;
  const lost = (why: string): void => {
    if (ended) return;
    ended = true;
    push({
      error: new ServiceError('unavailable', `lost the watch on etcd at ${ctx.endpoints} (${why}); watch again from the last revision you received`),
    });
  };
  stream.on('data', (res: IWatchResponse) => {
    if (ended) return;
    const compacted = Number(res.compact_revision ?? 0);
    if (compacted > 0) {
      ended = true;
      push({
        error: new ServiceError(
          'out-of-range',
          `revision ${start} has been compacted (etcd keeps the history from revision ${compacted}); List again and watch from the revision the List returns`,
        ),
      });
      return;
    }
    if (res.canceled) return lost(`etcd cancelled the watch: ${res.cancel_reason || 'no reason given'}`);
    const events: StoredEvent[] = [];
    for (const ev of res.events ?? []) {
      const key = ev.kv.key.toString('utf8');
      const at = parseKey(key);
      if (!at) continue; // a key of a kind Tabby does not keep (e.g. Calico's own FelixConfiguration)
      if (params.namespace !== undefined && at.namespace !== params.namespace) continue;
      const revision = Number(ev.kv.mod_revision);
      try {
        const previous = ev.prev_kv ? ctx.decode(key, ev.prev_kv.value, Number(ev.prev_kv.mod_revision)).data : undefined;
        if (ev.type === 'Delete') {
          // etcd gives the previous value of a delete; should it be gone, the key still says what was deleted.
          const gone = previous ?? encodeResource(wrap(at.kind, at.kind.fromPartial({ metadata: { name: at.name, namespace: at.namespace } })));
          events.push({ type: EventType.EVENT_TYPE_DELETED, revision, kind: at.kind, namespace: at.namespace, name: at.name, data: gone, previous: gone });
        } else {
          const data = ctx.decode(key, ev.kv.value, revision).data;
          const type = Number(ev.kv.version) === 1 || !previous ? EventType.EVENT_TYPE_ADDED : EventType.EVENT_TYPE_MODIFIED;
          events.push({ type, revision, kind: at.kind, namespace: at.namespace, name: at.name, data, previous: type === EventType.EVENT_TYPE_ADDED ? undefined : previous });
        }
      } catch (err) {
        // A value Tabby cannot read: end the stream with its reason rather than skip a change.
        ended = true;
        push({ error: err instanceof ServiceError ? err : new ServiceError('internal', String(err)) });
        return;
      }
    }
    if (events.length === 0) return;
    queued += events.length;
    if (queued > params.maxQueued) {
      ended = true;
      push({
        error: new ServiceError(
          'resource-exhausted',
          `the watcher fell more than ${params.maxQueued} events behind; List again and watch from the revision the List returns`,
        ),
      });
      return;
    }
    push({ events });
  });
  stream.on('error', (err: Error) => lost(etcdErrorText(err)));
  stream.on('end', () => lost('the stream ended'));
  stream.write({ create_request: { key: prefix, range_end: prefixEnd(prefix), start_revision: start + 1, prev_kv: true } });

  const onAbort = (): void => wake?.();
  signal.addEventListener('abort', onAbort);
  const send = sendWithBackpressure(sink, signal);
  let lastSent = start;
  try {
    while (!signal.aborted) {
      const item = queue.shift();
      if (item) {
        if ('error' in item) throw item.error;
        queued -= item.events.length;
        for (const e of item.events) {
          await send(toMessage(e));
          lastSent = e.revision;
        }
        continue;
      }
      const timedOut = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(true), params.bookmarkIntervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve(false);
        };
      });
      wake = undefined;
      if (timedOut && queue.length === 0 && !signal.aborted) {
        const bookmark: WatchResponse = { event: { type: EventType.EVENT_TYPE_BOOKMARK, revision: lastSent, kind: params.kind?.kind ?? '', object: undefined, previous: undefined } };
        await send(bookmark);
      }
    }
  } finally {
    ended = true;
    signal.removeEventListener('abort', onAbort);
    stream.cancel();
  }
}
