import { decodeResource } from '@tabby/api';
import { ResourceEvent } from '@tabby/proto';
import type { EventBus } from '@tabby/runtime';
import type { StoredEvent } from './resource-store.js';

/** NATS subject of a kind's resource events. */
export function resourceSubject(kind: string): string {
  return `tabby.v1.resources.${kind}`;
}

/**
 * Publishes each committed change as a protobuf ResourceEvent on
 * `tabby.v1.resources.<Kind>`. A notification only: consumers that miss one resync with
 * List + Watch from the store.
 */
export function publishEvents(bus: EventBus, events: readonly StoredEvent[]): void {
  for (const e of events) {
    const payload = ResourceEvent.encode({
      type: e.type,
      revision: e.revision,
      kind: e.kind.kind,
      object: decodeResource(e.kind, e.data),
      previous: e.previous ? decodeResource(e.kind, e.previous) : undefined,
    }).finish();
    bus.publish(resourceSubject(e.kind.kind), payload);
  }
}
