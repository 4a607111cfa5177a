import { once } from 'node:events';
import { decodeResource, type KindInfo } from '@tabby/api';
import { EventType, type ResourceEvent, type WatchResponse } from '@tabby/proto';
import { ServiceError } from '@tabby/runtime';
import type { ResourceStore, StoredEvent } from './resource-store.js';

/** Where a watch stream writes (a grpc-js server stream in production). */
export interface WatchSink {
  /** Returns false when the transport buffer is full; wait for 'drain'. */
  write(message: WatchResponse): boolean;
  once(event: 'drain', listener: () => void): unknown;
  removeListener(event: 'drain', listener: () => void): unknown;
}

export interface WatchParams {
  readonly kind: KindInfo | undefined;
  /** Undefined: every namespace. */
  readonly namespace: string | undefined;
  /** Send changes after this revision; 0 = from now. */
  readonly fromRevision: number;
  /** With fromRevision 0: from the store's first change, not from now. */
  readonly fromZero?: boolean;
  readonly bookmarkIntervalMs: number;
  /** Most events held for a slow watcher before its stream is ended. */
  readonly maxQueued: number;
}

const PAGE = 500;

/** The Watch message of a stored event. */
export function toMessage(e: StoredEvent): WatchResponse {
  const event: ResourceEvent = {
    type: e.type,
    revision: e.revision,
    kind: e.kind.kind,
    object: decodeResource(e.kind, e.data),
    previous: e.previous ? decodeResource(e.kind, e.previous) : undefined,
  };
  return { event };
}

/** A sender that waits for the sink to drain when its buffer is full (or until `signal` aborts). */
export function sendWithBackpressure(sink: WatchSink, signal: AbortSignal): (message: WatchResponse) => Promise<void> {
  return async (message) => {
    if (sink.write(message)) return;
    const drained = once(sink as unknown as NodeJS.EventEmitter, 'drain', { signal });
    await drained.catch(() => undefined);
  };
}

/**
 * Streams every committed change after `fromRevision` that matches the filter, in
 * revision order, then follows live commits until `signal` aborts. Catch-up reads the
 * events table in pages while live commits queue up, so nothing is missed or repeated.
 * Idle streams get BOOKMARK events carrying the revision they are complete up to.
 */
export async function runWatch(store: ResourceStore, params: WatchParams, sink: WatchSink, signal: AbortSignal): Promise<void> {
  const start = params.fromRevision === 0 && !params.fromZero ? store.revision : params.fromRevision;
  const compactedError = (): ServiceError =>
    new ServiceError(
      'out-of-range',
      `revision ${start} has been compacted (the store keeps events after revision ${store.compactedRevision}); List again and watch from the revision the List returns`,
    );
  if (start < store.compactedRevision) throw compactedError();

  const matches = (e: StoredEvent): boolean =>
    (params.kind === undefined || e.kind === params.kind) && (params.namespace === undefined || e.namespace === params.namespace);

  const live: StoredEvent[] = [];
  let overflow = false;
  let wake: (() => void) | undefined;
  const registeredAt = store.revision;
  const unsubscribe = store.onCommit((events) => {
    for (const e of events) if (matches(e)) live.push(e);
    if (live.length > params.maxQueued) overflow = true;
    wake?.();
  });
  const onAbort = (): void => wake?.();
  signal.addEventListener('abort', onAbort);

  const send = sendWithBackpressure(sink, signal);

  try {
    let cursor = start;
    while (cursor < registeredAt && !signal.aborted) {
      const page = store.eventsBetween(cursor, registeredAt, params.kind, PAGE);
      if (cursor < store.compactedRevision) throw compactedError();
      if (page.length === 0) break;
      for (const e of page) if (matches(e)) await send(toMessage(e));
      cursor = page[page.length - 1].revision;
    }
    let lastSent = Math.max(start, registeredAt);
    while (!signal.aborted) {
      if (overflow)
        throw new ServiceError(
          'resource-exhausted',
          `the watcher fell more than ${params.maxQueued} events behind; List again and watch from the revision the List returns`,
        );
      const next = live.shift();
      if (next) {
        // Catch-up may already have sent it: reads see a commit before its fsync, and the
        // store tells listeners only after.
        if (next.revision <= lastSent) continue;
        await send(toMessage(next));
        lastSent = next.revision;
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
      if (timedOut && live.length === 0 && !signal.aborted) {
        // Every matching event up to the store's revision has been sent.
        lastSent = Math.max(lastSent, store.revision);
        await send({ event: { type: EventType.EVENT_TYPE_BOOKMARK, revision: lastSent, kind: params.kind?.kind ?? '', object: undefined, previous: undefined } });
      }
    }
  } finally {
    unsubscribe();
    signal.removeEventListener('abort', onAbort);
  }
}
